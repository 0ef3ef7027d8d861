"""Handle one LINE webhook event (from the inbox, bot/line/inbox.py): triggers send the invoice
card and open the photo window; photos in the window are downloaded, kept, decoded, registered
and verified at once. Every answer is an outbox row written in the transaction that marks the
event done (and, for a photo, registers the upload), so handling an event again never repeats
an upload or a message; the outbox replies while the event's reply token is fresh, else pushes.
State-store changes are applied after that commit: an event handled again finds the same state."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from linebot.v3.webhooks import (
    FollowEvent,
    ImageMessageContent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import CONFIG, DATABASE, EVENT_ISOLATION, METRICS, PHOTO_STORE, STATE_STORAGE
from bot.chat import answers, liff_answers
from bot.chat.channels import DEFAULT_CHANNEL
from bot.chat.display_names import DISPLAY_NAMES, Unnamed
from bot.chat.facts import (
    CardFacts,
    KnownCustomer,
    campaign_card_facts,
    card_facts,
    known_customer,
    known_customers,
)
from bot.chat.intake import customer_for, register
from bot.chat.results import PHOTO_ANSWER_KIND
from bot.chat.speakers import speaker_for
from bot.line.flex import CardCampaign, channel_card_json, invoice_card_json
from bot.line import inbox
from bot.line.messaging import ContentTooLarge, LineApiError
from bot.line.outbox import MESSAGING_POOL, OUTBOX_SENDER, drop_pushes_to, enqueue_push, enqueue_pushes, push_row
from bot.line.webhook import LineChannel
from bot.log import pseudonym
from bot.photo_decoding import MIB, PhotoDecoder
from bot.photo_store import PHOTOS, PhotoStoreError
from bot.review.photos import photo_hash
from bot.state.base import Change, StorageKey
from bot.storage.database import dialect_insert
from bot.storage.models import Campaign, Channel, Customer, Trigger, utcnow
from bot.verification import jobs
from bot.verification.worker import VERIFICATION_WORKER
from flows.conversation import machine
from flows.conversation.availability import CampaignFacts, ChannelFacts, campaign_availability
from flows.conversation.delivery import MAX_MESSAGES_PER_REQUEST, DeliveryKind, ReplyToken
from flows.conversation.triggers import (
    ModuleInput,
    PostbackInput,
    TextInput,
    TriggerInput,
    TriggerKind,
    match_trigger,
)
from flows.conversation.triggers import Trigger as DomainTrigger
from flows.einvoice.model import InvoiceSource
from flows.einvoice.photo import PhotoResult
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind

log = logging.getLogger(__name__)
PHOTO_ANSWER_HOLD = dt.timedelta(seconds=30)  # longer than a first MOF attempt (2 calls, 10 s timeouts)
TRIGGERS_TTL_S = 5.0
# A postback with this data prefix runs a bot module (buttons and rich-menu areas start modules).
MODULE_POSTBACK_PREFIX = "module="  # a trigger added with the CLI takes effect within this many seconds


class ChatHandler:
    """The `handle(event, channel)` the webhook dispatcher calls, one event at a time per user."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._decoder = PhotoDecoder(app[CONFIG].decode_memory_mb * MIB)
        self._default_channel: int | None = None
        self._triggers: dict[int, tuple[float, list[DomainTrigger]]] = {}

    @property
    def _sandbox_base(self) -> str | None:
        config = self.app[CONFIG]
        return config.base_url if config.sandbox else None

    async def __call__(self, event: Any, channel: LineChannel) -> None:
        source = getattr(event, "source", None)
        if not isinstance(source, UserSource) or not source.user_id:
            return  # groups and rooms are not part of this product
        channel_id = channel.db_id or await self._default_channel_id()
        user_id = source.user_id
        now = utcnow()
        reply = _reply_token(event, now)
        said = _said(event)
        if isinstance(said, TextInput):
            if reply is not None and liff_answers.may_release_held(said.text) and await liff_answers.answer_held(
                    self.app[DATABASE], channel_id=channel_id, user_id=user_id, text=said.text,  # a LIFF page's 發票資訊
                    reply_token=reply.token, event_at=reply.received_at, now=now,
                    hash_key=liff_answers.text_key(self.app[CONFIG])):
                self._wake_outbox()
                return
        if said is not None:
            await self._trigger(channel_id, user_id, said, reply, now)
        elif isinstance(event, MessageEvent) and isinstance(event.message, ImageMessageContent):
            await self._image(channel_id, user_id, event, reply, now)
        elif isinstance(event, UnfollowEvent):
            await self._follow(channel_id, user_id, blocked_at=now)
        elif isinstance(event, FollowEvent):
            await self._follow(channel_id, user_id, blocked_at=None)

    async def handle_batch(self, items: list[inbox.Claimed]) -> list[inbox.Claimed]:
        """The events of one inbox claim that ask for the invoice card, or need no answer at
        all, handled together: one state-store round trip each way and one transaction for
        every customer row, card (outbox row) and completion. Everything else is given back to
        be handled one by one (`__call__`): photos, follows, a LIFF page's texts, an answer
        other than the card (活動尚未開始 …), a user whose lock is held elsewhere. The inbox
        claims one event per user at a time, so a batch's users are distinct."""
        now = utcnow()
        quiet: list[inbox.Claimed] = []  # nothing to answer: only marked done
        asks: list[_CardAsk] = []
        left: list[inbox.Claimed] = []
        for item in items:
            ask = await self._card_ask(item, now)
            if isinstance(ask, _CardAsk):
                asks.append(ask)
            else:
                (quiet if ask else left).append(item)
        async with self.app[EVENT_ISOLATION].lock_free([a.item.key for a in asks]) as locked:
            left += [a.item for a in asks if a.item.key not in locked]
            asks = [a for a in asks if a.item.key in locked]
            if not asks and not quiet:
                return left
            keys = [self._key(a.channel_id, a.user_id) for a in asks]
            states = await self.app[STATE_STORAGE].get_many(keys)
            cards: list[tuple[_CardAsk, dict[str, Any], machine.SendCard]] = []  # (ask, card JSON, action)
            changes: list[tuple[StorageKey, machine.StoreChange]] = []
            async with self.app[DATABASE].session() as session, session.begin():
                facts_of: dict[tuple[int, int], CardFacts | None] = {}
                for ask, key, (state, data) in zip(asks, keys, states):
                    pair = (ask.channel_id, ask.campaign_id)
                    if pair not in facts_of:
                        facts_of[pair] = await campaign_card_facts(session, *pair)
                    facts = facts_of[pair]
                    if facts is None:  # the channel row is missing: one-by-one handling reports it
                        left.append(ask.item)
                        continue
                    transition = machine.handle(state, data, machine.CardRequested(
                        str(ask.campaign_id), str(ask.channel_id),
                        facts.availability(now, sandbox=self._sandbox_base is not None), ask.reply), now)
                    action = transition.actions[0] if len(transition.actions) == 1 else None
                    if not isinstance(action, machine.SendCard) or facts.card is None:
                        left.append(ask.item)  # another answer: the general path sends it
                        continue
                    card = channel_card_json(facts.card, liff_id=facts.liff_id, sandbox_base_url=self._sandbox_base)
                    cards.append((ask, card, action))
                    changes.append((key, transition.store))
                customers = await self._customers_of(session, [(a.channel_id, a.user_id) for a, _, _ in cards])
                await enqueue_pushes(session, [push_row(
                    channel_id=ask.channel_id, to=ask.user_id, customer_id=customers[ask.channel_id, ask.user_id].id,
                    messages=[card], kind="card", dedupe_key=inbox.answer_key(ask.item.held, 1), now=now,
                    reply_token=action.answer_via.token if action.answer_via else None,
                    event_at=action.answer_via.received_at if action.answer_via else None,
                ) for ask, card, action in cards])
                stored = [_stored(key, change) for key, change in changes if not isinstance(change, machine.Keep)]
                await self.app[STATE_STORAGE].stage(session, stored)
                await inbox.complete_many(session, [item.held for item in quiet] + [a.item.held for a, _, _ in cards])
            await self.app[STATE_STORAGE].publish(stored)
        if cards:
            self._wake_outbox()
        for ask, _, _ in cards:
            customer = customers[ask.channel_id, ask.user_id]
            if customer.display_name is None:  # for exports; the card never waits on it
                self.app[DISPLAY_NAMES].note(Unnamed(customer.id, ask.channel_id, customer.line_user_id))
        return left

    async def _card_ask(self, item: inbox.Claimed, now: dt.datetime) -> _CardAsk | bool:
        """A card request to batch; True for an event that needs no answer; False for one to
        handle one by one."""
        event = item.event
        source = getattr(event, "source", None)
        if not isinstance(source, UserSource) or not source.user_id:
            return True
        said = _said(event)
        if said is None:
            return not isinstance(event, (FollowEvent, UnfollowEvent)) and not (
                isinstance(event, MessageEvent) and isinstance(event.message, ImageMessageContent))
        if isinstance(said, TextInput) and liff_answers.may_release_held(said.text):
            return False  # perhaps a LIFF page's 發票資訊 releasing a held answer
        channel_id = item.channel.db_id or await self._default_channel_id()
        campaign_id = match_trigger(said, await self._channel_triggers(channel_id))
        if campaign_id is None:
            return True  # not ours: other auto-replies of the account may answer it
        return _CardAsk(item, channel_id, source.user_id, int(campaign_id), _reply_token(event, now))

    async def _customers_of(self, session: AsyncSession, users: list[tuple[int, str]]) -> dict[tuple[int, str], KnownCustomer]:
        """The customer rows of (channel, user) pairs, those missing made, per channel."""
        found: dict[tuple[int, str], KnownCustomer] = {}
        for channel_id in sorted({c for c, _ in users}):
            known = await known_customers(session, channel_id, [u for c, u in users if c == channel_id])
            found.update(((channel_id, u), customer) for u, customer in known.items())
        return found

    # --- plumbing ---------------------------------------------------------------------

    async def _default_channel_id(self) -> int:
        if self._default_channel is None:  # made at start-up, never changes while we run
            async with self.app[DATABASE].session() as session:
                found = await session.scalar(select(Channel.id).where(Channel.name == DEFAULT_CHANNEL))
            if found is None:
                raise RuntimeError("the default channel row is missing (bot.chat.channels.channel_ctx)")
            self._default_channel = found
        return self._default_channel

    async def _channel_triggers(self, channel_id: int) -> list[DomainTrigger]:
        """The channel's triggers, re-read at most every TRIGGERS_TTL_S: most texts users send
        trigger nothing, and must not cost a query each."""
        cached = self._triggers.get(channel_id)
        if cached is not None and time.monotonic() - cached[0] < TRIGGERS_TTL_S:
            return cached[1]
        async with self.app[DATABASE].session() as session:
            rows = (await session.scalars(select(Trigger).where(Trigger.channel_id == channel_id))).all()
        triggers = [DomainTrigger(TriggerKind(r.kind), r.value, str(r.campaign_id)) for r in rows]
        self._triggers[channel_id] = (time.monotonic(), triggers)
        return triggers

    def _key(self, channel_id: int, user_id: str) -> StorageKey:
        return StorageKey(str(channel_id), user_id)

    async def _apply(self, key: StorageKey, change: machine.StoreChange) -> None:
        if not isinstance(change, machine.Keep):
            await self.app[STATE_STORAGE].set_state_and_data(*_stored(key, change))

    async def _customer(self, channel_id: int, user_id: str) -> Customer:
        """The user's customer row, made on first sight; a missing display name is fetched from
        LINE between two short transactions (no transaction waits on the network)."""
        db = self.app[DATABASE]
        async with db.session() as session, session.begin():
            customer = await customer_for(session, channel_id, user_id)
        if customer.display_name is not None:
            return customer
        try:
            line = await self.app[MESSAGING_POOL](channel_id)
            name = (await line.get_profile(user_id)).display_name
        except LineApiError:
            return customer  # the name is a nicety for exports; the upload must not wait on it
        async with db.session() as session, session.begin():
            await session.execute(update(Customer).where(Customer.id == customer.id,
                                                         Customer.display_name.is_(None))
                                  .values(display_name=name))
        customer.display_name = name
        return customer

    async def _deliver(self, channel_id: int, customer: Customer, messages: list[dict[str, Any]],
                       reply: ReplyToken | None, kind: str, upload_id: int | None = None,
                       session: AsyncSession | None = None, hold: dt.timedelta | None = None) -> None:
        """Queue the answer in the outbox (the first row carries the reply token) and mark the
        inbox event done, in `session`'s transaction when given (the state change the answer
        reports), else in a new one. The outbox replies while the token is fresh, else pushes.
        `hold`: the first row waits that long unless released earlier (bot.chat.results)."""
        if session is None:
            async with self.app[DATABASE].session() as own, own.begin():
                await self._deliver(channel_id, customer, messages, reply, kind, upload_id, own, hold)
            self._wake_outbox()
            return
        now = utcnow()
        common = dict(channel_id=channel_id, to=customer.line_user_id, customer_id=customer.id,
                      upload_id=upload_id, delivery_kind=DeliveryKind.ANSWER_PUSH, now=now)
        for n, start in enumerate(range(0, len(messages), MAX_MESSAGES_PER_REQUEST)):
            first = n == 0
            await enqueue_push(session, messages=messages[start:start + MAX_MESSAGES_PER_REQUEST],
                               dedupe_key=inbox.next_answer_key(), kind=kind,
                               reply_token=reply.token if first and reply is not None else None,
                               event_at=reply.received_at if first and reply is not None else None,
                               not_before=now + hold if first and hold else None, **common)
        await inbox.complete_current(session)

    def _wake_outbox(self) -> None:
        sender = self.app.get(OUTBOX_SENDER)
        if sender is not None:
            sender.nudge()

    async def _availability(self, session: AsyncSession, campaign: Campaign | None, channel_id: int,
                            now: dt.datetime) -> Any:
        channel = await session.get(Channel, channel_id)
        assert channel is not None
        liff_id = channel.liff_id or ("sandbox" if self._sandbox_base else None)
        facts = None if campaign is None else CampaignFacts(
            str(campaign.id), str(campaign.channel_id), campaign.start_at, campaign.end_at,
            published=campaign.published_at is not None, paused=campaign.paused)
        return campaign_availability(facts, ChannelFacts(str(channel_id), channel.linked, liff_id), now)

    # --- triggers and the card --------------------------------------------------------

    async def _trigger(self, channel_id: int, user_id: str, said: TriggerInput,
                       reply: ReplyToken | None, now: dt.datetime) -> None:
        campaign_id = match_trigger(said, await self._channel_triggers(channel_id))
        if campaign_id is None:
            return  # not ours: other auto-replies of the account may answer it
        key = self._key(channel_id, user_id)
        state, data = await self.app[STATE_STORAGE].get_state_and_data(key)
        customer: KnownCustomer | None = None
        others: list[machine.Action] = []
        staged: list[Change] = []
        # The card (the usual answer) is queued in ONE transaction with the customer row and
        # the inbox event's completion; other answers take the general path (`_send`).
        async with self.app[DATABASE].session() as session, session.begin():
            facts = await card_facts(session, channel_id, int(campaign_id), user_id)
            if facts is None:
                raise RuntimeError(f"channel {channel_id} is missing")
            availability = facts.availability(now, sandbox=self._sandbox_base is not None)
            transition = machine.handle(
                state, data, machine.CardRequested(campaign_id, str(channel_id), availability, reply), now)
            for action in transition.actions:
                if isinstance(action, machine.SendCard) and facts.card is not None:
                    customer = customer or facts.customer or await known_customer(session, channel_id, user_id,
                                                                                  absent=True)
                    card = channel_card_json(facts.card, liff_id=facts.liff_id, sandbox_base_url=self._sandbox_base)
                    if not isinstance(transition.store, machine.Keep):  # the window commits with its card
                        staged = [_stored(key, transition.store)]
                        await self.app[STATE_STORAGE].stage(session, staged)
                    await self._deliver(channel_id, customer, [card], action.answer_via, "card", session=session)
                else:
                    others.append(action)
        if staged:
            await self.app[STATE_STORAGE].publish(staged)
        if customer is not None:
            self._wake_outbox()
        for action in others:
            await self._send(channel_id, user_id, action)
        if not staged:
            await self._apply(key, transition.store)
        if customer is not None and customer.display_name is None:  # for exports; the card never waits on it
            self.app[DISPLAY_NAMES].note(Unnamed(customer.id, channel_id, customer.line_user_id))

    async def _send(self, channel_id: int, user_id: str, action: machine.Action) -> None:
        customer = await self._customer(channel_id, user_id)
        async with self.app[DATABASE].session() as session:
            campaign_id = int(action.campaign_id)
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None:
                return
            speaker = await speaker_for(session, campaign_id, customer, self._sandbox_base)
            if isinstance(action, machine.SendCard):
                card = CardCampaign(str(campaign.id), campaign.name, campaign.rules_url, campaign.image_url)
                messages = [invoice_card_json(card, speaker.liff_url)]
                kind = "card"
            elif isinstance(action, machine.SendSystemMessage):
                messages, kind = answers.system(speaker, action.kind), f"system.{action.kind.value}"
            elif isinstance(action, machine.SendCustomMessage):
                messages, kind = await answers.custom(session, speaker, action.kind), f"custom.{action.kind.value}"
            else:
                return
        await self._deliver(channel_id, customer, messages, action.answer_via, kind)

    # --- photos -----------------------------------------------------------------------

    async def _image(self, channel_id: int, user_id: str, event: MessageEvent, reply: ReplyToken | None,
                     now: dt.datetime) -> None:
        key = self._key(channel_id, user_id)
        storage = self.app[STATE_STORAGE]
        image_set = getattr(event.message, "image_set", None)
        first = image_set is None or image_set.index in (None, 1)
        sent_at = dt.datetime.fromtimestamp(event.timestamp / 1000, dt.timezone.utc)
        state, data = await storage.get_state_and_data(key)
        transition = machine.handle(
            state, data,
            machine.ImageReceived(str(channel_id), event.message.id, sent_at, reply, first), now)
        for action in transition.actions:
            if isinstance(action, machine.ProcessPhoto):
                await self._photo(channel_id, user_id, action)
            elif isinstance(action, machine.StateLost):
                await self._state_lost(channel_id, user_id, action)
        await self._apply(key, transition.store)

    async def _state_lost(self, channel_id: int, user_id: str, action: machine.StateLost) -> None:
        """A photo window that could not be read back: counted, logged and answered 未預期錯誤
        (the campaign's buttons need its id; without one nothing can be said in its name)."""
        self.app[METRICS].state_lost.inc()
        log.warning("photo window could not be rebuilt", extra={"fields": {
            "user": pseudonym(user_id), "channel": channel_id, "answered": action.campaign_id is not None}})
        if action.campaign_id is not None and action.campaign_id.isdigit():
            await self._send(channel_id, user_id, machine.SendSystemMessage(
                SystemKind.UNEXPECTED, action.campaign_id, action.answer_via))

    async def _photo(self, channel_id: int, user_id: str, action: machine.ProcessPhoto) -> None:
        campaign_id = int(action.campaign_id)
        db = self.app[DATABASE]
        customer = await self._customer(channel_id, user_id)
        async with db.session() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None:
                return
            availability = await self._availability(session, campaign, channel_id, utcnow())
        if not availability.ok:  # paused, ended or unlinked since the card was sent
            await self._send(channel_id, user_id, _availability_action(availability, action))
            return
        path: str | None = None
        hashed: int | None = None
        try:
            content = await (await self.app[MESSAGING_POOL](channel_id)).get_content(action.message_id)
        except ContentTooLarge as exc:  # a file, not a failure: answered 無法辨識 like any unreadable photo
            result = PhotoResult(code=None, error=f"file too large ({exc})")
        except LineApiError as exc:
            log.warning("image download failed", extra={"fields": {"user": pseudonym(user_id), "error": type(exc).__name__}})
            await self._answer_unexpected(channel_id, customer, campaign_id, action.answer_via)
            return
        else:
            try:
                path = await asyncio.to_thread(self._keep_photo, campaign_id, content)
            except PhotoStoreError as exc:
                log.warning("photo not kept", extra={"fields": {"user": pseudonym(user_id), "error": str(exc)}})
                await self._answer_unexpected(channel_id, customer, campaign_id, action.answer_via)
                return
            result = await self._decoder.decode(content)
            hashed = await asyncio.to_thread(photo_hash, content) if result.code is not None else None
        async with db.session() as session, session.begin():
            campaign = await session.get(Campaign, campaign_id)
            customer = await session.get(Customer, customer.id)
            intake = await register(session, campaign=campaign, customer=customer, code=result.code,
                                    source=InvoiceSource.PHOTO, now=utcnow(), photo_path=path,
                                    unreadable_reason=result.error, photo_hash=hashed)
            upload = intake.upload
            speaker = await speaker_for(session, campaign_id, customer, self._sandbox_base)
            messages = [*answers.invoice_info(upload), *await answers.for_upload(session, speaker, upload)]
            # Waiting for MOF: the answer (等待驗證 for now) is held while the first attempt
            # runs; its result rewrites and releases it (bot.chat.results), in the same
            # transaction as the verdict. After a crash it goes out as it is when the hold ends.
            await self._deliver(channel_id, customer, messages, action.answer_via,
                                PHOTO_ANSWER_KIND if intake.queued else f"upload.{upload.status}", upload.id,
                                session=session, hold=PHOTO_ANSWER_HOLD if intake.queued else None)
            upload_id = upload.id
        self._wake_outbox()
        if intake.queued:
            await self._verify_now(upload_id)
            self._wake_outbox()

    def _keep_photo(self, campaign_id: int, content: bytes) -> str:
        """Keep the original file in the photo store (the participant list links it); returns its
        store-independent path `photos/<campaign>/<file>`."""
        path = f"{PHOTOS}/{campaign_id}/{uuid.uuid4().hex}.img"
        self.app[PHOTO_STORE].put(path, content)
        return path

    async def _verify_now(self, upload_id: int) -> None:
        """The first MOF attempt, inside the user's request, so its answer can be a reply.
        The job is claimed under a lease like any worker's: a crash leaves it to the worker."""
        worker = self.app.get(VERIFICATION_WORKER)
        if worker is None:
            return
        async with self.app[DATABASE].session() as session, session.begin():
            claimed = await jobs.claim_upload(session, upload_id, worker.owner, utcnow(), worker.settings.lease)
        if claimed is None:
            return
        await worker.process(claimed)

    async def _answer_unexpected(self, channel_id: int, customer: Customer, campaign_id: int,
                                 reply: ReplyToken | None) -> None:
        async with self.app[DATABASE].session() as session:
            speaker = await speaker_for(session, campaign_id, customer, self._sandbox_base)
        await self._deliver(channel_id, customer, answers.system(speaker, SystemKind.UNEXPECTED), reply,
                            "system.unexpected")

    async def _follow(self, channel_id: int, user_id: str, *, blocked_at: dt.datetime | None) -> None:
        """A follow clears the block mark; an unfollow (block) records it and drops the user's
        queued pushes (the outbox never claims pushes to a blocked user)."""
        async with self.app[DATABASE].session() as session, session.begin():
            await session.execute(update(Customer).where(Customer.channel_id == channel_id,
                                                         Customer.line_user_id == user_id)
                                  .values(blocked_at=blocked_at))
            forget: list[Change] = []
            if blocked_at is not None:
                await _record_block(session, channel_id, user_id, blocked_at)
                await drop_pushes_to(session, channel_id, user_id, "user blocked the account (unfollow)")
                forget = [_stored(self._key(channel_id, user_id), machine.Clear())]
                await self.app[STATE_STORAGE].stage(session, forget)
            await inbox.complete_current(session)
        await self.app[STATE_STORAGE].publish(forget)


async def _record_block(session: Any, channel_id: int, user_id: str, at: dt.datetime) -> None:
    """An unfollow from a user we had no row for is recorded too (a row with only the mark)."""
    await session.execute(dialect_insert(session.bind.dialect.name)(Customer).values(channel_id=channel_id, line_user_id=user_id, blocked_at=at,
                                                  created_at=at)
                          .on_conflict_do_nothing(index_elements=["channel_id", "line_user_id"]))


def _availability_action(availability: Any, action: machine.ProcessPhoto) -> machine.Action:
    message = availability.message
    if isinstance(message, CustomKind):
        return machine.SendCustomMessage(message, action.campaign_id, action.answer_via)
    return machine.SendSystemMessage(message, action.campaign_id, action.answer_via)


@dataclass(frozen=True)
class _CardAsk:
    """An inbox event that matched a card trigger (`ChatHandler.handle_batch`)."""

    item: inbox.Claimed
    channel_id: int
    user_id: str
    campaign_id: int
    reply: ReplyToken | None


def _said(event: Any) -> TriggerInput | None:
    """What a text or postback event says, as trigger input (None for other events)."""
    if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        return TextInput(event.message.text)
    if isinstance(event, PostbackEvent):
        data = event.postback.data or ""
        return (ModuleInput(data[len(MODULE_POSTBACK_PREFIX):])
                if data.startswith(MODULE_POSTBACK_PREFIX) else PostbackInput(data))
    return None


def _reply_token(event: Any, now: dt.datetime) -> ReplyToken | None:
    """The event's reply token, its age counted from LINE's event timestamp (not from when
    handling started: an event may wait in the inbox); a timestamp from the future counts as now."""
    if not getattr(event, "reply_token", None):
        return None
    stamped = getattr(event, "timestamp", None)
    sent_at = now if not isinstance(stamped, int) else min(now, dt.datetime.fromtimestamp(stamped / 1000, dt.timezone.utc))
    return ReplyToken(event.reply_token, sent_at)


def _stored(key: StorageKey, change: machine.StoreChange) -> tuple[StorageKey, str | None, dict[str, Any], Any]:
    """A state-store change as `set_many` takes it."""
    if isinstance(change, machine.SetState):
        return key, change.state, change.data, change.ttl
    return key, None, {}, None

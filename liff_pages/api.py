"""The LIFF pages' JSON endpoints. Each call carries `Authorization: Bearer <LIFF ID token>`,
verified with LINE (`/oauth2/v2.1/verify`, `client_id` = the LIFF app's LINE Login channel)
before any user data is read or stored; the user is the token's `sub`. Bodies are small JSON
objects naming `liff_id` (the LIFF app the page runs in) and `campaign`."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE
from bot.campaigns.phones import give_phone, phone_given
from bot.chat import answers, liff_answers, liff_notices
from bot.chat.channels import DEFAULT_CHANNEL
from bot.chat.intake import customer_for, register
from bot.chat.speakers import speaker_for
from bot.client_address import client_address
from bot.line.messaging import IdTokenClaims, InvalidIdToken, LineApiError
from bot.line.outbox import MESSAGING_POOL
from bot.log import pseudonym
from bot.storage.models import Campaign, Channel, Customer, Upload, utcnow
from bot.verification import jobs
from bot.verification.worker import VERIFICATION_WORKER
from flows.campaigns.dates import enterable_issue_dates, today_in_taipei
from flows.campaigns.settings import CampaignSettings, IssueDateWindow
from flows.conversation.availability import Availability, CampaignFacts, ChannelFacts, campaign_availability
from flows.einvoice.model import InvoiceSource, MofError
from flows.messages.custom import CustomKind
from flows.messages.system import NOT_EXIST_TEXT, NOT_STARTED_TEXT, SystemKind
from liff_pages import carriers, forms
from liff_pages.bodies import CAMPAIGN_ID, LIFF_ID, BodyError, parse_body
from liff_pages.keys import LIFF_MOF, LIMITS, SEALER, TOKENS
from liff_pages.limits import RATE_LIMITED_TEXT
from liff_pages.shim import SANDBOX_LIFF_ID
from liff_pages.tokens import VerifyPaused

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024  # the forms are a few short fields
API = "/liff/api"
UNAUTHORIZED_TEXT = "登入驗證失敗，請關閉頁面後從 LINE 重新開啟"
UNAVAILABLE_TEXT = "系統忙碌中，請稍後再試"
MOF_DOWN_TEXT = "財政部電子發票平台暫時無法回應，請稍後再試"


class Refused(Exception):
    """An answer other than 200, as {"error", "message", **extra}; a `retry_after` (seconds)
    is also sent as the Retry-After header."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.message, self.extra = status, error, message, extra

    def response(self) -> web.Response:
        headers = dict(NO_STORE)
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(max(1, math.ceil(self.extra["retry_after"])))
        return web.json_response({"error": self.error, "message": self.message, **self.extra},
                                 status=self.status, headers=headers)


NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Caller:
    """A verified call: the LIFF app's channel, the campaign, the user and the JSON body."""

    channel: Channel
    campaign: Campaign
    claims: IdTokenClaims
    body: dict[str, Any]

    @property
    def user_id(self) -> str:
        return self.claims.sub


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, "body", "資料過大")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise Refused(413, "body", "資料過大")
    try:
        return parse_body(raw)
    except BodyError as exc:
        raise Refused(400, "body", "資料格式錯誤（需為 JSON 物件）", reason=str(exc)) from None


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
        raise Refused(401, "id_token", UNAUTHORIZED_TEXT)
    return token.strip()


async def _channel_of(request: web.Request, liff_id: Any, campaign: Campaign | None) -> Channel | None:
    """The channel whose LIFF app the page runs in. In sandbox mode the shim's app (`sandbox`)
    stands for every channel: the campaign's channel (the default channel without a campaign)."""
    sandbox = request.app[CONFIG].sandbox
    async with request.app[DATABASE].session() as session:
        if sandbox and liff_id == SANDBOX_LIFF_ID:
            if campaign is not None:
                return await session.get(Channel, campaign.channel_id)
            return await session.scalar(select(Channel).where(Channel.name == DEFAULT_CHANNEL))
        if not isinstance(liff_id, str) or not LIFF_ID.fullmatch(liff_id):
            return None
        return await session.scalar(select(Channel).where(Channel.liff_id == liff_id).order_by(Channel.id))


async def _campaign(request: web.Request, value: Any) -> Campaign | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not CAMPAIGN_ID.fullmatch(text):
        return None
    async with request.app[DATABASE].session() as session:
        return await session.get(Campaign, int(text))


def _before_verify(request: web.Request, token: str) -> None:
    """A token not verified yet costs a call to LINE: none while LINE's 429 lasts, and at most
    the address budget per client address (checked before anything else is looked up)."""
    tokens = request.app[TOKENS]
    if tokens.known(token):
        return
    wait = tokens.paused_for()
    if wait > 0:
        raise Refused(503, "line", UNAVAILABLE_TEXT, retry_after=round(wait, 1))
    address = client_address(request, request.app[CONFIG].trusted_proxy_hops)
    limiter = request.app[LIMITS]["address"]
    if not limiter.allow(address):
        raise Refused(429, "rate", RATE_LIMITED_TEXT, retry_after=round(limiter.retry_after(address), 1))


def _login_channel(request: web.Request, channel: Channel) -> str | None:
    """The LINE Login channel the ID tokens are verified for: the channel's own; in sandbox mode,
    where every token comes from the LINE simulator, the sandbox's when the channel has none."""
    config = request.app[CONFIG]
    return channel.login_channel_id or (config.line_login_channel_id if config.sandbox else None)


async def _verify(request: web.Request, channel: Channel, token: str) -> IdTokenClaims:
    async def ask_line(id_token: str, client_id: str) -> IdTokenClaims:
        line = await request.app[MESSAGING_POOL](channel.id)
        return await line.verify_id_token(id_token, client_id)

    try:
        return await request.app[TOKENS].verify(token, _login_channel(request, channel) or "", ask_line)
    except InvalidIdToken:
        raise Refused(401, "id_token", UNAUTHORIZED_TEXT) from None
    except VerifyPaused as paused:
        raise Refused(503, "line", UNAVAILABLE_TEXT, retry_after=round(paused.retry_after, 1)) from None
    except (LineApiError, ValueError) as exc:
        log.warning("LIFF token check failed", extra={"fields": {"error": type(exc).__name__}})
        raise Refused(503, "line", UNAVAILABLE_TEXT) from None


async def _ended_text(request: web.Request, campaign: Campaign, customer: Customer) -> str:
    """The campaign's 活動時間結束 message (as marketers edited it), as plain text."""
    async with request.app[DATABASE].session() as session:
        speaker = await speaker_for(session, campaign.id, customer, _sandbox_base(request))
        messages = await answers.custom(session, speaker, CustomKind.ENDED)
    return "\n".join(_texts(messages[0].get("contents") if messages else None)) or NOT_EXIST_TEXT


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "text" and isinstance(node.get("text"), str) else []
        return own + [t for key in ("header", "hero", "body", "footer", "contents") for t in _texts(node.get(key))]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _sandbox_base(request: web.Request) -> str | None:
    config = request.app[CONFIG]
    return config.base_url if config.sandbox else None


async def verified(request: web.Request, *, limit: str) -> tuple[Channel, Campaign | None, IdTokenClaims,
                                                                   dict[str, Any]]:
    """Size, token (verified with LINE) and the user's rate: the channel of the LIFF app, the
    body's campaign (None: no such campaign), the token's claims and the body."""
    body = await _body(request)
    token = _bearer(request)
    _before_verify(request, token)
    campaign = await _campaign(request, body.get("campaign"))
    channel = await _channel_of(request, body.get("liff_id"), campaign)
    if channel is None or not _login_channel(request, channel):
        raise Refused(404, "gone", NOT_EXIST_TEXT)  # no LIFF app we know of: nothing to verify for
    claims = await _verify(request, channel, token)
    limiter = request.app[LIMITS][limit]
    if not limiter.allow(f"{channel.id}:{claims.sub}"):
        raise Refused(429, "rate", RATE_LIMITED_TEXT, retry_after=round(limiter.retry_after(f"{channel.id}:{claims.sub}"), 1))
    return channel, campaign, claims, body


async def caller(request: web.Request, *, limit: str, notify: bool = False) -> tuple[Caller, Customer]:
    """Size, token, rate, campaign availability: everything an endpoint checks first. With
    `notify` (the page's first call, when it opens), 活動尚未開始 / 活動不存在 also go to the chat
    (`bot.chat.liff_notices`), and the refusal names the texts the page sends as the user."""
    channel, campaign, claims, body = await verified(request, limit=limit)
    if campaign is None:
        raw = str(body.get("campaign"))
        await _notice(request, channel, claims, raw if CAMPAIGN_ID.fullmatch(raw) else "?", SystemKind.NOT_EXIST,
                      notify, known=False)
    liff_id = channel.liff_id or (SANDBOX_LIFF_ID if request.app[CONFIG].sandbox else None)
    facts = CampaignFacts(str(campaign.id), str(campaign.channel_id), campaign.start_at, campaign.end_at,
                          published=campaign.published_at is not None, paused=campaign.paused)
    verdict = campaign_availability(facts, ChannelFacts(str(channel.id), channel.linked, liff_id), utcnow())
    async with request.app[DATABASE].session() as session, session.begin():
        customer = await customer_for(session, channel.id, claims.sub, claims.name or None)
    if verdict is Availability.ENDED:
        raise Refused(410, "ended", await _ended_text(request, campaign, customer))
    if verdict is Availability.NOT_STARTED:
        await _notice(request, channel, claims, str(campaign.id), SystemKind.NOT_STARTED, notify, customer)
    if not verdict.ok:
        await _notice(request, channel, claims, str(campaign.id), SystemKind.NOT_EXIST, notify, customer)
    return Caller(channel, campaign, claims, body), customer


async def _notice(request: web.Request, channel: Channel, claims: IdTokenClaims, campaign: str, kind: SystemKind,
                  notify: bool, customer: Customer | None = None, *, known: bool = True) -> None:
    """Refuse with `kind`'s text; with `notify`, hold it for the chat too (once per window)."""
    status, error, text = (409, "not_started", NOT_STARTED_TEXT) if kind is SystemKind.NOT_STARTED \
        else (404, "gone", NOT_EXIST_TEXT)
    if not notify:
        raise Refused(status, error, text)
    if customer is None:
        async with request.app[DATABASE].session() as session, session.begin():
            customer = await customer_for(session, channel.id, claims.sub, claims.name or None)
    texts = await liff_notices.hold_notice(
        request.app[DATABASE], request.app[CONFIG], channel_id=channel.id, user_id=claims.sub,
        customer_id=customer.id, campaign=campaign, kind=kind, now=utcnow(), known=known)
    raise Refused(status, error, text, texts=texts)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise Refused(400, "fields", "資料格式錯誤（缺少欄位）")
    return fields


def _window(call: Caller) -> IssueDateWindow:
    """The campaign's 發票開立日期 window."""
    return CampaignSettings.from_dict(call.campaign.settings).conditions.issue_dates


def guarded(handler):  # noqa: ANN001,ANN202 - an aiohttp handler wrapper
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response()

    return wrapped


# --- endpoints -----------------------------------------------------------------------------

@guarded
async def handle_campaign(request: web.Request) -> web.Response:
    """What the page shows before the form: the campaign's name and rules link, or why not."""
    call, customer = await caller(request, limit="read", notify=True)
    window = _window(call)
    first, last = enterable_issue_dates(today=today_in_taipei(utcnow()), start=window.start, end=window.end)
    async with request.app[DATABASE].session() as session:  # given once for this campaign: not asked again
        given = await phone_given(session, campaign_id=call.campaign.id, customer_id=customer.id)
    body = {"state": "ok", "name": call.campaign.name, "rules_url": call.campaign.rules_url,
            "issue_dates": {"min": first.isoformat(), "max": last.isoformat()}, "phone_given": given}
    if request.app[CONFIG].sandbox:
        from bot.simulators.mof import DEMO_CARRIER

        body["demo_carrier"] = {"carrier_barcode": DEMO_CARRIER[0], "verification_code": DEMO_CARRIER[1]}
    return web.json_response(body, headers=NO_STORE)


@guarded
async def handle_validate(request: web.Request) -> web.Response:
    """The one set of rules, for the page to show errors beside the fields as they are typed."""
    call, _customer = await caller(request, limit="read")
    form, fields = call.body.get("form"), _fields(call.body)
    if form == "manual":
        errors = forms.check_manual(fields, today=today_in_taipei(utcnow()), window=_window(call))[2]
    elif form == "carrier":
        errors = forms.check_carrier(fields)[2]
    else:
        raise Refused(400, "form", "表單種類錯誤")
    return web.json_response({"errors": errors}, headers=NO_STORE)


@guarded
async def handle_manual(request: web.Request) -> web.Response:
    call, customer = await caller(request, limit="submit")
    code, phone, errors = forms.check_manual(_fields(call.body), today=today_in_taipei(utcnow()),
                                             window=_window(call))
    if errors or code is None:
        raise Refused(422, "fields", "請修正標示的欄位", errors=errors)
    db, now = request.app[DATABASE], utcnow()
    async with db.session() as session, session.begin():
        campaign = await session.get(Campaign, call.campaign.id)
        customer = await session.get(Customer, customer.id)
        if phone is not None:
            await give_phone(session, campaign_id=campaign.id, customer_id=customer.id, phone=phone, now=now)
        intake = await register(session, campaign=campaign, customer=customer, code=code,
                                source=InvoiceSource.MANUAL, now=now)
        upload = intake.upload
        # The answer is written with the upload (held for the page's 發票資訊 text); while MOF is
        # asked, it says 等待驗證 and the first result rewrites it (bot.chat.results).
        speaker = await speaker_for(session, call.campaign.id, customer, _sandbox_base(request))
        messages = await answers.for_upload(session, speaker, upload)
        texts = [m["text"] for m in answers.invoice_info(upload)]
        await liff_answers.hold_answer(
            session, channel_id=customer.channel_id, to=customer.line_user_id, customer_id=customer.id,
            texts=texts, messages=messages, kind=liff_answers.HELD_KIND if intake.queued else f"upload.{upload.status}",
            key=f"upload:{upload.id}", upload_id=upload.id, now=now,
            hash_key=liff_answers.text_key(request.app[CONFIG]))
        upload_id = upload.id
    if intake.queued:
        await _verify_now(request.app, upload_id)
    async with db.session() as session:
        upload = await session.get(Upload, upload_id)
    log.info("LIFF manual entry", extra={"fields": {"user": pseudonym(call.user_id), "upload_id": upload_id,
                                                   "status": upload.status}})
    return web.json_response({"state": "accepted", "status": upload.status, "texts": texts}, headers=NO_STORE)


@guarded
async def handle_carrier(request: web.Request) -> web.Response:
    call, customer = await caller(request, limit="submit")
    card, phone, errors = forms.check_carrier(_fields(call.body))
    if errors or card is None:
        raise Refused(422, "fields", "請修正標示的欄位", errors=errors)
    db, now = request.app[DATABASE], utcnow()
    counts = await carriers.import_invoices(db, request.app[LIFF_MOF], campaign_id=call.campaign.id,
                                            customer_id=customer.id, card=card, now=now,
                                            carrier_hash=request.app[SEALER].fingerprint(card.barcode))
    if isinstance(counts, MofError):
        if counts.code == "919":
            raise Refused(422, "fields", "請修正標示的欄位",
                          errors={"verification_code": forms.MESSAGES["carrier_refused"]})
        raise Refused(503, "mof", MOF_DOWN_TEXT)
    if phone is not None:  # given with an accepted import, as with an accepted manual entry
        async with db.session() as session, session.begin():
            await give_phone(session, campaign_id=call.campaign.id, customer_id=customer.id, phone=phone, now=now)
    if counts.waiting:  # MOF has not detailed some yet: ask again for 3 days (else the code is not kept)
        await carriers.remember(db, request.app[SEALER], campaign=call.campaign, customer_id=customer.id,
                                card=card, now=now)
    texts: list[str] = []
    if counts.upload_ids:
        async with db.session() as session:
            speaker = await speaker_for(session, call.campaign.id, customer, _sandbox_base(request))
            messages = [m for upload_id in counts.upload_ids
                        for m in await answers.for_upload(session, speaker, await session.get(Upload, upload_id))]
        texts = [carrier_text(card.barcode, counts)]
        await _hold(request, customer, texts, messages, "upload.carrier",
                    f"carrier:{counts.upload_ids[0]}", counts.upload_ids[0])
    log.info("LIFF carrier import", extra={"fields": {"user": pseudonym(call.user_id), **counts.to_dict()}})
    return web.json_response({"state": "accepted", "counts": counts.to_dict(), "texts": texts}, headers=NO_STORE)


def carrier_text(barcode: str, counts: carriers.CarrierCounts) -> str:
    """What the carrier page sends as the user (MOF lists no random code, so no 發票資訊 form)."""
    return "\n".join([f"您匯入的電子載具發票如下：\n\n手機條碼：{barcode}",
                      *(f"{label}：{getattr(counts, key)} 張" for key, label in CARRIER_COUNT_LABELS)])


# The carrier page's counts, as the page (static/carrier.html) and its text name them.
CARRIER_COUNT_LABELS = (("found", "找到發票"), ("new", "符合資格"), ("waiting", "等待驗證"),
                        ("duplicates", "重複登錄"), ("not_eligible", "不符合資格"), ("cap_reached", "參與達上限"))


async def _hold(request: web.Request, customer: Customer, texts: list[str], messages: list[dict[str, Any]],
                kind: str, key: str, upload_id: int) -> None:
    async with request.app[DATABASE].session() as session, session.begin():
        await liff_answers.hold_answer(session, channel_id=customer.channel_id, to=customer.line_user_id,
                                       customer_id=customer.id, texts=texts, messages=messages, kind=kind,
                                       key=key, upload_id=upload_id, now=utcnow(),
                                       hash_key=liff_answers.text_key(request.app[CONFIG]))


async def _verify_now(app: web.Application, upload_id: int) -> None:
    """The first MOF attempt inside the request, under a job lease like any worker's."""
    worker = app.get(VERIFICATION_WORKER)
    if worker is None:
        return
    async with app[DATABASE].session() as session, session.begin():
        claimed = await jobs.claim_upload(session, upload_id, worker.owner, utcnow(), worker.settings.lease)
    if claimed is None:
        return
    await worker.process(claimed)


def setup_api(app: web.Application) -> None:
    from liff_pages.appeal import setup_appeal

    setup_appeal(app)
    app.router.add_post(f"{API}/campaign", handle_campaign)
    app.router.add_post(f"{API}/validate", handle_validate)
    app.router.add_post(f"{API}/manual", handle_manual)
    app.router.add_post(f"{API}/carrier", handle_carrier)


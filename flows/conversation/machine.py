"""The invoice-card conversation as a pure state machine: (state, data, event, now) →
(what to do with the stored state, plain-data actions for the service to carry out).

A card opens a 30-minute photo window for its campaign (a newer card replaces it); images
inside the window are processed for that campaign, images outside it get no answer at all.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from flows.conversation.availability import Availability
from flows.conversation.delivery import ReplyToken
from flows.conversation.instants import require_aware
from flows.conversation.states import InvoiceUpload
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind

PHOTO_WINDOW = dt.timedelta(minutes=30)
# The store keeps a window this much longer than it is open: an image sent inside the window
# whose event is handled late (it waited in the inbox through an outage; the inbox retries
# outages for well over an hour) still finds it. The window closes by the image's LINE
# timestamp (`PhotoWindow.contains`), not by the store's expiry.
LATE_EVENT_GRACE = dt.timedelta(hours=2)
# An image may carry a LINE timestamp slightly before our record of sending the card
# (the two clocks differ); within this much it still counts as sent after the card.
CLOCK_SKEW_ALLOWANCE = dt.timedelta(seconds=5)


# --- the stored data ---------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoWindow:
    """The data stored with InvoiceUpload:awaiting_photo."""

    campaign_id: str
    channel_id: str
    card_sent_at: dt.datetime

    def __post_init__(self) -> None:
        if not isinstance(self.campaign_id, str) or not self.campaign_id:
            raise ValueError("campaign_id: required")
        if not isinstance(self.channel_id, str) or not self.channel_id:
            raise ValueError("channel_id: required")
        require_aware(self.card_sent_at, "card_sent_at")

    @property
    def closes_at(self) -> dt.datetime:
        return self.card_sent_at + PHOTO_WINDOW

    def contains(self, sent_at: dt.datetime) -> bool:
        """Whether an image sent at `sent_at` falls in the window: [card, card + 30 min)."""
        require_aware(sent_at, "sent_at")
        return self.card_sent_at - CLOCK_SKEW_ALLOWANCE <= sent_at < self.closes_at

    def to_data(self) -> dict[str, str]:
        """JSON-safe dict for the state store."""
        return {
            "campaign_id": self.campaign_id,
            "card_sent_at": self.card_sent_at.isoformat(),
            "channel_id": self.channel_id,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> "PhotoWindow | None":
        """Read stored data back; anything malformed reads as "no window"."""
        if not isinstance(data, Mapping):
            return None
        try:
            sent_at = dt.datetime.fromisoformat(data["card_sent_at"])
            return cls(data["campaign_id"], data["channel_id"], sent_at)
        except (KeyError, TypeError, ValueError):
            return None


# --- events ------------------------------------------------------------------------------


def _require_id(value: object, field_name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field_name}: required")


@dataclass(frozen=True)
class CardRequested:
    """A trigger matched (postback, keyword, keyword link/QR, bot module): send campaign X's
    card, if the campaign is available."""

    campaign_id: str
    channel_id: str
    availability: Availability
    reply_token: ReplyToken | None = None

    def __post_init__(self) -> None:
        _require_id(self.campaign_id, "campaign_id")
        _require_id(self.channel_id, "channel_id")
        Availability(self.availability)


@dataclass(frozen=True)
class CardSent:
    """Another part of the service (e.g. a bot module) has sent campaign X's card."""

    campaign_id: str
    channel_id: str

    def __post_init__(self) -> None:
        _require_id(self.campaign_id, "campaign_id")
        _require_id(self.channel_id, "channel_id")


@dataclass(frozen=True)
class ImageReceived:
    """An image message. `sent_at` is LINE's event timestamp; `first_of_batch` is False for
    the 2nd and later images of one webhook delivery or LINE image set."""

    channel_id: str
    message_id: str
    sent_at: dt.datetime
    reply_token: ReplyToken | None = None
    first_of_batch: bool = True

    def __post_init__(self) -> None:
        _require_id(self.channel_id, "channel_id")
        _require_id(self.message_id, "message_id")
        require_aware(self.sent_at, "sent_at")


def first_of_batch(position_in_delivery: int, image_set_index: int | None = None) -> bool:
    """Whether an image event opens its batch: the user's first image event of this webhook
    delivery and, when LINE groups images into an image set, the set's first image (index 1;
    a set may be split over several deliveries)."""
    if position_in_delivery < 0:
        raise ValueError("position_in_delivery: must be >= 0")
    if image_set_index is not None and image_set_index < 1:
        raise ValueError("image_set_index: LINE numbers images in a set from 1")
    return position_in_delivery == 0 and (image_set_index is None or image_set_index == 1)


@dataclass(frozen=True)
class Unfollowed:
    """The user blocked the account: forget the conversation."""


Event = CardRequested | CardSent | ImageReceived | Unfollowed


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendCard:
    """Send the campaign's invoice card (answer_via: the reply token, or None to push)."""

    campaign_id: str
    answer_via: ReplyToken | None


@dataclass(frozen=True)
class SendSystemMessage:
    kind: SystemKind
    campaign_id: str
    answer_via: ReplyToken | None


@dataclass(frozen=True)
class SendCustomMessage:
    kind: CustomKind
    campaign_id: str
    answer_via: ReplyToken | None


@dataclass(frozen=True)
class ProcessPhoto:
    """Download, decode and register the image for the campaign; answer via the reply
    token only for the first image of a batch (None: push)."""

    campaign_id: str
    message_id: str
    answer_via: ReplyToken | None


@dataclass(frozen=True)
class StateLost:
    """An image came while the stored window could not be read back (the state says a card
    was sent, its data is unusable): the user is told 未預期錯誤 (with the campaign's buttons,
    when the data still names it) rather than left without an answer, and the loss is counted."""

    campaign_id: str | None
    answer_via: ReplyToken | None


Action = SendCard | SendSystemMessage | SendCustomMessage | ProcessPhoto | StateLost


# --- what happens to the stored state -----------------------------------------------------


@dataclass(frozen=True)
class Keep:
    """Leave state, data and TTL as they are."""


@dataclass(frozen=True)
class SetState:
    """Store this state and data with this TTL."""

    state: str
    data: dict[str, Any]
    ttl: dt.timedelta

    @property
    def ttl_seconds(self) -> int:
        return int(self.ttl.total_seconds())


@dataclass(frozen=True)
class Clear:
    """Remove state and data."""


StoreChange = Keep | SetState | Clear


@dataclass(frozen=True)
class Transition:
    store: StoreChange
    actions: tuple[Action, ...] = ()


NOTHING = Transition(Keep())


# --- the machine -------------------------------------------------------------------------


def _open_window(campaign_id: str, channel_id: str, now: dt.datetime) -> SetState:
    window = PhotoWindow(campaign_id, channel_id, now)
    return SetState(InvoiceUpload.awaiting_photo.state, window.to_data(), PHOTO_WINDOW + LATE_EVENT_GRACE)


def _card_requested(event: CardRequested, now: dt.datetime) -> Transition:
    message = event.availability.message
    if message is None:
        return Transition(
            _open_window(event.campaign_id, event.channel_id, now),
            (SendCard(event.campaign_id, event.reply_token),),
        )
    if isinstance(message, SystemKind):
        action: Action = SendSystemMessage(message, event.campaign_id, event.reply_token)
    else:
        action = SendCustomMessage(message, event.campaign_id, event.reply_token)
    return Transition(Keep(), (action,))


def _image_received(
    state: str | None, data: Mapping[str, Any] | None, event: ImageReceived
) -> Transition:
    if state != InvoiceUpload.awaiting_photo.state:
        return NOTHING  # no card, or the store already expired the window: no response
    window = PhotoWindow.from_data(data)
    if window is None:  # our state with unreadable data: drop it, and say so
        named = data.get("campaign_id") if isinstance(data, Mapping) else None
        campaign_id = named if isinstance(named, str) and named else None
        answer_via = event.reply_token if event.first_of_batch else None
        return Transition(Clear(), (StateLost(campaign_id, answer_via),))
    if event.channel_id != window.channel_id:
        return NOTHING
    if not window.contains(event.sent_at):
        if event.sent_at >= window.closes_at:
            return Transition(Clear())
        return NOTHING  # sent before the card: not for this window
    answer_via = event.reply_token if event.first_of_batch else None
    return Transition(Keep(), (ProcessPhoto(window.campaign_id, event.message_id, answer_via),))


def handle(
    state: str | None, data: Mapping[str, Any] | None, event: Event, now: dt.datetime
) -> Transition:
    """The transition for one event of one user (events of a user are serialised)."""
    require_aware(now, "now")
    if isinstance(event, CardRequested):
        return _card_requested(event, now)
    if isinstance(event, CardSent):
        return Transition(_open_window(event.campaign_id, event.channel_id, now))
    if isinstance(event, ImageReceived):
        return _image_received(state, data, event)
    if isinstance(event, Unfollowed):
        return Transition(Clear())
    raise TypeError(f"event: unsupported type {type(event).__name__}")

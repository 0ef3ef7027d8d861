"""The invoice-card conversation: card → photo window → processing, and what stays silent."""
from __future__ import annotations

import datetime as dt

import pytest

from flows.conversation.availability import Availability
from flows.conversation.delivery import ReplyToken
from flows.conversation.machine import (
    LATE_EVENT_GRACE,
    PHOTO_WINDOW,
    CardRequested,
    CardSent,
    Clear,
    ImageReceived,
    Keep,
    PhotoWindow,
    ProcessPhoto,
    SendCard,
    SendCustomMessage,
    SendSystemMessage,
    SetState,
    StateLost,
    Transition,
    Unfollowed,
    handle,
)
from flows.conversation.states import InvoiceUpload, StatesGroup, State, resolve_state
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 4, 0, tzinfo=UTC)
CHANNEL = "channel-A"


class Store:
    """A minimal in-memory stand-in for the state store, honouring the TTL it is given."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.data: dict | None = None
        self.expires_at: dt.datetime | None = None

    def read(self, now: dt.datetime) -> tuple[str | None, dict | None]:
        if self.expires_at is not None and now >= self.expires_at:
            self.state, self.data, self.expires_at = None, None, None
        return self.state, self.data

    def apply(self, transition: Transition, now: dt.datetime) -> None:
        change = transition.store
        if isinstance(change, SetState):
            self.state, self.data = change.state, change.data
            self.expires_at = now + dt.timedelta(seconds=change.ttl_seconds)
        elif isinstance(change, Clear):
            self.state, self.data, self.expires_at = None, None, None

    def step(self, event, now: dt.datetime) -> Transition:
        state, data = self.read(now)
        transition = handle(state, data, event, now)
        self.apply(transition, now)
        return transition


def image(message_id: str, at: dt.datetime, *, channel: str = CHANNEL, first: bool = True,
          token: str | None = "rt-1") -> ImageReceived:
    reply = ReplyToken(token, at) if token else None
    return ImageReceived(channel, message_id, at, reply, first_of_batch=first)


def test_state_names_are_stable_strings() -> None:
    assert InvoiceUpload.awaiting_photo.state == "InvoiceUpload:awaiting_photo"
    assert resolve_state("InvoiceUpload:awaiting_photo") is InvoiceUpload.awaiting_photo
    assert resolve_state("Other:thing") is None
    assert resolve_state(None) is None
    assert "InvoiceUpload:awaiting_photo" in InvoiceUpload
    assert list(InvoiceUpload) == [InvoiceUpload.awaiting_photo]


def test_a_new_group_binds_its_states() -> None:
    class Survey(StatesGroup):
        asking = State()
        done = State()

    assert Survey.asking.state == "Survey:asking"
    assert Survey.done == "Survey:done"
    assert Survey.asking != Survey.done


def test_card_opens_a_thirty_minute_window_with_the_documented_data() -> None:
    token = ReplyToken("rt-card", T0)
    t = handle(None, None, CardRequested("camp-X", CHANNEL, Availability.OK, token), T0)
    assert t.actions == (SendCard("camp-X", token),)
    assert isinstance(t.store, SetState)
    assert t.store.state == "InvoiceUpload:awaiting_photo"
    assert PHOTO_WINDOW == dt.timedelta(minutes=30)
    assert t.store.ttl == PHOTO_WINDOW + LATE_EVENT_GRACE  # kept longer than open: late events
    assert t.store.ttl_seconds == 1800 + 7200
    assert t.store.data == {
        "campaign_id": "camp-X",
        "card_sent_at": "2024-03-01T04:00:00+00:00",
        "channel_id": CHANNEL,
    }


def test_photo_within_thirty_minutes_is_processed_for_the_campaign() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    at = T0 + dt.timedelta(minutes=29, seconds=59)
    t = store.step(image("m1", at), at)
    assert t.actions == (ProcessPhoto("camp-X", "m1", ReplyToken("rt-1", at)),)
    assert isinstance(t.store, Keep)
    # the window is not consumed: a second photo inside it is processed too
    t2 = store.step(image("m2", at), at)
    assert [a.message_id for a in t2.actions] == ["m2"]


def test_photo_after_thirty_one_minutes_gets_nothing_with_the_store_ttl() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    at = T0 + dt.timedelta(minutes=31)
    assert store.step(image("m1", at), at).actions == ()


def test_photo_sent_inside_the_window_but_handled_after_an_outage_is_processed() -> None:
    """Issue 25: an image sent at 29 min whose event waited in the inbox while Redis was down
    is handled at 95 min: the stored window is still there, and the image's own timestamp
    decides."""
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    sent = T0 + dt.timedelta(minutes=29)
    handled = T0 + dt.timedelta(minutes=95)
    event = ImageReceived(CHANNEL, "m1", sent, ReplyToken("rt-1", sent))
    t = store.step(event, handled)
    assert t.actions == (ProcessPhoto("camp-X", "m1", ReplyToken("rt-1", sent)),)


def test_late_photo_gets_nothing_even_if_the_data_is_still_there() -> None:
    window = PhotoWindow("camp-X", CHANNEL, T0)
    at = T0 + dt.timedelta(minutes=31)
    t = handle(InvoiceUpload.awaiting_photo.state, window.to_data(), image("m1", at), at)
    assert t.actions == ()
    assert isinstance(t.store, Clear)


def test_window_edge_is_half_open() -> None:
    window = PhotoWindow("camp-X", CHANNEL, T0)
    state, data = InvoiceUpload.awaiting_photo.state, window.to_data()
    edge = T0 + PHOTO_WINDOW
    just_before = edge - dt.timedelta(microseconds=1)
    assert handle(state, data, image("a", just_before), just_before).actions
    assert handle(state, data, image("b", edge), edge).actions == ()


def test_photo_sent_in_time_but_delivered_late_is_still_processed() -> None:
    window = PhotoWindow("camp-X", CHANNEL, T0)
    sent = T0 + dt.timedelta(minutes=10)
    later = T0 + dt.timedelta(minutes=40)  # e.g. a redelivery, processed late
    t = handle(InvoiceUpload.awaiting_photo.state, window.to_data(), image("m1", sent), later)
    assert [type(a) for a in t.actions] == [ProcessPhoto]


def test_photo_without_any_card_gets_nothing() -> None:
    assert handle(None, None, image("m1", T0), T0) == Transition(Keep())


def test_photo_sent_before_the_card_is_not_for_this_window() -> None:
    window = PhotoWindow("camp-X", CHANNEL, T0)
    before = T0 - dt.timedelta(minutes=1)
    t = handle(InvoiceUpload.awaiting_photo.state, window.to_data(), image("m0", before), T0)
    assert t.actions == ()
    assert isinstance(t.store, Keep)


def test_newer_card_replaces_the_window() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    t1 = T0 + dt.timedelta(minutes=20)
    store.step(CardRequested("camp-Y", CHANNEL, Availability.OK), t1)
    at = T0 + dt.timedelta(minutes=45)  # past X's window, inside Y's
    t = store.step(image("m1", at), at)
    assert t.actions == (ProcessPhoto("camp-Y", "m1", ReplyToken("rt-1", at)),)


def test_card_sent_by_a_bot_module_opens_the_window_without_actions() -> None:
    t = handle(None, None, CardSent("camp-X", CHANNEL), T0)
    assert t.actions == ()
    assert isinstance(t.store, SetState)
    assert PhotoWindow.from_data(t.store.data) == PhotoWindow("camp-X", CHANNEL, T0)


def test_image_from_another_channel_gets_nothing() -> None:
    window = PhotoWindow("camp-X", CHANNEL, T0)
    at = T0 + dt.timedelta(minutes=1)
    t = handle(InvoiceUpload.awaiting_photo.state, window.to_data(),
               image("m1", at, channel="channel-B"), at)
    assert t == Transition(Keep())


def test_only_the_first_image_of_a_batch_answers_by_reply() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    at = T0 + dt.timedelta(minutes=2)
    first = store.step(image("m1", at, first=True, token="rt-1"), at)
    second = store.step(image("m2", at, first=False, token="rt-2"), at)
    third = store.step(image("m3", at, first=False, token="rt-3"), at)
    assert first.actions[0].answer_via == ReplyToken("rt-1", at)
    assert second.actions[0].answer_via is None
    assert third.actions[0].answer_via is None
    assert [a.message_id for t in (first, second, third) for a in t.actions] == ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("availability", "expected"),
    [
        (Availability.NOT_STARTED, SendSystemMessage(SystemKind.NOT_STARTED, "camp-X", None)),
        (Availability.PAUSED, SendSystemMessage(SystemKind.NOT_EXIST, "camp-X", None)),
        (Availability.NO_LIFF_ID, SendSystemMessage(SystemKind.NOT_EXIST, "camp-X", None)),
        (Availability.OTHER_CHANNEL, SendSystemMessage(SystemKind.NOT_EXIST, "camp-X", None)),
        (Availability.ENDED, SendCustomMessage(CustomKind.ENDED, "camp-X", None)),
    ],
)
def test_unavailable_campaign_answers_and_opens_no_window(availability, expected) -> None:
    store = Store()
    t = store.step(CardRequested("camp-X", CHANNEL, availability), T0)
    assert t.actions == (expected,)
    at = T0 + dt.timedelta(minutes=1)
    assert store.step(image("m1", at), at).actions == ()


def test_unavailable_card_keeps_an_earlier_window() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    store.step(CardRequested("camp-old", CHANNEL, Availability.ENDED), T0)
    at = T0 + dt.timedelta(minutes=5)
    assert store.step(image("m1", at), at).actions[0].campaign_id == "camp-X"


def test_unfollow_forgets_the_window() -> None:
    store = Store()
    store.step(CardRequested("camp-X", CHANNEL, Availability.OK), T0)
    store.step(Unfollowed(), T0)
    at = T0 + dt.timedelta(minutes=1)
    assert store.step(image("m1", at), at).actions == ()


@pytest.mark.parametrize(
    "data",
    [None, {}, {"campaign_id": "c"}, {"campaign_id": "c", "channel_id": CHANNEL, "card_sent_at": "x"},
     {"campaign_id": "c", "channel_id": CHANNEL, "card_sent_at": "2024-03-01T04:00:00"},
     {"campaign_id": "", "channel_id": CHANNEL, "card_sent_at": "2024-03-01T04:00:00+00:00"}],
)
def test_malformed_stored_data_is_dropped_and_reported_as_lost(data) -> None:
    event = image("m1", T0)
    t = handle(InvoiceUpload.awaiting_photo.state, data, event, T0)
    named = data.get("campaign_id") if isinstance(data, dict) else None
    assert t == Transition(Clear(), (StateLost(named or None, event.reply_token),))
    later = handle(InvoiceUpload.awaiting_photo.state, data, image("m2", T0, first=False), T0)
    assert later.actions == (StateLost(named or None, None),)  # a batch's later images push


def test_naive_now_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="now"):
        handle(None, None, CardSent("c", CHANNEL), dt.datetime(2024, 1, 1))


def test_first_of_batch_rule() -> None:
    from flows.conversation.machine import first_of_batch

    assert first_of_batch(0) is True
    assert first_of_batch(1) is False
    assert first_of_batch(0, image_set_index=1) is True
    assert first_of_batch(0, image_set_index=2) is False  # the set's rest arrived separately
    assert first_of_batch(2, image_set_index=1) is False
    with pytest.raises(ValueError, match="image_set_index"):
        first_of_batch(0, image_set_index=0)
    with pytest.raises(ValueError, match="position_in_delivery"):
        first_of_batch(-1)


def test_events_refuse_missing_ids_naming_the_field() -> None:
    with pytest.raises(ValueError, match="message_id"):
        ImageReceived(CHANNEL, "", T0)
    with pytest.raises(ValueError, match="sent_at"):
        ImageReceived(CHANNEL, "m1", dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="campaign_id"):
        CardRequested("", CHANNEL, Availability.OK)
    with pytest.raises(ValueError, match="channel_id"):
        CardSent("c", "")

"""Which message a card request or an upload gets, from campaign and channel facts."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from flows.conversation.availability import (
    Availability,
    CampaignFacts,
    ChannelFacts,
    campaign_availability,
)
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind

TPE = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2024, 3, 1, 0, 0, tzinfo=TPE)
END = dt.datetime(2024, 3, 31, 23, 59, tzinfo=TPE)
DURING = dt.datetime(2024, 3, 15, 12, 0, tzinfo=TPE)
CHANNEL = ChannelFacts("ch-1", linked=True, liff_id="1234567890-AbCd")
LIVE = CampaignFacts("camp", "ch-1", START, END, published=True, paused=False)


def check(campaign=LIVE, channel=CHANNEL, now=DURING) -> Availability:
    return campaign_availability(campaign, channel, now)


def test_running_campaign_is_available() -> None:
    assert check() is Availability.OK
    assert Availability.OK.message is None


def test_time_window_is_inclusive_at_both_ends() -> None:
    assert check(now=START) is Availability.OK
    assert check(now=END) is Availability.OK
    assert check(now=START - dt.timedelta(seconds=1)) is Availability.NOT_STARTED
    assert check(now=END + dt.timedelta(seconds=1)) is Availability.ENDED


def test_messages_for_each_verdict() -> None:
    assert Availability.NOT_STARTED.message is SystemKind.NOT_STARTED
    assert Availability.ENDED.message is CustomKind.ENDED
    for reason in (Availability.NO_CAMPAIGN, Availability.CHANNEL_UNLINKED, Availability.NO_LIFF_ID,
                   Availability.PAUSED, Availability.OTHER_CHANNEL):
        assert reason.message is SystemKind.NOT_EXIST


@pytest.mark.parametrize(
    ("campaign", "channel", "expected"),
    [
        (None, CHANNEL, Availability.NO_CAMPAIGN),
        (LIVE, ChannelFacts("ch-1", linked=True, liff_id=None), Availability.NO_LIFF_ID),
        (LIVE, ChannelFacts("ch-1", linked=True, liff_id=""), Availability.NO_LIFF_ID),
        (LIVE, ChannelFacts("ch-1", linked=False, liff_id="x"), Availability.CHANNEL_UNLINKED),
        (LIVE, ChannelFacts("ch-2", linked=True, liff_id="x"), Availability.OTHER_CHANNEL),
        (dataclasses.replace(LIVE, paused=True), CHANNEL, Availability.PAUSED),
    ],
)
def test_not_exist_cases(campaign, channel, expected) -> None:
    assert check(campaign, channel) is expected


def test_drafts_are_available_for_testing_at_any_time() -> None:
    draft = dataclasses.replace(LIVE, published=False)
    for now in (START - dt.timedelta(days=30), DURING, END + dt.timedelta(days=30)):
        assert check(draft, now=now) is Availability.OK


def test_drafts_still_need_a_usable_channel() -> None:
    draft = dataclasses.replace(LIVE, published=False)
    assert check(draft, ChannelFacts("ch-2", True, "x")) is Availability.OTHER_CHANNEL


def test_ended_wins_over_paused_and_paused_over_not_started() -> None:
    paused = dataclasses.replace(LIVE, paused=True)
    assert check(paused, now=END + dt.timedelta(minutes=1)) is Availability.ENDED
    assert check(paused, now=START - dt.timedelta(days=1)) is Availability.PAUSED


def test_facts_are_validated() -> None:
    with pytest.raises(ValueError, match="ends_at"):
        CampaignFacts("c", "ch", END, START, True, False)
    with pytest.raises(ValueError, match="starts_at"):
        CampaignFacts("c", "ch", START.replace(tzinfo=None), END, True, False)

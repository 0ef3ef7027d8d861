"""Quiet hours: verification pushes wait from 00:00 to 08:01 Asia/Taipei; replies never wait."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from flows.conversation.delivery import DeliveryKind
from flows.verification.policy import TAIPEI, in_quiet_hours, must_hold, release_time

UTC = dt.timezone.utc


def tpe(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2024, 7, day, hour, minute, second, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (tpe(1, 23, 59, 59), False),
        (tpe(2, 0, 0, 0), True),
        (tpe(2, 3, 30), True),
        (tpe(2, 7, 59, 59), True),
        (tpe(2, 8, 0, 30), True),  # held with the backlog that goes out at 08:01
        (tpe(2, 8, 1, 0), False),
        (tpe(2, 12, 0), False),
    ],
)
def test_quiet_hours_edges(local: dt.datetime, quiet: bool) -> None:
    assert in_quiet_hours(local) is quiet
    assert in_quiet_hours(local.astimezone(UTC)) is quiet  # same instant, other zone


def test_release_time_is_now_outside_and_0801_inside() -> None:
    assert release_time(tpe(1, 22, 0)) == tpe(1, 22, 0)
    assert release_time(tpe(2, 0, 0)) == tpe(2, 8, 1)
    assert release_time(tpe(2, 7, 59, 59)) == tpe(2, 8, 1)
    # 16:30 UTC on the 1st is 00:30 on the 2nd in Taipei: release 08:01 on the 2nd = 00:01 UTC
    held = dt.datetime(2024, 7, 1, 16, 30, tzinfo=UTC)
    assert release_time(held) == dt.datetime(2024, 7, 2, 0, 1, tzinfo=UTC)
    assert release_time(held).tzinfo is UTC


def test_only_notices_are_held() -> None:
    night = tpe(2, 2, 0)
    assert must_hold(DeliveryKind.NOTICE_PUSH, night) is True
    assert must_hold(DeliveryKind.REPLY, night) is False
    assert must_hold(DeliveryKind.ANSWER_PUSH, night) is False
    assert must_hold(DeliveryKind.NOTICE_PUSH, tpe(2, 9, 0)) is False


def test_moving_clock_across_midnight_and_morning() -> None:
    """Results found every 10 minutes from 23:00 to 09:00 go out either at once or at 08:01;
    nothing is sent between 00:00 and 08:01, and nothing held is released late."""
    sent_at: list[tuple[dt.datetime, dt.datetime]] = []
    with time_machine.travel(tpe(1, 23, 0), tick=False) as traveller:
        while dt.datetime.now(UTC) < tpe(2, 9, 0):
            now = dt.datetime.now(UTC)
            out = release_time(now) if must_hold(DeliveryKind.NOTICE_PUSH, now) else now
            sent_at.append((now, out))
            traveller.shift(dt.timedelta(minutes=10))
    for found, out in sent_at:
        assert out >= found
        assert not (tpe(2, 0, 0) <= out < tpe(2, 8, 1))
        if tpe(2, 0, 0) <= found < tpe(2, 8, 1):
            assert out == tpe(2, 8, 1)
        else:
            assert out == found
    assert sum(1 for f, o in sent_at if o == tpe(2, 8, 1)) == 49  # 00:00 … 08:00 every 10 min


def test_no_dst_in_taipei() -> None:
    for month in range(1, 13):
        assert dt.datetime(2024, month, 15, tzinfo=TAIPEI).utcoffset() == dt.timedelta(hours=8)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="now"):
        release_time(dt.datetime(2024, 7, 2, 1, 0))
    with pytest.raises(ValueError, match="now"):
        must_hold(DeliveryKind.REPLY, dt.datetime(2024, 7, 2, 1, 0))

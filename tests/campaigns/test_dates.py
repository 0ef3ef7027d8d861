"""The issue-date-window limit: 9 months back in odd months, 8 in even, across year boundaries."""
from __future__ import annotations

import datetime as dt

import pytest

from flows.campaigns.dates import (
    TAIPEI,
    IssueDateRefusal,
    earliest_issue_date_start,
    enterable_issue_dates,
    first_of_month_back,
    issue_date_months_back,
    issue_date_refusal,
    today_in_taipei,
)

D = dt.date


@pytest.mark.parametrize("today,earliest", [
    (D(2024, 3, 15), D(2023, 6, 1)),  # odd: 9 back
    (D(2024, 4, 30), D(2023, 8, 1)),  # even: 8 back
    (D(2024, 1, 1), D(2023, 4, 1)),  # January (odd) crosses the year
    (D(2024, 2, 29), D(2023, 6, 1)),  # February (even), leap day
    (D(2024, 8, 31), D(2023, 12, 1)),  # even, lands on December of last year
    (D(2024, 9, 1), D(2023, 12, 1)),  # odd, same earliest as August
    (D(2024, 10, 10), D(2024, 2, 1)),  # even, stays in the year
    (D(2024, 11, 30), D(2024, 2, 1)),
    (D(2024, 12, 31), D(2024, 4, 1)),
    (D(2025, 1, 1), D(2024, 4, 1)),
])
def test_earliest_issue_date_start(today, earliest):
    assert earliest_issue_date_start(today) == earliest
    assert earliest.day == 1
    assert earliest.month % 2 == 0  # odd − 9 and even − 8 both land on an even month


@pytest.mark.parametrize("month,back", [(m, 9 if m % 2 else 8) for m in range(1, 13)])
def test_months_back(month, back):
    assert issue_date_months_back(D(2024, month, 10)) == back


@pytest.mark.parametrize("today,months,expected", [
    (D(2024, 1, 31), 1, D(2023, 12, 1)), (D(2024, 1, 31), 12, D(2023, 1, 1)),
    (D(2024, 1, 31), 13, D(2022, 12, 1)), (D(2024, 5, 2), 0, D(2024, 5, 1)),
])
def test_first_of_month_back(today, months, expected):
    assert first_of_month_back(today, months) == expected


def test_today_is_the_taipei_date():
    # 2024-02-29 16:30 UTC is already 2024-03-01 00:30 in Taipei: an odd month → 9 back
    now = dt.datetime(2024, 2, 29, 16, 30, tzinfo=dt.timezone.utc)
    assert today_in_taipei(now) == D(2024, 3, 1)
    assert earliest_issue_date_start(today_in_taipei(now)) == D(2023, 6, 1)
    assert today_in_taipei(dt.datetime(2024, 2, 29, 15, 59, tzinfo=dt.timezone.utc)) == D(2024, 2, 29)
    assert today_in_taipei(dt.datetime(2024, 3, 1, 0, 0, tzinfo=TAIPEI)) == D(2024, 3, 1)
    with pytest.raises(ValueError):
        today_in_taipei(dt.datetime(2024, 3, 1))


@pytest.mark.parametrize("day,expected", [
    (D(2024, 2, 29), None),  # today (Taipei)
    (D(2024, 3, 1), IssueDateRefusal.FUTURE),  # tomorrow, though the window runs on
    (D(2099, 1, 1), IssueDateRefusal.FUTURE),
    (D(2024, 1, 1), None),  # the window's first day
    (D(2023, 12, 31), IssueDateRefusal.OUTSIDE_WINDOW),
])
def test_a_typed_issue_date_is_refused_after_today_or_outside_the_window(day, expected):
    assert issue_date_refusal(day, today=D(2024, 2, 29), start=D(2024, 1, 1), end=D(2024, 3, 31)) is expected
    # 2024-02-29 16:30 UTC is 2024-03-01 in Taipei: the Taipei date is what counts
    today = today_in_taipei(dt.datetime(2024, 2, 29, 16, 30, tzinfo=dt.timezone.utc))
    assert issue_date_refusal(D(2024, 3, 1), today=today, start=D(2024, 1, 1), end=D(2024, 3, 31)) is None
    assert issue_date_refusal(D(2024, 4, 1), today=D(2024, 5, 1), start=D(2024, 1, 1),
                              end=D(2024, 3, 31)) is IssueDateRefusal.OUTSIDE_WINDOW


def test_the_enterable_dates_end_today_at_the_latest():
    assert enterable_issue_dates(today=D(2024, 2, 29), start=D(2024, 1, 1), end=D(2024, 3, 31)) == (
        D(2024, 1, 1), D(2024, 2, 29))
    assert enterable_issue_dates(today=D(2024, 5, 1), start=D(2024, 1, 1), end=D(2024, 3, 31)) == (
        D(2024, 1, 1), D(2024, 3, 31))

"""The review queue's filters as the console reads them (from a page's query string or a
decision form's hidden fields): campaign, signal, age, review state and the page's cursor; a
wrong value is named beside its field and not applied. Links keep the filters."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from flows.review.signals import SignalKind, parse_kind
from flows.review.states import NEEDS_PERSON, ReviewState, parse_state

T = TypeVar("T")

KEYS = ("campaign", "signal", "age", "state")
#: 等待時間 choices: in review for longer than …
AGES: dict[str, tuple[dt.timedelta, str]] = {
    "1h": (dt.timedelta(hours=1), "超過 1 小時"),
    "1d": (dt.timedelta(days=1), "超過 1 天"),
    "3d": (dt.timedelta(days=3), "超過 3 天"),
    "7d": (dt.timedelta(days=7), "超過 7 天"),
}
CURSOR_MAX = 200


@dataclass
class ReviewQuery:
    campaign_id: int | None = None
    signal: SignalKind | None = None
    age: str | None = None
    state: ReviewState | None = None  # None: those waiting for a person (待審核 and 申訴待審)
    cursor: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # the valid filters as given
    errors: dict[str, str] = field(default_factory=dict)  # field → reason shown beside it

    @property
    def older_than(self) -> dt.timedelta | None:
        return AGES[self.age][0] if self.age else None

    @property
    def states(self) -> tuple[ReviewState, ...]:
        return (self.state,) if self.state else tuple(s for s in ReviewState if s in NEEDS_PERSON)

    def filters(self) -> dict[str, Any]:
        """The service's keyword arguments (queue, queue_count, neighbours)."""
        return {"campaign_id": self.campaign_id, "signal": self.signal, "older_than": self.older_than,
                "state": self.state}

    def query_string(self, **changes: str | None) -> str:
        params = {**{k: self.params[k] for k in KEYS if k in self.params}, **changes}
        ordered = [(k, v) for k, v in params.items() if v]
        return "?" + urlencode(ordered) if ordered else ""

    def link(self, path: str, **changes: str | None) -> str:
        """`path` with the filters (and `changes`: None removes one)."""
        return path + self.query_string(**changes)


def read_review_query(values: Mapping[str, Any]) -> ReviewQuery:
    query = ReviewQuery()
    text = {key: str(values.get(key, "") or "").strip() for key in (*KEYS, "cursor")}
    if text["campaign"]:
        if text["campaign"].isascii() and text["campaign"].isdigit() and len(text["campaign"]) <= 18:
            query.campaign_id = int(text["campaign"])
        else:
            query.errors["campaign"] = "請選擇活動"
    if text["signal"]:
        query.signal = _member(parse_kind, text["signal"])
        if query.signal is None:
            query.errors["signal"] = "沒有這種訊號"
    if text["age"]:
        if text["age"] in AGES:
            query.age = text["age"]
        else:
            query.errors["age"] = "請選擇等待時間"
    if text["state"]:
        query.state = _member(parse_state, text["state"])
        if query.state is None:
            query.errors["state"] = "沒有這種審核狀態"
    if text["cursor"]:
        if len(text["cursor"]) <= CURSOR_MAX:
            query.cursor = text["cursor"]
        else:
            query.errors["cursor"] = "分頁位置無效，請回到第一頁"
    for key, value in (("campaign", query.campaign_id), ("signal", query.signal and query.signal.value),
                       ("age", query.age), ("state", query.state and query.state.value)):
        if value:
            query.params[key] = str(value)
    return query


def _member(parse: Callable[[str], T], text: str) -> T | None:
    """A filter's enum member from the query string (its value or label), None when unknown."""
    try:
        return parse(text)
    except ValueError:
        return None

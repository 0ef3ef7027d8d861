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


def _campaign_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


# Each filter: (query-string key, ReviewQuery attribute, reader → value or None, error beside the field)
_FIELDS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("campaign", "campaign_id", _campaign_id, "請選擇活動"),
    ("signal", "signal", lambda text: _member(parse_kind, text), "沒有這種訊號"),
    ("age", "age", lambda text: text if text in AGES else None, "請選擇等待時間"),
    ("state", "state", lambda text: _member(parse_state, text), "沒有這種審核狀態"),
    ("cursor", "cursor", lambda text: text if len(text) <= CURSOR_MAX else None, "分頁位置無效，請回到第一頁"),
)


def read_review_query(values: Mapping[str, Any]) -> ReviewQuery:
    query = ReviewQuery()
    text = {key: str(values.get(key, "") or "").strip() for key in (*KEYS, "cursor")}
    for key, attribute, read, error in _FIELDS:
        if text[key]:
            value = read(text[key])
            if value is None:
                query.errors[key] = error
            else:
                setattr(query, attribute, value)
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

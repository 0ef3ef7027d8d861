"""The 活動資訊 participant list's query string: filters, sort and page read from the URL (a
wrong value is dropped, a wrong date is named), and links that change one part and keep the rest."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bot.campaigns.stats import SEARCH_MAX, ParticipantFilter, ParticipantSort
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import InvoiceSource

PER_PAGE = 50
KEYS = ("status", "source", "q", "from", "to", "sort", "dir", "page")


@dataclass
class ParticipantQuery:
    where: ParticipantFilter
    sort: ParticipantSort
    descending: bool
    page: int
    params: dict[str, str]  # the valid parameters as given (kept by every link)
    errors: dict[str, str] = field(default_factory=dict)  # field → reason shown beside it

    def link(self, path: str, **changes: str | int | None) -> str:
        """`path` with these parameters, changed by `changes` (None removes one); a filter or
        sort change goes back to page 1."""
        params = dict(self.params)
        if "page" not in changes:
            params.pop("page", None)
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = str(value)
        ordered = [(k, params[k]) for k in KEYS if k in params]
        return path + ("?" + urlencode(ordered) if ordered else "") + "#participants"

    def sort_link(self, path: str, sort: ParticipantSort) -> str:
        """Sort by `sort`: newest / largest first, or the other way when it is already so sorted."""
        flip = self.sort is sort and self.descending
        return self.link(path, sort=sort.value, dir="asc" if flip else None)


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def read_query(query: Mapping[str, str]) -> ParticipantQuery:
    params: dict[str, str] = {}
    errors: dict[str, str] = {}
    status = next((s for s in UploadStatus if s.value == query.get("status")), None)
    source = next((s for s in InvoiceSource if s.value == query.get("source")), None)
    search = query.get("q", "").strip()[:SEARCH_MAX]
    days: dict[str, dt.date | None] = {}
    for key in ("from", "to"):
        text = query.get(key, "").strip()
        days[key] = _day(text)
        if text and days[key] is None:
            errors[key] = "請輸入日期（年-月-日）"
        elif text:
            params[key] = text
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors["to"] = "結束日期不可早於開始日期"
        days["to"] = None
        params.pop("to")
    sort = next((s for s in ParticipantSort if s.value == query.get("sort")), ParticipantSort.UPLOADED)
    descending = query.get("dir") != "asc"
    number = query.get("page", "1")
    page = int(number) if number.isdigit() and 0 < len(number) < 7 and int(number) > 0 else 1
    for key, value in (("status", status and status.value), ("source", source and source.value), ("q", search),
                       ("sort", query.get("sort") if sort is not ParticipantSort.UPLOADED else None),
                       ("dir", None if descending else "asc"), ("page", str(page) if page > 1 else None)):
        if value:
            params[key] = value
    return ParticipantQuery(ParticipantFilter(status, source, search, days["from"], days["to"]),
                            sort, descending, page, params, errors)

"""管理員's page of the audit log: newest first, 50 a page, filtered by actor and action."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from bot.appkeys import DATABASE
from bot.storage import audit
from console.access import Access
from console.routes import page
from console.templating import render
from flows.campaigns.dates import TAIPEI

PER_PAGE = 50
MAX_PAGE = 1000


def _detail(row: audit.AuditRow) -> str:
    """The entry's details as one line of JSON (escaped by the template, like every value)."""
    shown = {k: v for k, v in row.detail.items() if k != "actor" and v is not None}
    return json.dumps(shown, ensure_ascii=False, default=str)


def _page_number(text: str | None) -> int:
    try:
        return min(max(int(text or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


@page("GET", "/audit", name="audit", access=Access.ADMIN)
async def audit_log(request: web.Request) -> web.StreamResponse:
    actor = request.query.get("actor", "").strip()[:100]
    action = request.query.get("action", "").strip()[:50]
    number = _page_number(request.query.get("page"))
    async with request.config_dict[DATABASE].session() as session:
        found = await audit.search(session, actor=actor or None, action=action or None, limit=PER_PAGE + 1,
                                   offset=(number - 1) * PER_PAGE)
    rows = [{"when": row.at.astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M:%S"), "actor": row.actor,
             "action": row.action, "target": row.target,
             "detail": _detail(row)}
            for row in found[:PER_PAGE]]

    def link(to: int) -> str:
        query = {k: v for k, v in (("actor", actor), ("action", action)) if v}
        return "/console/audit?" + urlencode({**query, "page": to})

    return render(request, "audit.html", rows=rows, actor=actor, action=action, page=number,
                  prev_url=link(number - 1) if number > 1 else None,
                  next_url=link(number + 1) if len(found) > PER_PAGE and number < MAX_PAGE else None)

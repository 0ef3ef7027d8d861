"""The audit log: `record` writes one admin action (who, what, on what, when, before and after);
`search` reads it back with filters, newest first."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AdminUser, AuditEntry, utcnow

SYSTEM_ACTOR = "system"  # scheduled work (the retention purge) has no admin user
SEARCH_LIMIT_MAX = 10_000


def record(session: AsyncSession, *, action: str, target: str, actor: Any = None,
           before: Any = None, after: Any = None, at: dt.datetime | None = None,
           **detail: Any) -> AuditEntry:
    """Add an audit entry to the caller's transaction. `actor` has `.id` and `.name` (an AdminUser
    or the campaign store's Actor); None is the system (the scheduled purge)."""
    entry = AuditEntry(actor_id=actor.id if actor else None, action=action, target=target,
                       detail={"actor": actor.name if actor else SYSTEM_ACTOR, **detail,
                               "before": before, "after": after},
                       at=at or utcnow())
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        detail = {k: v for k, v in self.detail.items() if k != "actor"}
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target": self.target, "before": detail.pop("before", None),
                "after": detail.pop("after", None), "detail": detail}


def _prefix(column: Any, value: str) -> Any:
    """`campaign` matches `campaign` and `campaign.…` / `campaign:…`; a value ending in `*` is a
    plain prefix."""
    escaped = value.rstrip("*").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if value.endswith("*"):
        return column.like(f"{escaped}%", escape="\\")
    return or_(column == value, column.like(f"{escaped}.%", escape="\\"),
               column.like(f"{escaped}:%", escape="\\"))


async def search(session: AsyncSession, *, actor: str | None = None, action: str | None = None,
                 target: str | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 100, offset: int = 0) -> list[AuditRow]:
    """Entries matching every given filter, newest first. `actor` is an admin user's name (or
    `system`); `action` and `target` match exactly or as a dotted/colon prefix (`campaign`
    matches `campaign.save`, `campaign:5`); `since` inclusive, `until` exclusive; `offset` skips
    that many (pages)."""
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise ValueError(f"limit: must be 1..{SEARCH_LIMIT_MAX}")
    if offset < 0:
        raise ValueError("offset: must be >= 0")
    stmt = (select(AuditEntry, AdminUser.name).outerjoin(AdminUser, AdminUser.id == AuditEntry.actor_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset))
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor_id.is_(None) if actor == SYSTEM_ACTOR else AdminUser.name == actor)
    if action:
        stmt = stmt.where(_prefix(AuditEntry.action, action))
    if target:
        stmt = stmt.where(_prefix(AuditEntry.target, target))
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    rows = (await session.execute(stmt)).all()
    return [AuditRow(e.id, e.at, name or (e.detail or {}).get("actor") or SYSTEM_ACTOR, e.action, e.target,
                     dict(e.detail or {})) for e, name in rows]

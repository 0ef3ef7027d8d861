"""The winner draw of a list-only campaign (僅搜集名單) for the CLI and the console: draws among
the campaign's 通過 invoices (flows.campaigns.lottery), keeps the seed and the result in the audit
log (`campaign.lottery`), and reads the past draws back."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.store import Actor, CampaignView
from bot.storage import audit
from bot.storage.models import AuditEntry, Customer, Upload
from flows.campaigns.lottery import Draw, Entry, draw
from flows.campaigns.roles import Permission, require
from flows.campaigns.settings import RewardTiming

ACTION = "campaign.lottery"
PAST_DRAWS_SHOWN = 20


class DrawRefused(ValueError):
    """A draw that cannot be made for this campaign: `reason` is NOT_LIST_ONLY or NOTHING_TO_DRAW."""

    NOT_LIST_ONLY = "not_list_only"
    NOTHING_TO_DRAW = "nothing_to_draw"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Winner:
    place: int
    upload_id: int
    line_user_id: str
    name: str | None
    invoice_number: str | None
    invoice_date: dt.date | None


@dataclass(frozen=True)
class DrawResult:
    draw: Draw
    winners: list[Winner]


@dataclass(frozen=True)
class PastDraw:
    """A draw as the audit log keeps it: when, by whom, its seed, options and winners."""

    at: dt.datetime
    actor: str
    seed: int
    count: int
    one_per_user: bool
    entries: int | None  # 通過 invoices drawn from (None: a draw recorded before it was kept)
    winners: list[Winner]


async def draw_winners(session: AsyncSession, view: CampaignView, count: int, seed: int, *,
                       one_per_user: bool, actor: Actor, now: dt.datetime) -> DrawResult:
    """Draw `count` winners among the 通過 invoices of the list-only campaign `view` (編輯 right
    needed), and audit the draw with its seed, so that `seed` repeats it."""
    require(actor.name, actor.role, Permission.EDIT)
    if view.settings.conditions.reward_timing is not RewardTiming.LIST_ONLY:
        raise DrawRefused(f"campaign {view.id} gives rewards right after passing "
                          f"({RewardTiming.IMMEDIATE.label}); the draw is for {RewardTiming.LIST_ONLY.label} campaigns",
                          DrawRefused.NOT_LIST_ONLY)
    rows = (await session.execute(
        _winner_query().where(Upload.campaign_id == view.id, Upload.status == statuses.PASSED))).all()
    if not rows:
        raise DrawRefused(f"campaign {view.id} has no 通過 invoices to draw from", DrawRefused.NOTHING_TO_DRAW)
    result = draw([Entry(r[0], r[1]) for r in rows], count, seed, one_per_user=one_per_user)
    audit.record(session, action=ACTION, target=f"campaign:{view.id}", actor=actor, at=now,
                 seed=result.seed, count=count, one_per_user=one_per_user,
                 entries=result.entries, users=result.users,
                 winners=[w.entry_id for w in result.winners])
    details = {r[0]: r for r in rows}
    return DrawResult(result, [Winner(place, *details[w.entry_id])
                               for place, w in enumerate(result.winners, start=1)])


def _winner_query():  # noqa: ANN202 - a SQLAlchemy Select
    return (select(Upload.id, Customer.line_user_id, Customer.display_name, Upload.invoice_number,
                   Upload.invoice_date)
            .join(Customer, Customer.id == Upload.customer_id))


async def past_draws(session: AsyncSession, campaign_id: int,
                     limit: int = PAST_DRAWS_SHOWN) -> list[PastDraw]:
    """The campaign's draws, newest first, as kept in the audit log, with their winners' names
    and invoices as they are now (a purge leaves them blank)."""
    rows = (await session.execute(
        select(AuditEntry.at, AuditEntry.detail)
        .where(AuditEntry.action == ACTION, AuditEntry.target == f"campaign:{campaign_id}")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))).all()
    ids = {int(i) for _, detail in rows for i in detail.get("winners", [])}
    found = {r[0]: r for r in (await session.execute(_winner_query().where(Upload.id.in_(ids)))).all()} if ids else {}
    draws = []
    for at, detail in rows:
        winners = [Winner(place, *(found.get(int(i)) or (int(i), "", None, None, None)))
                   for place, i in enumerate(detail.get("winners", []), start=1)]
        draws.append(PastDraw(at, str(detail.get("actor", "")), int(detail["seed"]), int(detail.get("count", 0)),
                              bool(detail.get("one_per_user")), detail.get("entries"), winners))
    return draws

"""`admin-cli audit`: search the audit log (who did what, to what, when, before and after)."""
from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction
from admin_cli.output import add_row, json_text, print_table, table
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.storage import audit

AUDIT_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


def parse_moment(text: str | None, option: str) -> dt.datetime | None:
    """ISO 8601 date or date-time; without an offset it is Asia/Taipei time."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or date-time (2026-11-01 or "
                                 "2026-11-01T09:30)", param_hint=option) from None
    return moment.replace(tzinfo=TAIPEI) if moment.tzinfo is None else moment


def _short(value: object, limit: int = 60) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_command(
    ctx: typer.Context,
    actor: str | None = typer.Option(None, "--actor", help="Admin user name (or `system`)."),
    action: str | None = typer.Option(None, "--action", help="Action or its prefix (campaign, privacy.purge)."),
    target: str | None = typer.Option(None, "--target", help="Target or its prefix, e.g. campaign:5 or user:."),
    since: str | None = typer.Option(None, "--since", help="From (ISO 8601; Taipei time without offset)."),
    until: str | None = typer.Option(None, "--until", help="Before (ISO 8601; Taipei time without offset)."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many entries (up to 10000)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per entry, newest first."),
) -> None:
    """Search the audit log of admin actions, newest first (管理員 and 主管)."""
    from bot.storage import audit

    if limit > audit.SEARCH_LIMIT_MAX:
        raise typer.BadParameter(f"{limit} is more than {audit.SEARCH_LIMIT_MAX}", param_hint="--limit")
    start, end = parse_moment(since, "--since"), parse_moment(until, "--until")

    async def work(session: AsyncSession) -> list[audit.AuditRow]:
        user, role = await acting_user(session, acting_user_name(ctx))
        if role not in AUDIT_ROLES:
            raise CliError(f"{user.name}（{role.label}）may not read the audit log: 管理員、主管 only")
        return await audit.search(session, actor=actor, action=action, target=target, since=start,
                                  until=end, limit=limit)

    rows = in_transaction(work)
    if as_json:
        for row in rows:
            typer.echo(json_text(row.to_dict(), default=str))
        return
    grid = table("時間", "操作者", "動作", "對象", "變更前", "變更後", "內容")
    for row in rows:
        data = row.to_dict()
        add_row(grid, row.at.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M:%S"), row.actor, row.action,
                      row.target, _short(data["before"]), _short(data["after"]), _short(data["detail"]))
    print_table(grid)
    typer.echo(f"{len(rows)} entries")

"""`admin-cli review …`: the review queue (issue 30) — list, show, approve, reject, correct, undo
and bulk decisions — through bot.review.service, as the acting user (--as). Heavy modules
(SQLAlchemy models, the service) are imported inside the commands: start-up stays fast."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import typer

from admin_cli.context import acting_user_name, fail, load_config
from admin_cli.output import JSON_OPTION, add_row, console, display, print_json, print_table, table

review_app = typer.Typer(help="The review queue: flagged, held and appealed uploads, and the decisions.",
                         no_args_is_help=True)

_AGE = re.compile(r"^(\d+)([dhm])$")


def parse_age(text: str) -> dt.timedelta:
    """`3d`, `12h`, `30m` → a timedelta; BadParameter naming --older-than otherwise."""
    match = _AGE.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number and d, h or m (e.g. 2d, 12h, 30m)", param_hint="--older-than")
    number, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: number})


def _run(ctx: typer.Context, work: Any) -> Any:
    """`work(session, actor, config)` in one transaction as the acting user; a refusal (rights,
    a decision taken already, bad input) is one `error:` line, exit 1, nothing applied."""
    import asyncio

    from bot.campaigns.store import UnknownActor, actor_named
    from bot.review.appeals import AppealRefused
    from bot.review.service import ReviewRefused, UploadNotInReview
    from bot.storage.database import Database
    from flows.campaigns.roles import PermissionDenied

    name, config = acting_user_name(ctx), load_config()

    async def run() -> Any:
        db = Database(config.database_url)
        try:
            actor = await actor_named(db, name)
            async with db.session() as session, session.begin():
                return await work(session, actor, config)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except UnknownActor as exc:
        raise fail(f"--as: {exc}") from None
    except (PermissionDenied, ReviewRefused, UploadNotInReview, AppealRefused) as exc:
        raise fail(str(exc)) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _sandbox(config: Any) -> str | None:
    return config.base_url if config.sandbox else None


def _age(delta: dt.timedelta) -> str:
    """How long an upload has waited; never negative (a sandbox's clock may run ahead of ours)."""
    delta = max(delta, dt.timedelta(0))
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d{hours % 24}h" if hours >= 24 else f"{hours}h{int(delta.total_seconds() // 60) % 60}m"


@review_app.command("list")
def list_queue(
    ctx: typer.Context,
    campaign: int | None = typer.Option(None, "--campaign", help="Only this campaign."),
    signal: str | None = typer.Option(None, "--signal", help="Only uploads with this signal (e.g. same_photo)."),
    older_than: str | None = typer.Option(None, "--older-than", help="In review for longer than this (2d, 12h, 30m)."),
    state: list[str] = typer.Option([], "--state", help="Review states (default: flagged and appealed)."),
    cursor: str | None = typer.Option(None, "--cursor", help="The next page (printed under a full page)."),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    as_json: bool = JSON_OPTION,
) -> None:
    """The queue, oldest in review first."""
    from bot.review import service
    from flows.review.signals import parse_kind
    from flows.review.states import parse_state

    try:
        kind = parse_kind(signal) if signal else None
        states = [parse_state(s) for s in state] or None
    except ValueError as exc:
        raise fail(str(exc)) from None
    age = parse_age(older_than) if older_than else None

    async def work(session, actor, config):  # noqa: ANN001, ANN202
        return await service.queue(session, actor=actor, now=_now(), campaign_id=campaign, signal=kind,
                                   older_than=age, state=states, cursor=cursor, limit=limit)

    page = _run(ctx, work)
    if as_json:
        rows = [{**{k: v for k, v in vars(r).items() if k != "age"}, "age_seconds": int(r.age.total_seconds()),
                 "status_label": r.status.label, "review_state_label": r.review_state.label} for r in page.rows]
        print_json({"rows": rows, "next_cursor": page.next_cursor})
        return
    grid = table("上傳 ID", "活動", "使用者", "發票號碼", "金額", "狀態", "審核狀態", "訊號", "等候")
    for r in page.rows:
        add_row(grid, r.upload_id, r.campaign_name, r.user_name or f"#{r.customer_id}", r.invoice_number,
                r.total_amount, r.status.label, r.review_state.label, [k.label for k in r.signals], _age(r.age))
    print_table(grid)
    if page.next_cursor:
        typer.echo(f"next page: --cursor {page.next_cursor}")


@review_app.command("show")
def show(ctx: typer.Context, upload_id: int = typer.Argument(..., metavar="UPLOAD"), as_json: bool = JSON_OPTION) -> None:
    """One upload: MOF's record beside the code's data, the signals in words, the decisions."""
    from bot.review import service

    async def work(session, actor, config):  # noqa: ANN001, ANN202
        return await service.detail(session, upload_id, actor=actor)

    d = _run(ctx, work)
    if as_json:
        print_json(d)
        return
    out = console()
    out.print(f"upload {d.upload_id} — 「{display(d.campaign_name)}」 {display(d.user_name or '')} "
              f"({d.status.label}{'，' + d.review_state.label if d.review_state else ''})")
    code = d.code_data or {}
    grid = table("欄位", "財政部資料", "發票條碼／輸入")
    add_row(grid, "發票號碼", d.invoice_number, "")
    add_row(grid, "開立日期", d.invoice_date, code.get("date"))
    add_row(grid, "總金額", d.total_amount, code.get("total_amount"))
    add_row(grid, "賣方", f"{d.seller_name or ''} {d.seller_ban or ''}", code.get("seller_ban"))
    add_row(grid, "品項", [f"{i['name']} ×{i['quantity']} @{i['unit_price']}" for i in d.items],
            [f"{i['name']} ×{i['quantity']} @{i['unit_price']}" for i in code.get("items") or []])
    print_table(grid, out)
    for s in d.signals:
        out.print(f"• {display(s.label)}：{display(s.sentence)}")
    if d.appeal_note:
        out.print(f"回報問題：{display(d.appeal_note)}")
    for x in d.decisions:
        undone = f"（已由 {x.undone_by} 復原）" if x.undone_at else ""
        out.print(f"#{x.id} {x.kind.label} by {display(x.actor)} {display(x.reason or '')} "
                  f"{display(x.note or '')}{undone}")
    out.print(f"退件原因：{'、'.join(d.reject_reasons)}")


def _decided(result: Any) -> None:
    typer.echo(f"decision {result.decision_id}: upload {result.upload_id} {result.kind.label} → "
               f"{result.review_state.label}（{result.status.label}）")


@review_app.command("approve")
def approve(ctx: typer.Context, upload_id: int = typer.Argument(..., metavar="UPLOAD")) -> None:
    """Approve: the held reward goes out and the user gets their result."""
    from bot.review import service

    _decided(_run(ctx, lambda s, a, c: service.approve(s, upload_id, actor=a, now=_now(),
                                                      sandbox_base_url=_sandbox(c))))


@review_app.command("reject")
def reject(ctx: typer.Context, upload_id: int = typer.Argument(..., metavar="UPLOAD"),
           reason: str = typer.Option(..., "--reason", help="One of the campaign's reject reasons."),
           note: str | None = typer.Option(None, "--note", help="Free text the user reads too.")) -> None:
    """Reject with a reason (the user is told it); nothing is deleted."""
    from bot.review import service

    _decided(_run(ctx, lambda s, a, c: service.reject(s, upload_id, reason, note, actor=a, now=_now())))


@review_app.command("correct")
def correct(ctx: typer.Context, upload_id: int = typer.Argument(..., metavar="UPLOAD"),
            amount: int | None = typer.Option(None, "--amount", help="總金額 (NT$)."),
            date: str | None = typer.Option(None, "--date", help="開立日期 YYYY-MM-DD."),
            seller_name: str | None = typer.Option(None, "--seller-name"),
            seller_ban: str | None = typer.Option(None, "--seller-ban")) -> None:
    """Correct misread fields and run the rules again (the upload stays in review)."""
    from bot.review import service

    fields = {k: v for k, v in {"total_amount": amount, "invoice_date": date, "seller_name": seller_name,
                                "seller_ban": seller_ban}.items() if v is not None}
    _decided(_run(ctx, lambda s, a, c: service.correct(s, upload_id, fields, actor=a, now=_now())))


@review_app.command("undo")
def undo(ctx: typer.Context, decision_id: int = typer.Argument(..., metavar="DECISION")) -> None:
    """Undo an approval or rejection while its reward has not been sent."""
    from bot.review import service

    _decided(_run(ctx, lambda s, a, c: service.undo(s, decision_id, actor=a, now=_now())))


@review_app.command("bulk")
def bulk(ctx: typer.Context, decision: str = typer.Argument(..., help="approve or reject"),
         upload_ids: list[int] = typer.Argument(..., metavar="UPLOAD..."),
         reason: str | None = typer.Option(None, "--reason"), note: str | None = typer.Option(None, "--note"),
         yes: int = typer.Option(0, "--yes", count=True, help="Give twice to confirm without the prompt.")) -> None:
    """Approve or reject many: shows how many users it touches, then needs --yes --yes or that number typed."""
    from bot.review import service
    from flows.review.states import DecisionKind

    try:
        kind = DecisionKind(decision)
    except ValueError:
        raise typer.BadParameter("approve or reject", param_hint="DECISION") from None
    preview = _run(ctx, lambda s, a, c: service.bulk_preview(s, kind, upload_ids, actor=a))
    typer.echo(f"{kind.label} {len(preview.upload_ids)} uploads of {preview.users} LINE users"
               + (f" (skipped: {', '.join(map(str, preview.skipped))})" if preview.skipped else ""))
    if not preview.upload_ids:
        raise fail("nothing to decide")
    if yes < 2:
        typed = typer.prompt(f"type the number of users ({preview.users}) to confirm", default="")
        if typed.strip() != str(preview.users):
            raise fail("not confirmed: nothing decided")
    done = _run(ctx, lambda s, a, c: service.bulk(s, kind, preview.upload_ids, actor=a, now=_now(),
                                                  confirmed_users=preview.users, reason=reason, free_text=note,
                                                  sandbox_base_url=_sandbox(c)))
    typer.echo(f"decided {len(done.decided)}; skipped {len(done.skipped)}")

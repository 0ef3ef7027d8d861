"""`admin-cli crm …`: Backme (挖貝) donation pages, contribution search, failed transactions and
the email outbox. Secrets (the Backme secret) come from the environment or a hidden prompt and
are never echoed."""
from __future__ import annotations

import json
import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, fail, with_database
from admin_cli.output import add_row, json_text, print_table, table
from admin_cli.output import console as terminal
from flows.backme.statuses import ContributionStatus

if TYPE_CHECKING:
    from bot.storage.crm_models import Contribution, DonationPage, EmailOutbox
    from bot.storage.database import Database

crm_app = typer.Typer(help="Backme → CRM: donation pages, contributions, contacts, receipts, email outbox.",
                     no_args_is_help=True)
pages_app = typer.Typer(help="CRM donation pages fed by Backme.", no_args_is_help=True)
contributions_app = typer.Typer(help="Search contributions.", no_args_is_help=True)
outbox_app = typer.Typer(help="The receipt / confirmation email outbox.", no_args_is_help=True)
crm_app.add_typer(pages_app, name="pages")
crm_app.add_typer(contributions_app, name="contributions")
crm_app.add_typer(outbox_app, name="outbox")

SECRET_ENV = "BACKME_SECRET"
STATS_URL_ENV = "BACKME_STATS_URL"
console = terminal()  # sized to the terminal; kept for crm commands written before admin_cli.output


_run = with_database


def _json_file(path: Optional[Path], field: str) -> Any:  # noqa: ANN401
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"{field}: cannot read JSON from {path}: {exc}") from None


def _status_label(code: str) -> str:
    try:
        return ContributionStatus(code).label
    except ValueError:
        return code


async def as_editor(db: Database, ctx_actor: str, what: str) -> Any:  # noqa: ANN401
    """The acting admin user, who must be allowed to edit; else a CLI error."""
    from flows.campaigns.roles import Permission, can

    async with db.session() as session:
        try:
            actor, role = await acting_user(session, ctx_actor)
        except CliError as exc:
            raise fail(str(exc)) from None
        if not can(role, Permission.EDIT):
            raise fail(f"{actor.name}（{role.label}）may not {what}")
        return actor


@pages_app.command("add")
def pages_add(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="URL key: Backme posts to /backme/KEY."),
    name: str = typer.Option(..., help="Page name."),
    financial_type: str = typer.Option(..., help="費用類型."),
    receipt_prefix: str = typer.Option("", help="收據編號前綴."),
    e_receipt: bool = typer.Option(False, "--e-receipt", help="Email receipts automatically."),
    confirmation_subject: str = typer.Option("", help="付款成功確認信 subject (Jinja2)."),
    confirmation_template: Optional[Path] = typer.Option(None, help="付款成功確認信 body file (Jinja2)."),
    custom_fields: Optional[Path] = typer.Option(None, help="JSON file: Backme custom field → CRM field."),
    receipt_names: Optional[Path] = typer.Option(None, help="JSON file: receipt option value → display name."),
    reverse_sync: bool = typer.Option(False, "--reverse-sync", help="Expose CRM-side totals."),
    link_name: Optional[str] = typer.Option(None, help="Backme project name shown on the page."),
    link_url: Optional[str] = typer.Option(None, help="Backme project URL shown on the page."),
) -> None:
    """Add a page. The Backme secret is read from $BACKME_SECRET or a hidden prompt; the stats API
    URL (it carries a token) from $BACKME_STATS_URL. The acting user's role is checked before
    the secret is asked for."""
    from sqlalchemy.exc import IntegrityError

    from bot.backme.pages import PAGE_KEY, PageSettingsError, parse_field_mapping, parse_receipt_option_names
    from bot.backme.receipts import validate_template
    from bot.backme.reverse import StatsError, split_stats_url
    from bot.storage.crm_models import DonationPage
    from bot.storage.models import AuditEntry

    if not PAGE_KEY.fullmatch(key):
        raise fail("key: use 1-64 lower-case letters, digits, '-' or '_'")
    if not name.strip():
        raise fail("name: must not be empty")
    if not financial_type.strip():
        raise fail("financial_type: must not be empty")
    if len(receipt_prefix) > 30:
        raise fail("receipt_prefix: at most 30 characters")
    template = ""
    if confirmation_template is not None:
        try:
            template = confirmation_template.read_text(encoding="utf-8")
        except OSError as exc:
            raise fail(f"confirmation_template: {exc}") from None
    try:
        validate_template(template)
        validate_template(confirmation_subject)
        mapping = _json_file(custom_fields, "custom_fields")
        parse_field_mapping(mapping)
        names = _json_file(receipt_names, "receipt_names")
        parse_receipt_option_names(names)
    except (ValueError, PageSettingsError) as exc:
        raise fail(str(exc)) from None
    if link_url is not None and not link_url.startswith(("http://", "https://")):
        raise fail("link_url: must be an http(s) URL")
    api_base = project_id = api_token = None
    stats_url = os.environ.get(STATS_URL_ENV, "").strip()
    if stats_url:
        try:
            api_base, project_id, api_token = split_stats_url(stats_url)
        except StatsError as exc:
            raise fail(f"{STATS_URL_ENV}: {exc}") from None
    actor_name = acting_user_name(ctx)
    _run(lambda db: as_editor(db, actor_name, "add donation pages"))  # refused before any question
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        secret = typer.prompt("Backme secret", hide_input=True).strip()
    if len(secret) < 8:
        raise fail("backme_secret: at least 8 characters")
    reverse_token = secrets.token_urlsafe(24) if reverse_sync else None

    async def work(db: Database) -> None:
        actor = await as_editor(db, actor_name, "add donation pages")
        async with db.session() as session:
            session.add(AuditEntry(actor_id=actor.id, action="crm.page.add", target=f"page:{key}",
                                   detail={"name": name.strip(), "reverse_sync": reverse_sync}))
            session.add(DonationPage(
                key=key, name=name.strip(), backme_secret=secret, financial_type=financial_type.strip(),
                receipt_prefix=receipt_prefix, confirmation_subject=confirmation_subject,
                confirmation_template=template, e_receipt_enabled=e_receipt, custom_field_mapping=mapping or {},
                receipt_option_names=names or {}, reverse_sync_enabled=reverse_sync,
                reverse_sync_token=reverse_token, backme_api_base=api_base, backme_project_id=project_id,
                backme_api_token=api_token, link_name=link_name, link_url=link_url))
            try:
                await session.commit()
            except IntegrityError:
                raise fail(f"key: page {key!r} already exists") from None

    _run(work)
    typer.echo(f"page {key} added: Backme posts to /backme/{key}")
    if reverse_token:
        typer.echo(f"reverse-sync token (shown once; give it to Backme): {reverse_token}")


@pages_app.command("list")
def pages_list() -> None:
    """List pages (no secrets)."""
    from sqlalchemy import select

    from bot.storage.crm_models import DonationPage

    async def work(db: Database) -> list[DonationPage]:
        async with db.session() as session:
            return list((await session.execute(select(DonationPage).order_by(DonationPage.key))).scalars().all())

    grid = table("key", "name", "financial type", "prefix", "e-receipt", "reverse sync", "Backme total")
    for p in _run(work):
        total = "-" if p.backme_money is None else f"{p.backme_money:.0f} / {p.backme_count}"
        add_row(grid, p.key, p.name, p.financial_type, p.receipt_prefix, "yes" if p.e_receipt_enabled else "no",
                "yes" if p.reverse_sync_enabled else "no", total)
    print_table(grid)


def _contribution_json(c: Contribution, page_key: str) -> dict[str, Any]:
    return {"page": page_key, "processor": c.processor, "trade_no": c.trade_no, "amount": str(c.amount),
            "status": c.status, "status_label": _status_label(c.status), "reason": c.status_reason,
            "receipt_number": c.receipt_number, "receipt_option": c.receipt_option,
            "updated_at": c.order_updated_at.isoformat()}


async def _search(db: Database, *, processor: Optional[str], page: Optional[str], trade_no: Optional[str],
                  status: Optional[str], limit: int) -> list[tuple[Contribution, str]]:
    from sqlalchemy import select

    from bot.storage.crm_models import Contribution, DonationPage

    stmt = select(Contribution, DonationPage.key).join(DonationPage, DonationPage.id == Contribution.page_id)
    if processor:
        stmt = stmt.where(Contribution.processor == processor)
    if page:
        stmt = stmt.where(DonationPage.key == page)
    if trade_no:
        stmt = stmt.where(Contribution.trade_no == trade_no)
    if status:
        stmt = stmt.where(Contribution.status == status)
    stmt = stmt.order_by(Contribution.id.desc()).limit(limit)
    async with db.session() as session:
        return [(c, key) for c, key in (await session.execute(stmt)).all()]


def _print(rows: list[tuple[Contribution, str]], as_json: bool, with_reason: bool) -> None:
    if as_json:
        for c, key in rows:
            typer.echo(json_text(_contribution_json(c, key)))
        return
    columns = ["page", "processor", "trade no", "amount", "status", "receipt no."] + (["reason"] if with_reason else [])
    grid = table(*columns)
    for c, key in rows:
        cells = [key, c.processor, c.trade_no, f"{Decimal(c.amount):.0f}", _status_label(c.status), c.receipt_number or ""]
        add_row(grid, *(cells + ([c.status_reason or ""] if with_reason else [])))
    print_table(grid)


@contributions_app.command("search")
def contributions_search(
    processor: Optional[str] = typer.Option(None, help="金流機制, e.g. 挖貝."),
    page: Optional[str] = typer.Option(None, help="Page key."),
    trade_no: Optional[str] = typer.Option(None, help="交易編號."),
    status: Optional[str] = typer.Option(None, help="pending | completed | failed | cancelled."),
    limit: int = typer.Option(100, min=1, max=10000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Search contributions by processor, page and transaction ID."""
    if status is not None and status not in {s.value for s in ContributionStatus}:
        raise fail("status: must be pending, completed, failed or cancelled")
    rows = _run(lambda db: _search(db, processor=processor, page=page, trade_no=trade_no, status=status, limit=limit))
    _print(rows, as_json, with_reason=False)


@contributions_app.command("failed")
def contributions_failed(
    page: Optional[str] = typer.Option(None, help="Page key."),
    limit: int = typer.Option(100, min=1, max=10000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Failed transactions with their reasons (to follow up with the donors)."""
    rows = _run(lambda db: _search(db, processor=None, page=page, trade_no=None,
                                   status=ContributionStatus.FAILED.value, limit=limit))
    _print(rows, as_json, with_reason=True)


@outbox_app.command("status")
def outbox_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """How many emails are queued, being sent, sent and failed; the latest failures."""
    from sqlalchemy import select

    from bot.backme.emails import outbox_counts
    from bot.storage.crm_models import EmailOutbox

    async def work(db: Database) -> tuple[dict[str, int], list[EmailOutbox]]:
        async with db.session() as session:
            counts = await outbox_counts(session)
            failed = (await session.execute(select(EmailOutbox).where(EmailOutbox.last_error.is_not(None))
                                            .order_by(EmailOutbox.id.desc()).limit(20))).scalars().all()
            return counts, list(failed)

    counts, failed = _run(work)
    states = {s: counts.get(s, 0) for s in ("queued", "sending", "sent", "failed")}
    if as_json:
        typer.echo(json_text(states))
        return
    grid = table("state", "count")
    for state, count in states.items():
        add_row(grid, state, count)
    print_table(grid)
    if failed:
        errors = table("id", "kind", "state", "attempts", "last error")
        for row in failed:
            add_row(errors, row.id, row.kind, row.state, row.attempts, row.last_error)
        print_table(errors)


# Registers `crm contacts`, `crm receipts`, `crm pages receipt-options` and `crm contributions add/import`.
from admin_cli import crm_records  # noqa: E402,F401

"""`admin-cli messages …`: a campaign's system messages (fixed seed texts) and custom messages
(templates marketers edit): list them, edit a custom template from a file or in $EDITOR (refused
with the line and reason when it would not render into a valid LINE flex message), preview it
with sample data as flex JSON, and reset it to the default. Every change is audited."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from admin_cli.campaign_access import checked
from admin_cli.context import CliError, acting_user, acting_user_name, fail, in_transaction, load_config, with_database
from admin_cli.output import add_row, console, json_text, table
from flows.campaigns.describe import when
from flows.messages.billing import Billing
from flows.messages.custom import CustomKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.campaigns.store import Actor
    from bot.storage.database import Database
    from bot.storage.models import Campaign, MessageTemplate
    from flows.messages.invoice_facts import InvoiceFacts

messages_app = typer.Typer(help="System and custom messages of a campaign.", no_args_is_help=True)

KIND_HELP = "one of: " + ", ".join(f"{k.value} ({k.label})" for k in CustomKind)
SOURCE_MAX_BYTES = 200_000
_BILLING_LABELS = {Billing.NEVER: "否", Billing.ALWAYS: "是", Billing.AFTER_FIRST_OF_BATCH: "同批第 2 張起"}


def parse_kind(text: str) -> CustomKind:
    for kind in CustomKind:
        if text in (kind.value, kind.label, kind.label.removesuffix("訊息")):
            return kind
    raise typer.BadParameter(f"unknown custom message {text!r}; {KIND_HELP}", param_hint="KIND")


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    from bot.storage.models import Campaign

    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}")
    return campaign


async def _saved(session: AsyncSession, campaign_id: int, kind: CustomKind) -> MessageTemplate | None:
    from sqlalchemy import select

    from bot.storage.models import MessageTemplate

    return await session.scalar(select(MessageTemplate).where(
        MessageTemplate.campaign_id == campaign_id, MessageTemplate.kind == kind.value))


def _read_source(path: Path) -> str:
    from admin_cli.streams import read_limited

    raw = read_limited(path, SOURCE_MAX_BYTES)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{'standard input' if str(path) == '-' else path}: not UTF-8 text (byte {exc.start})") from None


def _example_invoice() -> InvoiceFacts:
    from flows.messages.invoice_facts import InvoiceFacts

    return InvoiceFacts("AB12345678", dt.date(2024, 1, 1), "1234")


# --- list -------------------------------------------------------------------------------------------

@messages_app.command("list")
def list_messages(campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """The campaign's system messages (fixed) and custom messages (default or customised)."""
    from sqlalchemy import select

    from bot.campaigns.messages import UNCHECKED_LABEL
    from bot.storage.models import MessageTemplate
    from flows.messages.system import SystemKind, system_text

    async def work(session: AsyncSession) -> dict[str, MessageTemplate]:
        await _campaign(session, campaign_id)
        rows = await session.scalars(select(MessageTemplate).where(MessageTemplate.campaign_id == campaign_id))
        return {row.kind: row for row in rows}

    saved = in_transaction(work)
    system = table("系統訊息", "內容（不可編輯）", "按鈕", "計費", title="系統訊息")
    for kind in SystemKind:
        invoice = _example_invoice() if kind.spec.needs_invoice else None
        buttons = "拍照上傳、手動上傳、電子載具" if kind.has_upload_buttons else "–"
        add_row(system, kind.label, system_text(kind, invoice), buttons, _BILLING_LABELS[kind.billing])
    custom = table("kind", "自訂訊息", "內容", "按鈕", "計費", "更新時間", title="自訂訊息")
    for kind in CustomKind:
        row = saved.get(kind.value)
        add_row(custom, kind.value, kind.label,
                (f"自訂（{UNCHECKED_LABEL}）" if row.awaiting_line_check else "自訂") if row else "預設",
                "拍照上傳、手動上傳、電子載具" if kind.has_upload_buttons else "–",
                _BILLING_LABELS[kind.billing], when(row.updated_at) if row else "")
    out = console()
    out.print(system)
    out.print(custom)
    if any(row.awaiting_line_check for row in saved.values()):
        out.print(f"{UNCHECKED_LABEL}: saved while LINE could not be reached; "
                  f"`admin-cli messages check {campaign_id}` asks LINE now")


# --- edit -------------------------------------------------------------------------------------------

def _current(campaign_id: int, kind: CustomKind) -> tuple[str, str | None]:
    async def work(session: AsyncSession) -> tuple[str, str | None]:
        await _campaign(session, campaign_id)
        row = await _saved(session, campaign_id, kind)
        if row is None:
            return kind.defaults[0].bubble, None
        return row.source, row.alt_text

    return in_transaction(work)


def _errors_line(errors: list[str]) -> str:
    return "template refused: " + "; ".join(errors)


@messages_app.command("edit")
def edit(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind_text: str = typer.Argument(..., metavar="KIND", help=KIND_HELP),
    file: Path | None = typer.Option(None, "--file", "-f", help="Template source (Jinja2 → flex JSON; - reads "
                                     "stdin)."),
    alt_text: str | None = typer.Option(None, "--alt-text", help="Alternative text (Jinja2 source ≤ 400 "
                                        "characters; rendered ≤ 1500 UTF-16 code units)."),
) -> None:
    """Save a custom message template (from --file, or edit the current one in $EDITOR).
    The template is validated with sample, hostile and empty values before it is saved, and by
    LINE's validate endpoint when the campaign's channel has an access token."""
    from bot.campaigns.messages import CHECKED_OFFLINE, UNCHECKED_LABEL, TemplateRefused, save_template
    from bot.campaigns.store import CampaignNotFound, UnknownActor, actor_named
    from flows.campaigns.roles import PermissionDenied

    kind = parse_kind(kind_text)
    if file is not None:
        source = checked(_read_source, file)
    else:
        from admin_cli.editor import edit_text

        current, _ = _current(campaign_id, kind)
        edited = checked(edit_text, current, ".json.j2")
        if edited is None:
            typer.echo(f"campaign {campaign_id} {kind.label}: no changes")
            return
        source = edited

    config = load_config()

    async def work(db: Database) -> str:
        try:
            actor = await actor_named(db, acting_user_name(ctx))
            checked_by = await save_template(db, config, actor, campaign_id, kind, source, alt_text,
                                             dt.datetime.now(dt.timezone.utc), keep_alt_text=True)
        except TemplateRefused as exc:
            raise fail(_errors_line(exc.errors) if exc.field == "template" else exc.errors[0]) from None
        except (PermissionDenied, CampaignNotFound, UnknownActor) as exc:
            raise fail(str(exc)) from None
        if checked_by == CHECKED_OFFLINE:
            return (f"saved the {kind.label} of campaign {campaign_id}, {UNCHECKED_LABEL} (not yet checked by LINE: "
                    f"LINE could not be reached; checked against LINE's limits here); "
                    f"`admin-cli messages check {campaign_id}` completes the check")
        return f"saved the {kind.label} of campaign {campaign_id} ({_checked_by(checked_by)})"

    typer.echo(with_database(work))


def _checked_by(outcome: str) -> str:
    """How a saved template was checked, in words (bot.campaigns.messages' CHECKED_* values)."""
    from bot.campaigns.messages import CHECKED_BY_LINE, CHECKED_BY_SIMULATOR, CHECKED_LOCALLY

    return {CHECKED_BY_LINE: "checked by LINE", CHECKED_BY_SIMULATOR: "checked by the LINE simulator (sandbox)",
            CHECKED_LOCALLY: "checked against LINE's limits here; the channel has no access token to ask LINE"}[outcome]


@messages_app.command("check")
def check(
    ctx: typer.Context,
    campaign_id: int | None = typer.Argument(None, metavar="[CAMPAIGN]", help="Only this campaign's messages."),
) -> None:
    """Ask LINE about the custom messages saved while it could not be reached (marked
    尚未經 LINE 驗證): a message LINE accepts loses its mark. Exits 1 while any stays marked."""
    from bot.campaigns.messages import CHECKED_OFFLINE, UNCHECKED_LABEL, TemplateCheck, check_templates
    from bot.campaigns.store import CampaignNotFound, UnknownActor, actor_named
    from flows.campaigns.roles import PermissionDenied

    config = load_config()

    async def work(db: Database) -> list[TemplateCheck]:
        try:
            actor = await actor_named(db, acting_user_name(ctx))
            return await check_templates(db, config, actor, dt.datetime.now(dt.timezone.utc), campaign_id=campaign_id)
        except (PermissionDenied, CampaignNotFound, UnknownActor) as exc:
            raise fail(str(exc)) from None

    results = with_database(work)
    if not results:
        typer.echo("no message is waiting for LINE's check")
        return
    for result in results:
        what = f"campaign {result.campaign_id} {result.kind.value} ({result.kind.label})"
        if result.outcome == "refused":
            typer.echo(f"{what}: {UNCHECKED_LABEL}: {result.reason}")
        elif result.outcome == CHECKED_OFFLINE:
            typer.echo(f"{what}: {UNCHECKED_LABEL}: LINE still cannot be reached")
        else:
            typer.echo(f"{what}: {_checked_by(result.outcome)}")
    if any(r.outcome in ("refused", CHECKED_OFFLINE) for r in results):
        raise typer.Exit(1)


async def _editor_of(session: AsyncSession, ctx: typer.Context, campaign_id: int,
                     kind: CustomKind) -> tuple[Actor, dt.datetime]:
    """The acting user, if their role may edit and the campaign's status lets its verification
    messages change now; else a CliError naming why."""
    from bot.campaigns.messages import TemplateRefused, edit_status
    from bot.campaigns.store import Actor
    from flows.campaigns.roles import PermissionDenied

    user, role = await acting_user(session, acting_user_name(ctx))
    actor = Actor(user.id, user.name, role)
    moment = dt.datetime.now(dt.timezone.utc)
    try:
        await edit_status(session, actor, await _campaign(session, campaign_id), kind, moment)
    except (PermissionDenied, TemplateRefused) as exc:
        raise CliError(str(exc)) from None
    return actor, moment


@messages_app.command("reset")
def reset(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind_text: str = typer.Argument(..., metavar="KIND", help=KIND_HELP),
) -> None:
    """Go back to the default zh-TW template of a custom message."""
    from sqlalchemy import delete

    from bot.storage.models import AuditEntry, MessageTemplate

    kind = parse_kind(kind_text)

    async def work(session: AsyncSession) -> str:
        actor, moment = await _editor_of(session, ctx, campaign_id, kind)
        row = await _saved(session, campaign_id, kind)
        if row is None:
            return f"the {kind.label} of campaign {campaign_id} is already the default"
        before = {"source": row.source, "alt_text": row.alt_text}
        await session.execute(delete(MessageTemplate).where(
            MessageTemplate.campaign_id == campaign_id, MessageTemplate.kind == kind.value))
        session.add(AuditEntry(actor_id=actor.id, action="campaign.message.reset", target=f"campaign:{campaign_id}",
                               detail={"actor": actor.name, "kind": kind.value, "before": before, "after": None},
                               at=moment))
        return f"reset the {kind.label} of campaign {campaign_id} to the default"

    typer.echo(in_transaction(work))


# --- preview ----------------------------------------------------------------------------------------

@messages_app.command("preview")
def preview(
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind_text: str = typer.Argument(..., metavar="KIND", help=KIND_HELP),
    file: Path | None = typer.Option(None, "--file", "-f", help="Preview this source instead of the saved one "
                                     "(- reads stdin)."),
    alt_text: str | None = typer.Option(None, "--alt-text", help="Alternative text to preview with --file."),
) -> None:
    """Render the message with sample data and print the LINE messages as JSON."""
    from bot.campaigns.messages import preview_messages, preview_variables
    from bot.line.templates import render_default_messages

    kind = parse_kind(kind_text)
    source = checked(_read_source, file) if file is not None else None

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        campaign = await _campaign(session, campaign_id)
        variables = preview_variables(kind, campaign)
        defaults = render_default_messages(kind, variables, has_coupon=True)
        row = await _saved(session, campaign_id, kind)
        text, alt = (source, alt_text) if source is not None else ((row.source, row.alt_text) if row else (None, None))
        if text is None:
            return defaults
        messages, errors = preview_messages(kind, text, alt, variables)
        if errors:
            raise CliError(_errors_line(errors))
        return messages

    messages = in_transaction(work)
    typer.echo(json_text(messages, indent=2))
    config = load_config()
    if config.sandbox:
        typer.echo(f"sandbox chat: {config.base_url}/sandbox", err=True)



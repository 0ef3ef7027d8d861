"""`admin-cli messages …`: a campaign's system messages (fixed seed texts) and custom messages
(templates marketers edit): list them, edit a custom template from a file or in $EDITOR (refused
with the line and reason when it would not render into a valid LINE flex message), preview it
with sample data as flex JSON, and reset it to the default. Every change is audited."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_cli.campaign_access import checked
from admin_cli.campaigns import when
from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction, load_config
from admin_cli.editor import edit_text
from admin_cli.output import add_row, console, table
from bot.line.templates import render_default_messages, render_message, validate_template
from bot.chat.channels import DEFAULT_CHANNEL
from bot.config import Config
from bot.line.validation import LineCheckUnavailable, channel_token, line_refusals
from bot.storage.models import AdminUser, AuditEntry, Campaign, Channel, MessageTemplate
from flows.campaigns.lifecycle import CampaignStatus, check_edit, status_of
from flows.campaigns.roles import Permission, can
from flows.messages.billing import Billing
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind, system_text
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
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}")
    return campaign


async def _saved(session: AsyncSession, campaign_id: int, kind: CustomKind) -> MessageTemplate | None:
    return await session.scalar(select(MessageTemplate).where(
        MessageTemplate.campaign_id == campaign_id, MessageTemplate.kind == kind.value))


def _read_source(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > SOURCE_MAX_BYTES:
        raise CliError(f"{path}: larger than {SOURCE_MAX_BYTES} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _example_invoice() -> InvoiceFacts:
    return InvoiceFacts("AB12345678", dt.date(2024, 1, 1), "1234")


# --- list -------------------------------------------------------------------------------------------

@messages_app.command("list")
def list_messages(campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """The campaign's system messages (fixed) and custom messages (default or customised)."""

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
        add_row(custom, kind.value, kind.label, "自訂" if row else "預設",
                "拍照上傳、手動上傳、電子載具" if kind.has_upload_buttons else "–",
                _BILLING_LABELS[kind.billing], when(row.updated_at) if row else "")
    out = console()
    out.print(system)
    out.print(custom)


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
    file: Path | None = typer.Option(None, "--file", "-f", help="Template source (Jinja2 → flex JSON)."),
    alt_text: str | None = typer.Option(None, "--alt-text", help="Alternative text (Jinja2 source ≤ 400 "
                                        "characters; rendered ≤ 1500 UTF-16 code units)."),
) -> None:
    """Save a custom message template (from --file, or edit the current one in $EDITOR).
    The template is validated with sample, hostile and empty values before it is saved, and by
    LINE's validate endpoint when the campaign's channel has an access token."""
    kind = parse_kind(kind_text)
    if file is not None:
        source = checked(_read_source, file)
    else:
        current, _ = _current(campaign_id, kind)
        edited = checked(edit_text, current, ".json.j2")
        if edited is None:
            typer.echo(f"campaign {campaign_id} {kind.label}: no changes")
            return
        source = edited

    config = load_config()

    async def work(session: AsyncSession) -> str:
        actor, status, moment = await _editor_of(session, ctx, campaign_id, kind)
        row = await _saved(session, campaign_id, kind)
        alt = alt_text if alt_text is not None else (row.alt_text if row else None)
        errors = validate_template(kind, source, alt_text=alt)
        if errors:
            raise CliError(_errors_line(errors))
        await _check_with_line(session, config, campaign_id, kind, source, alt)
        before = {"source": row.source, "alt_text": row.alt_text} if row else None
        if row is None:
            row = MessageTemplate(campaign_id=campaign_id, kind=kind.value, source=source, alt_text=alt,
                                  updated_by=actor.id, updated_at=moment)
            session.add(row)
        else:
            row.source, row.alt_text, row.updated_by, row.updated_at = source, alt, actor.id, moment
        session.add(AuditEntry(actor_id=actor.id, action="campaign.message.save", target=f"campaign:{campaign_id}",
                               detail={"actor": actor.name, "kind": kind.value, "status": status.value,
                                       "before": before, "after": {"source": source, "alt_text": alt}},
                               at=moment))
        return f"saved the {kind.label} of campaign {campaign_id}"

    typer.echo(in_transaction(work))


async def _check_with_line(session: AsyncSession, config: Config, campaign_id: int, kind: CustomKind,
                           source: str, alt: str | None) -> None:
    """When the campaign's channel is configured (an access token), LINE's validate endpoint must
    accept the template rendered with the preview values."""
    campaign = await _campaign(session, campaign_id)
    channel = await session.get(Channel, campaign.channel_id)
    token = channel_token(config, channel.access_token if channel else None,
                          channel is not None and channel.name == DEFAULT_CHANNEL)
    if not token:
        return
    message = render_message(kind, source, alt or kind.defaults[0].alt_text, preview_variables(kind, campaign))
    try:
        refusals = await line_refusals(token, config, [message])
    except LineCheckUnavailable as exc:
        raise CliError(f"template not saved: {exc}") from None
    if refusals:
        raise CliError("template refused by LINE: " + "; ".join(refusals))


async def _editor_of(session: AsyncSession, ctx: typer.Context, campaign_id: int,
                     kind: CustomKind) -> tuple[AdminUser, CampaignStatus, dt.datetime]:
    """The acting user, if their role may edit and the campaign's status lets its verification
    messages change now; else a CliError naming why."""
    actor, role = await acting_user(session, acting_user_name(ctx))
    if not can(role, Permission.EDIT):
        raise CliError(f"{actor.name}（{role.label}）沒有發票活動的「{Permission.EDIT.label}」權限")
    campaign = await _campaign(session, campaign_id)
    moment = dt.datetime.now(dt.timezone.utc)
    status = status_of(campaign.published_at, campaign.paused, campaign.start_at, campaign.end_at, moment)
    refusals = check_edit(status, [f"messages.{kind.value}"])
    if refusals:
        raise CliError(refusals[0].message)
    return actor, status, moment


@messages_app.command("reset")
def reset(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind_text: str = typer.Argument(..., metavar="KIND", help=KIND_HELP),
) -> None:
    """Go back to the default zh-TW template of a custom message."""
    kind = parse_kind(kind_text)

    async def work(session: AsyncSession) -> str:
        actor, status, moment = await _editor_of(session, ctx, campaign_id, kind)
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

def preview_variables(kind: CustomKind, campaign: Campaign) -> dict[str, Any]:
    """Sample values, with the campaign's own name, end time and rules link."""
    values = kind.sample_variables()
    values.update(campaign_name=campaign.name, rules_url=campaign.rules_url, campaign_end=when(campaign.end_at))
    return {k: v for k, v in values.items() if k in {var.name for var in kind.variables}}


@messages_app.command("preview")
def preview(
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind_text: str = typer.Argument(..., metavar="KIND", help=KIND_HELP),
    file: Path | None = typer.Option(None, "--file", "-f", help="Preview this source instead of the saved one."),
    alt_text: str | None = typer.Option(None, "--alt-text", help="Alternative text to preview with --file."),
) -> None:
    """Render the message with sample data and print the LINE messages as JSON."""
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
        errors = validate_template(kind, text, alt_text=alt)
        if errors:
            raise CliError(_errors_line(errors))
        return [render_message(kind, text, alt or kind.defaults[0].alt_text, variables), *defaults[1:]]

    messages = in_transaction(work)
    typer.echo(json.dumps(messages, ensure_ascii=False, indent=2))
    config = load_config()
    if config.sandbox:
        typer.echo(f"sandbox chat: {config.base_url}/sandbox", err=True)



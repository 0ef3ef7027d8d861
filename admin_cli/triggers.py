"""`admin-cli triggers …`: what sends a campaign's invoice card — keyword auto-replies (exact or
contains), rich-menu postbacks, bot modules — plus the keyword link and its QR code."""
from __future__ import annotations

from pathlib import Path

import segno
import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction
from admin_cli.output import add_row, print_table, table
from bot.storage.models import AuditEntry, Campaign, Channel, Trigger
from flows.campaigns.roles import Permission, can
from flows.conversation.triggers import Trigger as DomainTrigger
from flows.conversation.triggers import TriggerKind, keyword_link

triggers_app = typer.Typer(help="Card triggers, keyword links and QR codes.", no_args_is_help=True)


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}")
    return campaign


@triggers_app.command("add")
def add(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN", help="Campaign ID."),
    keyword: str | None = typer.Option(None, "--keyword", help="Keyword auto-reply (exact match)."),
    contains: bool = typer.Option(False, "--contains", help="Match messages that contain the keyword."),
    postback: str | None = typer.Option(None, "--postback", help="Rich-menu postback data."),
    module: str | None = typer.Option(
        None, "--module", help="Bot module ID that shows the card (run by a postback `module=<ID>`)."),
) -> None:
    """Add one trigger for a campaign's card."""
    given = [(k, v) for k, v in (("keyword", keyword), ("postback", postback), ("module", module)) if v is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --keyword, --postback, --module")
    what, value = given[0]
    kind = {
        "keyword": TriggerKind.KEYWORD_CONTAINS if contains else TriggerKind.KEYWORD_EXACT,
        "postback": TriggerKind.POSTBACK,
        "module": TriggerKind.BOT_MODULE,
    }[what]

    async def work(session: AsyncSession) -> str:
        actor, role = await acting_user(session, acting_user_name(ctx))
        if not can(role, Permission.EDIT):
            raise CliError(f"{actor.name}（{role.label}）may not change triggers")
        campaign = await _campaign(session, campaign_id)
        try:
            DomainTrigger(kind, value, str(campaign.id))
        except ValueError as exc:
            raise CliError(f"--{what}: {exc}") from None
        clash = await session.scalar(
            select(Trigger).where(Trigger.channel_id == campaign.channel_id, Trigger.kind == kind.value,
                                  Trigger.value == value)
        )
        if clash is not None:
            raise CliError(f"--{what}: {value!r} already triggers campaign {clash.campaign_id} on this channel")
        trigger = Trigger(channel_id=campaign.channel_id, campaign_id=campaign.id, kind=kind.value, value=value)
        session.add(trigger)
        await session.flush()
        session.add(AuditEntry(actor_id=actor.id, action="trigger.add", target=f"campaign:{campaign.id}",
                               detail={"trigger": trigger.id, "kind": kind.value, "value": value}))
        return f"trigger {trigger.id}: {kind.value} {value!r} → campaign {campaign.id}"

    typer.echo(in_transaction(work))


@triggers_app.command("list")
def list_triggers(campaign_id: int | None = typer.Option(None, "--campaign", help="Only this campaign.")) -> None:
    """List triggers."""

    async def work(session: AsyncSession) -> list[Trigger]:
        query = select(Trigger).order_by(Trigger.id)
        if campaign_id is not None:
            query = query.where(Trigger.campaign_id == campaign_id)
        return list(await session.scalars(query))

    grid = table("ID", "活動", "類型", "內容")
    for trigger in in_transaction(work):
        add_row(grid, trigger.id, trigger.campaign_id, trigger.kind, trigger.value)
    print_table(grid)


@triggers_app.command("remove")
def remove(ctx: typer.Context, trigger_id: int = typer.Argument(..., metavar="TRIGGER")) -> None:
    """Remove a trigger."""

    async def work(session: AsyncSession) -> str:
        actor, role = await acting_user(session, acting_user_name(ctx))
        if not can(role, Permission.EDIT):
            raise CliError(f"{actor.name}（{role.label}）may not change triggers")
        trigger = await session.get(Trigger, trigger_id)
        if trigger is None:
            raise CliError(f"TRIGGER: no trigger with ID {trigger_id}")
        await session.delete(trigger)
        session.add(AuditEntry(actor_id=actor.id, action="trigger.remove", target=f"campaign:{trigger.campaign_id}",
                               detail={"trigger": trigger_id, "after": None,
                                       "before": {"kind": trigger.kind, "value": trigger.value,
                                                  "campaign": trigger.campaign_id}}))
        return f"removed trigger {trigger_id}"

    typer.echo(in_transaction(work))


def _link(campaign_id: int, keyword: str) -> str:
    async def work(session: AsyncSession) -> str:
        campaign = await _campaign(session, campaign_id)
        channel = await session.get(Channel, campaign.channel_id)
        if not channel or not channel.basic_id:
            raise CliError("the campaign's channel has no basic ID: set it with `channels add --basic-id`")
        exact = await session.scalar(select(Trigger.id).where(
            Trigger.campaign_id == campaign.id, Trigger.kind.in_([TriggerKind.KEYWORD_EXACT.value,
                                                                  TriggerKind.KEYWORD_CONTAINS.value])))
        if exact is None:
            raise CliError(f"KEYWORD: campaign {campaign_id} has no keyword trigger; add one first")
        try:
            return keyword_link(channel.basic_id, keyword)
        except ValueError as exc:
            raise CliError(str(exc)) from None

    return in_transaction(work)


@triggers_app.command("link")
def link(campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"), keyword: str = typer.Argument(...)) -> None:
    """Print the keyword link (opens the chat with the keyword typed for the user)."""
    typer.echo(_link(campaign_id, keyword))


@triggers_app.command("qr")
def qr(
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    keyword: str = typer.Argument(...),
    output: Path = typer.Option(..., "-o", "--output", help="PNG file to write."),
    scale: int = typer.Option(8, "--scale", min=1, max=40, help="Pixels per module."),
) -> None:
    """Write the keyword QR code (the keyword link as a PNG)."""
    url = _link(campaign_id, keyword)
    segno.make(url, error="m").save(str(output), kind="png", scale=scale, border=4)
    typer.echo(f"wrote {output} for {url}")

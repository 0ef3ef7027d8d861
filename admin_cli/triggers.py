"""`admin-cli triggers …`: what sends a campaign's invoice card — keyword auto-replies (exact or
contains), rich-menu postbacks, bot modules — plus the keyword link and its QR code."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, fail, in_transaction
from admin_cli.output import add_row, print_table, table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.campaigns.store import Actor
    from bot.campaigns.triggers import TriggerRow

triggers_app = typer.Typer(help="Card triggers, keyword links and QR codes.", no_args_is_help=True)


async def _actor(session: AsyncSession, ctx: typer.Context) -> Actor:
    """The acting admin user, who must be allowed to change triggers."""
    from bot.campaigns.store import Actor
    from flows.campaigns.roles import Permission, PermissionDenied, require

    user, role = await acting_user(session, acting_user_name(ctx))
    actor = Actor(user.id, user.name, role)
    try:
        require(actor.name, actor.role, Permission.EDIT)
    except PermissionDenied:
        raise CliError(f"{user.name}（{role.label}）may not change triggers") from None
    return actor


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
    from bot.campaigns.triggers import CampaignMissing, TriggerClash, add_trigger
    from flows.conversation.triggers import TriggerKind

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
        actor = await _actor(session, ctx)
        try:
            trigger = await add_trigger(session, actor, campaign_id, kind, value)
        except CampaignMissing:
            raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}") from None
        except TriggerClash as clash:
            raise CliError(f"--{what}: {clash}") from None
        except ValueError as exc:
            raise CliError(f"--{what}: {exc}") from None
        return f"trigger {trigger.id}: {kind.value} {value!r} → campaign {campaign_id}"

    typer.echo(in_transaction(work))


@triggers_app.command("list")
def list_triggers(campaign_id: int | None = typer.Option(None, "--campaign", help="Only this campaign.")) -> None:
    """List triggers."""
    from bot.campaigns.triggers import list_triggers as stored_triggers

    async def work(session: AsyncSession) -> list[TriggerRow]:
        return await stored_triggers(session, campaign_id)

    grid = table("ID", "活動", "類型", "內容")
    for trigger in in_transaction(work):
        add_row(grid, trigger.id, trigger.campaign_id, trigger.kind.value, trigger.value)
    print_table(grid)


@triggers_app.command("remove")
def remove(ctx: typer.Context, trigger_id: int = typer.Argument(..., metavar="TRIGGER")) -> None:
    """Remove a trigger."""
    from bot.campaigns.triggers import TriggerMissing, remove_trigger

    async def work(session: AsyncSession) -> str:
        actor = await _actor(session, ctx)
        try:
            await remove_trigger(session, actor, trigger_id)
        except TriggerMissing:
            raise CliError(f"TRIGGER: no trigger with ID {trigger_id}") from None
        return f"removed trigger {trigger_id}"

    typer.echo(in_transaction(work))


def _link(campaign_id: int, keyword: str) -> str:
    from bot.campaigns.triggers import CampaignMissing, NoKeywordLink, campaign_keyword_link

    async def work(session: AsyncSession) -> str:
        try:
            return await campaign_keyword_link(session, campaign_id, keyword)
        except CampaignMissing:
            raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}") from None
        except NoKeywordLink as exc:
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
    output: Path = typer.Option(..., "-o", "--output", help="PNG file to write (- for stdout)."),
    scale: int = typer.Option(8, "--scale", min=1, max=40, help="Pixels per module."),
) -> None:
    """Write the keyword QR code (the keyword link as a PNG)."""
    from bot.campaigns.triggers import qr_png

    from admin_cli.streams import is_stdio, write_bytes

    url = _link(campaign_id, keyword)
    try:
        write_bytes(output, qr_png(url, scale))
    except OSError as exc:
        raise fail(f"--output: cannot write {output} ({exc.strerror or exc})") from None
    typer.echo(f"wrote {'the PNG to stdout' if is_stdio(output) else output} for {url}", err=is_stdio(output))

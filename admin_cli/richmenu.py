"""`admin-cli richmenu create`: a rich menu for a campaign through the Messaging API — created,
its image uploaded (data host), linked to every user or to named users — whose one area sends a
postback that is a postback trigger of the campaign (the trigger is created in the same
transaction, which commits only when LINE accepted every call)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from admin_cli.campaign_access import checked
from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction, load_config

if TYPE_CHECKING:
    from linebot.v3.messaging import ApiException, AsyncMessagingApi
    from sqlalchemy.ext.asyncio import AsyncSession

richmenu_app = typer.Typer(help="Rich menus that open a campaign's invoice card.", no_args_is_help=True)

IMAGE_MAX_BYTES = 1024 * 1024
WIDTH_MIN, WIDTH_MAX, HEIGHT_MIN = 800, 2500, 250  # LINE's documented rich-menu image limits
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


def read_image(path: Path) -> tuple[bytes, str, int, int]:
    """The image's bytes, content type and size; LINE takes a JPEG or PNG of at most 1 MB,
    800–2500 px wide, at least 250 px high, width/height ≥ 1.45."""
    from PIL import Image, UnidentifiedImageError

    from admin_cli.streams import read_limited

    data = read_limited(path, IMAGE_MAX_BYTES, f"--image {path}")  # LINE allows at most 1 MB
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError):
        raise CliError("--image: not a JPEG or PNG image") from None
    if kind not in _FORMATS:
        raise CliError(f"--image: {kind} image; LINE takes JPEG or PNG")
    if not (WIDTH_MIN <= width <= WIDTH_MAX and height >= HEIGHT_MIN and width / height >= 1.45):
        raise CliError(f"--image: {width}×{height} px; a rich menu is {WIDTH_MIN}–{WIDTH_MAX} px wide, "
                       f"≥ {HEIGHT_MIN} px high, "
                       "width/height ≥ 1.45 (e.g. 2500×1686 or 2500×843)")
    return data, _FORMATS[kind], width, height


class _RolledBack(Exception):
    """A call after the menu was created failed; the menu was deleted again (or not)."""

    def __init__(self, cause: BaseException, deleted: bool) -> None:
        super().__init__(str(cause))
        self.cause, self.deleted = cause, deleted


async def _delete_quietly(api: AsyncMessagingApi, rich_menu_id: str) -> bool:
    """Delete a half-set-up rich menu (`DELETE /v2/bot/richmenu/{id}`); False if that failed too."""
    import aiohttp
    from linebot.v3.messaging import ApiException

    try:
        await api.delete_rich_menu(rich_menu_id)
    except (ApiException, aiohttp.ClientError):
        return False
    return True


def _api_error(exc: ApiException) -> CliError:
    return CliError(f"LINE API: {exc.status} {exc.reason or ''} {(exc.body or '')[:300]}".strip())


@richmenu_app.command("create")
def create(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    image: Path = typer.Option(..., "--image", help="JPEG or PNG, 800–2500 px wide, ≥ 250 px high, "
                               "width/height ≥ 1.45 (e.g. 2500×1686 or 2500×843), ≤ 1 MB."),
    postback: str | None = typer.Option(None, "--postback", help="Postback data (default: campaign:<ID>:card)."),
    name: str = typer.Option("發票登錄", "--name", help="The menu's name (≤ 300 characters)."),
    chat_bar_text: str = typer.Option("發票登錄", "--chat-bar-text", help="Text on the chat bar (≤ 14 characters)."),
    users: list[str] = typer.Option(None, "--user", help="Link to this LINE user ID (repeatable)."),
    all_users: bool = typer.Option(False, "--all-users", help="Make it the default menu of every user."),
) -> None:
    """Create the rich menu, upload its image, link it, and add the campaign's postback trigger."""
    import aiohttp
    from linebot.v3.messaging import (
        ApiException,
        AsyncApiClient,
        AsyncMessagingApi,
        AsyncMessagingApiBlob,
        Configuration,
    )
    from linebot.v3.messaging.models import (
        PostbackAction,
        RichMenuArea,
        RichMenuBounds,
        RichMenuRequest,
        RichMenuSize,
    )
    from sqlalchemy import select

    from bot.storage.models import AuditEntry, Campaign, Channel, Trigger
    from flows.campaigns.roles import Permission, can
    from flows.conversation.triggers import Trigger as DomainTrigger
    from flows.conversation.triggers import TriggerKind

    if bool(users) == all_users:
        raise typer.BadParameter("give --all-users or at least one --user")
    data, content_type, width, height = checked(read_image, image)
    config = load_config()

    async def work(session: AsyncSession) -> str:
        actor, role = await acting_user(session, acting_user_name(ctx))
        if not can(role, Permission.EDIT):
            raise CliError(f"{actor.name}（{role.label}）may not change triggers")
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise CliError(f"CAMPAIGN: no campaign with ID {campaign_id}")
        value = postback or f"campaign:{campaign.id}:card"
        try:
            DomainTrigger(TriggerKind.POSTBACK, value, str(campaign.id))
        except ValueError as exc:
            raise CliError(f"--postback: {exc}") from None
        existing = await session.scalar(select(Trigger).where(
            Trigger.channel_id == campaign.channel_id, Trigger.kind == TriggerKind.POSTBACK.value,
            Trigger.value == value))
        if existing is not None and existing.campaign_id != campaign.id:
            raise CliError(f"--postback: {value!r} already triggers campaign {existing.campaign_id} on this channel")
        channel = await session.get(Channel, campaign.channel_id)
        token = (channel.access_token if channel else None) or config.line_channel_access_token
        if not token:
            raise CliError("the campaign's channel has no access token (`admin-cli channels add` with "
                           "LINE_CHANNEL_ACCESS_TOKEN)")
        if existing is None:
            existing = Trigger(channel_id=campaign.channel_id, campaign_id=campaign.id,
                               kind=TriggerKind.POSTBACK.value, value=value)
            session.add(existing)
            await session.flush()
        menu = RichMenuRequest(
            size=RichMenuSize(width=width, height=height), selected=True, name=name, chatBarText=chat_bar_text,
            areas=[RichMenuArea(bounds=RichMenuBounds(x=0, y=0, width=width, height=height),
                                action=PostbackAction(label=chat_bar_text[:20], data=value))])
        api_config = Configuration(access_token=token, host=config.line_api_base_url)
        blob_config = Configuration(access_token=token, host=config.line_data_api_base_url)
        try:
            async with AsyncApiClient(api_config) as client, AsyncApiClient(blob_config) as blob_client:
                api, blob = AsyncMessagingApi(client), AsyncMessagingApiBlob(blob_client)
                rich_menu_id = (await api.create_rich_menu(menu)).rich_menu_id
                try:
                    await blob.set_rich_menu_image(rich_menu_id, data, _headers={"Content-Type": content_type})
                    if all_users:
                        await api.set_default_rich_menu(rich_menu_id)
                    for user in users or []:
                        await api.link_rich_menu_id_to_user(user, rich_menu_id)
                except (ApiException, aiohttp.ClientError) as exc:
                    raise _RolledBack(exc, await _delete_quietly(api, rich_menu_id)) from None
        except _RolledBack as failed:
            note = (f" (the rich menu {rich_menu_id} was deleted again)" if failed.deleted
                    else f" (the rich menu {rich_menu_id} could not be deleted: delete it in LINE)")
            cause = failed.cause
            if isinstance(cause, ApiException):
                raise CliError(str(_api_error(cause)) + note) from None
            raise CliError(f"LINE API: cannot reach {config.line_api_base_url} ({type(cause).__name__})"
                           + note) from None
        except ApiException as exc:
            raise _api_error(exc) from None
        except aiohttp.ClientError as exc:
            raise CliError(f"LINE API: cannot reach {config.line_api_base_url} ({type(exc).__name__})") from None
        session.add(AuditEntry(actor_id=actor.id, action="richmenu.create", target=f"campaign:{campaign.id}",
                               detail={"actor": actor.name, "rich_menu_id": rich_menu_id, "postback": value,
                                       "trigger": existing.id, "linked": "all" if all_users else len(users)}))
        linked = "every user" if all_users else f"{len(users)} users"
        return f"rich menu {rich_menu_id} linked to {linked}; its postback {value!r} is trigger {existing.id}"

    typer.echo(in_transaction(work))

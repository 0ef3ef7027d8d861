"""`admin-cli channels …`: the team's LINE channels (Messaging API credentials, LIFF ID, link state)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction
from admin_cli.output import add_row, print_table, table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.storage.models import Channel

channels_app = typer.Typer(help="LINE channels.", no_args_is_help=True)


def _secret(value: str | None, env: str, prompt: str) -> str:
    """From the environment or a hidden prompt: never from argv, where `ps` would show it."""
    value = value or os.environ.get(env)
    if not value:
        value = typer.prompt(prompt, hide_input=True)
    return value.strip()


async def _editor(session: AsyncSession, ctx: typer.Context) -> int:
    from flows.campaigns.roles import Permission, can

    actor, role = await acting_user(session, acting_user_name(ctx))
    if not can(role, Permission.EDIT):
        raise CliError(f"{actor.name}（{role.label}）may not change channels")
    return actor.id


async def _channel(session: AsyncSession, name: str) -> Channel:
    from sqlalchemy import select

    from bot.storage.models import Channel

    channel = await session.scalar(select(Channel).where(Channel.name == name))
    if channel is None:
        raise CliError(f"CHANNEL: no channel named {name!r}")
    return channel


@channels_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name marketers recognise, e.g. the LINE account's name."),
    liff_id: str | None = typer.Option(None, "--liff-id", help="LIFF app ID of the manual/carrier pages."),
    basic_id: str | None = typer.Option(None, "--basic-id", help="The account's basic ID (@123abcde), for keyword links."),
    destination: str | None = typer.Option(None, "--destination", help="The bot's user ID (webhook `destination`)."),
    login_channel_id: str | None = typer.Option(
        None, "--login-channel-id", help="LINE Login channel ID of the LIFF app (verifies the pages' ID tokens)."),
) -> None:
    """Add a channel; the secret and token come from LINE_CHANNEL_SECRET / LINE_CHANNEL_ACCESS_TOKEN
    or a hidden prompt, and are never printed. The acting user's role is checked before anything
    is asked."""
    from sqlalchemy import select

    from bot.storage.models import AuditEntry, Channel

    in_transaction(lambda session: _editor(session, ctx))  # refused before any question
    secret = _secret(None, "LINE_CHANNEL_SECRET", "Channel secret")
    token = _secret(None, "LINE_CHANNEL_ACCESS_TOKEN", "Channel access token")
    if len(secret) < 16:
        raise typer.BadParameter("the channel secret looks too short", param_hint="channel secret")
    login_channel_id = _login_channel_id(login_channel_id)

    async def work(session: AsyncSession) -> str:
        actor_id = await _editor(session, ctx)
        if await session.scalar(select(Channel.id).where(Channel.name == name)):
            raise CliError(f"NAME: a channel named {name!r} exists already")
        channel = Channel(name=name, channel_secret=secret, access_token=token, liff_id=liff_id,
                          basic_id=basic_id, line_destination=destination, linked=True,
                          login_channel_id=login_channel_id)
        session.add(channel)
        await session.flush()
        session.add(AuditEntry(actor_id=actor_id, action="channel.add", target=f"channel:{channel.id}",
                               detail={"name": name, "liff_id": liff_id, "login_channel_id": login_channel_id}))
        return f"added channel {name} (id {channel.id})"

    typer.echo(in_transaction(work))


@channels_app.command("list")
def list_channels() -> None:
    """List channels (credentials are never shown)."""
    from sqlalchemy import select

    from bot.storage.models import Channel

    async def work(session: AsyncSession) -> list[Channel]:
        return list(await session.scalars(select(Channel).order_by(Channel.id)))

    grid = table("ID", "渠道", "LIFF ID", "LINE Login", "Basic ID", "串接")
    for ch in in_transaction(work):
        add_row(grid, ch.id, ch.name, ch.liff_id or "（未設定）", ch.login_channel_id or "（未設定）",
                ch.basic_id or "-", "是" if ch.linked else "否")
    print_table(grid)


def _shown(key: str, value: object) -> object:
    """An audited value; credentials only as set / not set."""
    if "secret" in key or "token" in key:
        return "***" if value else None
    return value


def _set(ctx: typer.Context, name: str, action: str, **changes: object) -> None:
    from bot.storage.models import AuditEntry

    async def work(session: AsyncSession) -> str:
        actor_id = await _editor(session, ctx)
        channel = await _channel(session, name)
        before = {key: _shown(key, getattr(channel, key)) for key in changes}
        for key, value in changes.items():
            setattr(channel, key, value)
        session.add(AuditEntry(actor_id=actor_id, action=f"channel.{action}", target=f"channel:{channel.id}",
                               detail={**{k: _shown(k, v) for k, v in changes.items()}, "before": before,
                                       "after": {k: _shown(k, v) for k, v in changes.items()}}))
        return f"channel {name}: {action}"

    typer.echo(in_transaction(work))


@channels_app.command("link")
def link(ctx: typer.Context, name: str) -> None:
    """Link the channel (its campaigns' cards work again)."""
    _set(ctx, name, "link", linked=True)


@channels_app.command("unlink")
def unlink(ctx: typer.Context, name: str) -> None:
    """Unlink the channel: its cards answer 很抱歉，此活動已不存在."""
    _set(ctx, name, "unlink", linked=False)


@channels_app.command("set-liff")
def set_liff(ctx: typer.Context, name: str, liff_id: str) -> None:
    """Set the LIFF ID (without one, cards answer 很抱歉，此活動已不存在)."""
    _set(ctx, name, "set-liff", liff_id=liff_id.strip() or None)


def _login_channel_id(value: str | None) -> str | None:
    value = (value or "").strip() or None
    if value is not None and not value.isdigit():
        raise typer.BadParameter("a LINE Login channel ID is digits", param_hint="--login-channel-id")
    return value


@channels_app.command("set-login")
def set_login(ctx: typer.Context, name: str, login_channel_id: str) -> None:
    """Set the LINE Login channel ID of the channel's LIFF app: the pages' ID tokens are verified
    for it (without one, the pages answer 很抱歉，此活動已不存在)."""
    _set(ctx, name, "set-login", login_channel_id=_login_channel_id(login_channel_id))

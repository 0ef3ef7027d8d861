"""`admin-cli users …`: the team's admin users and their roles (管理員 … 行銷人員, 無權限), and
their web-console sign-in: a password, or a one-time sign-in link."""
from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, fail, in_transaction, load_config, with_database
from admin_cli.output import add_row, print_table, table
from flows.campaigns.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.campaigns.store import Actor
    from bot.storage.database import Database
    from bot.storage.models import AdminUser

T = TypeVar("T")

users_app = typer.Typer(help="Admin users and roles.", no_args_is_help=True)
ROLE_HELP = "one of: " + ", ".join(f"{r.value} ({r.label})" for r in Role)


def _parse_role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError:
        raise CliError(f"--role: unknown role {text!r}; {ROLE_HELP}") from None


@users_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name of the new user."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
) -> None:
    """Add a user. The very first user must be a 管理員 and needs no --as; after that only a
    管理員 may add users."""
    from sqlalchemy import func, select

    from bot.storage.models import AdminUser, AuditEntry

    async def work(session: AsyncSession) -> str:
        new_role = _parse_role(role)
        if not name.strip() or len(name) > 100:
            raise CliError("NAME: must be 1 to 100 characters")
        existing = await session.scalar(select(func.count()).select_from(AdminUser))
        actor_id = None
        if existing:
            actor, actor_role = await acting_user(session, acting_user_name(ctx))
            if actor_role is not Role.ADMIN:
                raise CliError(f"{actor.name}（{actor_role.label}）may not add users: only 管理員 may")
            actor_id = actor.id
        elif new_role is not Role.ADMIN:
            raise CliError("--role: the first user must be admin (管理員)")
        if await session.scalar(select(AdminUser.id).where(AdminUser.name == name)):
            raise CliError(f"NAME: a user named {name!r} exists already")
        user = AdminUser(name=name, role=new_role.value)
        session.add(user)
        await session.flush()
        session.add(AuditEntry(actor_id=actor_id or user.id, action="user.add", target=f"user:{user.id}",
                               detail={"name": name, "role": new_role.value}))
        return f"added {name} as {new_role.label} ({new_role.value})"

    typer.echo(in_transaction(work))


@users_app.command("list")
def list_users() -> None:
    """List users with their roles."""
    from sqlalchemy import select

    from bot.storage.models import AdminUser

    async def work(session: AsyncSession) -> list[AdminUser]:
        return list(await session.scalars(select(AdminUser).order_by(AdminUser.id)))

    grid = table("ID", "名稱", "角色", "role")
    for user in in_transaction(work):
        role = Role(user.role)
        add_row(grid, user.id, user.name, role.label, role.value)
    print_table(grid)


def _optional_actor(ctx: typer.Context, name: str) -> Actor | None:
    """The --as user when given (a 管理員, or the account itself); None: an operator at the
    server's shell, bootstrapping the first administrator."""
    from bot.campaigns.store import actor_named

    acting = (ctx.find_root().obj or {}).get("actor")
    if not acting:
        return None

    async def find(db: Database) -> Actor:
        return await actor_named(db, acting)

    actor = _with_database(find, unknown="--as")
    if actor.role is not Role.ADMIN and actor.name != name:
        raise fail(f"{actor.name}（{actor.role.label}）may not change another user's sign-in: only 管理員 may")
    return actor


def _with_database(work: Callable[[Database], Awaitable[T]], unknown: str = "NAME") -> T:
    """`with_database`, with the expected refusals as one line and exit 1."""
    from bot.accounts.passwords import WeakPassword
    from bot.campaigns.store import UnknownActor

    try:
        return with_database(work)
    except UnknownActor as exc:
        raise fail(str(exc).replace("actor:", f"{unknown}:", 1) + " (add one with `admin-cli users add`)") from None
    except WeakPassword as exc:
        raise fail(f"password: {exc}") from None


@users_app.command("set-password")
def set_password_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user whose console password to set."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input "
                                        "(one line) instead of prompting twice."),
) -> None:
    """Set a user's web-console password (at least 10 characters; argon2-hashed). Every
    console session of the user ends. Without --as: an operator bootstrapping the first
    管理員; with --as: a 管理員, or the user themselves."""
    from bot.accounts.password_change import set_password
    from bot.accounts.passwords import WeakPassword, check_new_password
    from bot.campaigns.store import actor_named

    actor = _optional_actor(ctx, name)

    async def exists(db: Database) -> Actor:
        return await actor_named(db, name)

    _with_database(exists)  # an unknown user is named before any password is asked
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password)
    except WeakPassword as exc:
        raise fail(f"password: {exc}") from None

    async def work(db: Database) -> int:
        return await set_password(db, name, password, actor)

    ended = _with_database(work)
    typer.echo(f"password set for {name}" + (f"; ended {ended} console sessions" if ended else ""))


@users_app.command("login-link")
def login_link(ctx: typer.Context, name: str = typer.Argument(..., help="The user to sign in.")) -> None:
    """Print a one-time console sign-in link for NAME: valid 15 minutes, usable once (send it to
    the user over a private channel). Links start with PUBLIC_BASE_URL."""
    from bot.accounts.login_links import TTL as LINK_TTL
    from bot.accounts.login_links import create_login_link, link_url

    actor = _optional_actor(ctx, name)
    config = load_config()

    async def work(db: Database) -> str:
        return await create_login_link(db, name, actor)

    token = _with_database(work)
    minutes = int(LINK_TTL.total_seconds() // 60)
    typer.echo(f"one-time sign-in link for {name} (valid {minutes} minutes, usable once):", err=True)
    typer.echo(link_url(config.base_url, token))

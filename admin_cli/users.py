"""`admin-cli users …`: the team's admin users and their roles (管理員 … 行銷人員)."""
from __future__ import annotations

import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction
from admin_cli.output import add_row, print_table, table
from bot.storage.models import AdminUser, AuditEntry
from flows.campaigns.roles import Role

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

    async def work(session: AsyncSession) -> list[AdminUser]:
        return list(await session.scalars(select(AdminUser).order_by(AdminUser.id)))

    grid = table("ID", "名稱", "角色", "role")
    for user in in_transaction(work):
        role = Role(user.role)
        add_row(grid, user.id, user.name, role.label, role.value)
    print_table(grid)

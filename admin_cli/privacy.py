"""`admin-cli privacy …`: the retention purge (also run hourly by the service), forget-me for
one LINE user, rotating the photo-link key (every link dies), and a campaign's retention period.
Every change is audited; `--json` prints what went (or, with --dry-run, what would go)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import typer

from admin_cli.campaign_access import now, run_as
from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction, load_config
from admin_cli.output import add_row, json_text, print_table, table
from flows.campaigns.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.backme.emails import FileBackend
    from bot.campaigns.store import Actor, CampaignStore, CampaignView
    from bot.config import Config
    from bot.storage.models import AdminUser

privacy_app = typer.Typer(help="Personal data: retention purge, forget-me, photo-link key.", no_args_is_help=True)

#: Removing personal data across every campaign is for 管理員 and 主管.
PRIVACY_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})

_COUNT_LABELS = (("photos", "發票照片"), ("photo_files", "照片檔案"), ("display_names", "顯示名稱"),
                 ("phones", "電話"), ("carrier_codes", "載具條碼"), ("line_user_ids", "LINE UID（改為代號）"),
                 ("messages", "訊息紀錄"), ("events", "收到的事件"), ("state_entries", "對話狀態"),
                 ("crm_contacts", "CRM 聯絡人"), ("crm_phones", "CRM 電話"), ("mail_files", "郵件檔案"), ("customers", "使用者"),
                 ("inbox_events", "已處理事件（逾保存期限）"))


async def privacy_officer(session: AsyncSession, ctx: typer.Context) -> AdminUser:
    user, role = await acting_user(session, acting_user_name(ctx))
    if role not in PRIVACY_ROLES:
        raise CliError(f"{user.name}（{role.label}）may not remove personal data: "
                       f"{'、'.join(r.label for r in sorted(PRIVACY_ROLES, key=list(Role).index))} only")
    return user


def _printed_as_json(data: dict[str, Any], as_json: bool) -> bool:
    if as_json:
        typer.echo(json_text(data))
    return as_json


def _print_counts(title: str, data: dict[str, Any]) -> None:
    grid = table("項目", "數量", title=title)
    for key, label in _COUNT_LABELS:
        if key in data:
            add_row(grid, label, str(data[key]))
    print_table(grid)


@privacy_app.command("purge")
def purge(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would go."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Purge the personal data of campaigns past their retention period (the service also runs
    this every PRIVACY_PURGE_SECONDS)."""
    from bot.photo_store import open_store
    from bot.privacy.purge import purge as run_purge

    config = load_config()

    async def work(session: AsyncSession) -> dict[str, Any]:
        if dry_run:
            await acting_user(session, acting_user_name(ctx))
            actor = None
        else:
            actor = await privacy_officer(session, ctx)
        report = await run_purge(session, now(), files=open_store(config.photo_store, config.data_dir), dry_run=dry_run,
                                 actor=actor, inbox_retention=dt.timedelta(days=config.inbox_retention_days))
        return report.to_dict()

    data = in_transaction(work)
    if _printed_as_json(data, as_json):
        return
    verb = "would purge" if dry_run else "purged"
    grid = table("ID", "活動名稱", "結束", "保存天數", "清除時間", title=f"{verb}: campaigns past retention")
    for c in data["campaigns"]:
        add_row(grid, str(c["id"]), c["name"], c["end_at"], str(c["retention_days"]), c["due_at"])
    print_table(grid)
    _print_counts(f"{verb}: personal data", data)


@privacy_app.command("forget")
def forget(
    ctx: typer.Context,
    line_user_id: str = typer.Argument(..., metavar="LINE_UID"),
    crm: bool = typer.Option(False, "--crm", help="Also erase the CRM contacts with one of their phone "
                                                 "numbers (names, emails, phones, addresses)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would go."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove one LINE user's personal data from every campaign and channel: photos, names,
    phones, carrier codes go; the user ID becomes a pseudonym (statistics still count them)."""
    from bot.photo_store import open_store
    from bot.privacy.forget import forget as forget_user
    from bot.privacy.redis_state import forget_redis_state

    config = load_config()

    async def work(session: AsyncSession) -> dict[str, Any]:
        actor = await privacy_officer(session, ctx)
        try:
            report = await forget_user(session, line_user_id.strip(), now(), files=open_store(config.photo_store, config.data_dir),
                                       crm=crm, dry_run=dry_run, actor=actor, mail=_mail_files(config))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if config.redis_url:  # the conversation state kept in Redis instead of state_entries
            report.erased.state_entries += await forget_redis_state(config.redis_url, config.state_prefix,
                                                                    line_user_id.strip(), dry_run, config.redis_tls)
        return report.to_dict()

    data = in_transaction(work)
    if _printed_as_json(data, as_json):
        return
    verb = "would remove" if dry_run else "removed"
    _print_counts(f"{verb}: the user's data (now {data['pseudonym']})", data)
    if not data["customers"]:
        typer.echo("no customer with this LINE user ID (already forgotten, or never seen)")


def _mail_files(config: Config) -> FileBackend | None:
    """The file email backend's directory, when emails are written there."""
    from bot.backme.emails import EmailSettings, FileBackend

    settings = EmailSettings.from_env(data_dir=config.data_dir)
    return FileBackend(settings.directory) if settings.backend == "file" else None


@privacy_app.command("rotate-links")
def rotate_links(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Revoke every photo link at once (lists and exports made before stop opening photos)."""
    from bot.privacy.keys import rotate_link_generation
    from bot.storage import audit

    async def work(session: AsyncSession) -> dict[str, Any]:
        actor = await privacy_officer(session, ctx)
        moment = now()
        before, after = await rotate_link_generation(session, moment)
        audit.record(session, action="privacy.rotate_links", target="photo_links", actor=actor, at=moment,
                     before={"generation": before}, after={"generation": after})
        return {"before": before, "after": after}

    data = in_transaction(work)
    if not _printed_as_json(data, as_json):
        typer.echo(f"photo-link generation {data['before']} → {data['after']}: every earlier link is revoked")


@privacy_app.command("retention")
def retention(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    days: int = typer.Argument(..., help="Days after the campaign's end before its personal data is purged."),
) -> None:
    """Set a campaign's retention period (個資保存期限) in any status, also after its end."""

    async def work(store: CampaignStore, actor: Actor) -> CampaignView:
        return await store.set_retention(actor, campaign_id, days, now())

    view = run_as(ctx, work)
    typer.echo(f"campaign {view.id} 「{view.settings.name}」: personal data is purged "
               f"{view.settings.retention_days} days after its end")

"""`admin-cli campaigns …`: create (from a campaign file or interactively), list, show, edit,
copy, publish, pause, resume and delete invoice campaigns — as the --as user, within what the
campaign's status and the user's role allow; each change is one audited transaction."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from admin_cli.campaign_access import checked, now, run_as
from admin_cli.context import CliError
from admin_cli.output import JSON_OPTION, add_row, print_json, print_table, table
from flows.campaigns.describe import coupon_text, editable_text, review_lines, scope_text, tier_lines, when
from flows.campaigns.lifecycle import CampaignStatus, check_edit

if TYPE_CHECKING:
    from bot.campaigns.store import Actor, CampaignStore, CampaignView

campaigns_app = typer.Typer(help="Invoice campaigns: create, list, show, edit, publish, pause, copy, delete.", no_args_is_help=True)

STATUS_HELP = "one of: " + ", ".join(f"{s.value} ({s.label})" for s in CampaignStatus)


def print_view(view: CampaignView) -> None:
    """The campaign's 發票活動資訊 as a two-column table."""
    s, c = view.settings, view.settings.conditions
    grid = table("欄位", "內容", show_header=False)
    rows: list[tuple[str, str | list[str]]] = [
        ("ID", str(view.id)),
        ("活動名稱", s.name),
        ("活動狀態", f"{view.status.label} ({view.status.value})"),
        ("活動時間", f"{when(s.start_at)} ～ {when(s.end_at)}"),
        ("渠道", f"{view.channel_name} (ID {view.channel_id})"),
        ("活動規則", s.rules_url),
        ("活動圖片", s.image_url or "（無）"),
        ("個資保存期限", f"活動結束後 {s.retention_days} 天"),
        ("上傳發票數", str(view.upload_count)),
        ("發票開立日期", f"{c.issue_dates.start.isoformat()} ～ {c.issue_dates.end.isoformat()}"),
        ("每人參與上限", "不限制" if c.per_person_cap is None else f"{c.per_person_cap} 張"),
        ("公司行號", "不限制" if c.sellers is None else "、".join(c.sellers)),
        ("送獎時機", c.reward_timing.label),
        ("消費認列範圍", scope_text(c)),
        ("獎項", coupon_text(c.reward) if c.reward_timing.value == "immediate" else "（僅搜集名單）"),
        ("級距", tier_lines(c) or "（無）"),
        *((f"審核：{label}", text) for label, text in review_lines(s.review)),
        ("可編輯欄位", editable_text(view.status)),
        ("可執行動作", "、".join(a.label for a in view.settings_actions) + "；列表："
         + "、".join(a.label for a in view.list_actions)),
    ]
    for key, value in rows:
        add_row(grid, key, value)
    print_table(grid)


def view_json(view: CampaignView) -> dict[str, Any]:
    """`campaigns show --json`: the campaign file's fields plus its ID, channel, status and counts."""
    return {
        "id": view.id,
        "channel": view.channel_name,
        "status": view.status.value,
        "status_label": view.status.label,
        "upload_count": view.upload_count,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "settings": view.settings.to_dict(),
        "settings_actions": [a.value for a in view.settings_actions],
        "list_actions": [a.value for a in view.list_actions],
    }


async def _settings_from(store: CampaignStore, data: dict[str, Any]) -> dict[str, Any]:
    from admin_cli.campaign_file import resolve_channel

    async with store.db.session() as session:
        return await resolve_channel(session, data)


# --- create ---------------------------------------------------------------------------------------

def _create(ctx: typer.Context, data: dict[str, Any]) -> CampaignView:
    async def work(store: CampaignStore, actor: Actor) -> CampaignView:
        return await store.create(actor, await _settings_from(store, data), now())

    return run_as(ctx, work)


def _interactive(ctx: typer.Context) -> CampaignView:
    """Ask for the settings (after checking that the acting user may create campaigns) and create
    the draft; if the questions or the creation stop, save the answers as a campaign file."""
    from admin_cli.campaign_prompts import CampaignQuestions
    from flows.campaigns.dates import today_in_taipei
    from flows.campaigns.roles import Permission, require

    async def ready(store: CampaignStore, actor: Actor) -> list[str]:
        from sqlalchemy import select

        from bot.storage.models import Channel

        require(actor.name, actor.role, Permission.EDIT)  # refused before any question
        async with store.db.session() as session:
            return list(await session.scalars(select(Channel.name).order_by(Channel.id)))

    questions = CampaignQuestions(run_as(ctx, ready), today_in_taipei(now()))
    try:
        return _create(ctx, questions.run())
    except (KeyboardInterrupt, typer.Abort, typer.Exit) as stopped:
        _keep_answers(questions.answers, "refused" if isinstance(stopped, typer.Exit) else "stopped")
        raise typer.Exit(1) from None
    except Exception:
        _keep_answers(questions.answers, "failed")  # then the error itself, as it is
        raise


def _keep_answers(answers: dict[str, Any], why: str) -> None:
    from admin_cli.campaign_prompts import save_answers

    if not answers:
        typer.echo(f"{why}: nothing answered, nothing saved", err=True)
        return
    saved = save_answers(answers, Path.cwd(), why)
    typer.echo(f"{why}: your answers are saved in {saved}; complete it (docs/campaign-file.md) and "
               f"run: admin-cli campaigns create -f {saved.name}", err=True)


@campaigns_app.command("create")
def create(
    ctx: typer.Context,
    file: Path | None = typer.Option(None, "--file", "-f", help="Campaign file (YAML or JSON; - reads stdin); "
                                     "see docs/campaign-file.md."),
) -> None:
    """Create a draft campaign from a campaign file, or interactively without --file: every answer
    is checked as it is entered, and if the questions stop (Ctrl-C, a refusal) the answers so
    far are saved as a campaign file to finish and pass to --file."""
    if file is None:
        view = _interactive(ctx)
    else:
        from admin_cli.campaign_file import read_file

        view = _create(ctx, checked(read_file, file))
    typer.echo(f"created campaign {view.id} 「{view.settings.name}」 ({view.status.label}) on channel "
               f"{view.channel_name}")


# --- list / show ------------------------------------------------------------------------------------

@campaigns_app.command("list")
def list_campaigns(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", "-s", help="Part of a campaign or channel name."),
    status: str | None = typer.Option(None, "--status", help=STATUS_HELP),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """List campaigns, newest first: name, dates, channel, uploads, status."""
    wanted: CampaignStatus | None = None
    if status is not None:
        try:
            wanted = CampaignStatus(status)
        except ValueError:
            try:
                wanted = CampaignStatus.from_label(status)
            except ValueError:
                raise typer.BadParameter(f"unknown status {status!r}; {STATUS_HELP}",
                                         param_hint="--status") from None

    async def work(store: CampaignStore, actor: Actor) -> list:
        return await store.list(now(), search=search, status=wanted, limit=limit, offset=offset, actor=actor)

    rows = run_as(ctx, work)
    if as_json:
        print_json([{"id": r.id, "name": r.name, "start_at": r.start_at, "end_at": r.end_at,
                     "channel": r.channel_name, "upload_count": r.upload_count, "status": r.status.value,
                     "status_label": r.status.label} for r in rows])
        return
    grid = table("ID", "活動名稱", "活動日期", "渠道", "上傳發票數", "活動狀態")
    for row in rows:
        add_row(grid, row.id, row.name, [when(row.start_at) + " ～", when(row.end_at)], row.channel_name,
                row.upload_count, row.status.label)
    print_table(grid)
    if not rows:
        typer.echo("no campaigns match")


@campaigns_app.command("show")
def show(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN", help="Campaign ID."),
    as_file: bool = typer.Option(False, "--yaml", help="Print it as a campaign file (to edit and `edit --file`)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a campaign's settings, status, and what may be edited and done now."""

    async def work(store: CampaignStore, actor: Actor) -> CampaignView:
        return await store.get(campaign_id, now(), actor=actor)

    view = run_as(ctx, work)
    if as_file:
        from admin_cli.campaign_file import to_file_text

        typer.echo(to_file_text(view.settings, view.channel_name), nl=False)
    elif as_json:
        print_json(view_json(view))
    else:
        print_view(view)


# --- edit -------------------------------------------------------------------------------------------

def _edited(current: CampaignView, file: Path | None, overrides: dict[str, Any],
            editor_text: str | None) -> dict[str, Any] | None:
    from admin_cli.campaign_file import parse_text, read_file

    if file is not None:
        return read_file(file)
    if editor_text is not None:
        return parse_text(editor_text, "edited file")
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return None
    data = current.settings.to_dict()
    for key, value in given.items():
        data[key] = None if key == "image_url" and value == "-" else value
    return data


@campaigns_app.command("edit")
def edit(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    file: Path | None = typer.Option(None, "--file", "-f", help="The whole campaign file as edited (- reads "
                                     "stdin)."),
    name: str | None = typer.Option(None, "--name", help="活動名稱."),
    start: str | None = typer.Option(None, "--start", help="活動開始 (ISO 8601; Taipei time without offset)."),
    end: str | None = typer.Option(None, "--end", help="活動結束 (ISO 8601; Taipei time without offset)."),
    rules_url: str | None = typer.Option(None, "--rules-url", help="活動規則網址."),
    image_url: str | None = typer.Option(None, "--image-url", help="活動圖片網址 (- to remove)."),
    retention_days: int | None = typer.Option(None, "--retention-days",
                                              help="個資保存期限: days after the end (default 180)."),
) -> None:
    """Edit a campaign: a draft or a paused campaign is saved; a scheduled or running one
    publishes the edits at once. Without options the campaign file opens in $EDITOR. Fields the
    status does not allow are refused with the reason (after the end, change the retention
    period with `admin-cli privacy retention`)."""
    overrides: dict[str, Any] = {"name": name, "start_at": start, "end_at": end, "rules_url": rules_url,
                                 "image_url": image_url, "retention_days": retention_days}

    async def work(store: CampaignStore, actor: Actor) -> tuple[CampaignView | None, str]:
        moment = now()
        current = await store.get(campaign_id, moment, actor=actor)
        if current.status is CampaignStatus.ENDED:
            refusals = check_edit(current.status, ["name"])
            raise CliError(refusals[0].message)
        from admin_cli.campaign_file import to_file_text
        from admin_cli.editor import edit_text

        editor_text = None
        if file is None and not any(v is not None for v in overrides.values()):
            original = to_file_text(current.settings, current.channel_name)
            editor_text = edit_text(original, ".yaml")
            if editor_text is None:
                return None, "no changes"
        data = _edited(current, file, overrides, editor_text)
        assert data is not None
        settings = await _settings_from(store, data)
        if current.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            view = await store.save(actor, campaign_id, settings, moment)
            return view, "saved"
        view = await store.publish(actor, campaign_id, moment, edited=settings)
        return view, "published the edits of"

    view, done = run_as(ctx, work)
    if view is None:
        typer.echo(f"campaign {campaign_id}: {done}")
    else:
        typer.echo(f"{done} campaign {view.id} 「{view.settings.name}」 ({view.status.label})")


# --- lifecycle actions ------------------------------------------------------------------------------

def _action(ctx: typer.Context, campaign_id: int, verb: str) -> CampaignView:
    async def work(store: CampaignStore, actor: Actor) -> CampaignView:
        method = {"pause": store.pause, "resume": store.resume,
                  "copy": store.copy}[verb]
        return await method(actor, campaign_id, now())

    return run_as(ctx, work)


@campaigns_app.command("publish")
def publish(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """發布: a draft goes live (its test uploads are deleted); a paused campaign resumes."""

    async def work(store: CampaignStore, actor: Actor) -> tuple[CampaignView, int]:
        taken = await store.draft_codes_taken(campaign_id)  # counted before the uploads go
        return await store.publish(actor, campaign_id, now()), taken

    view, taken = run_as(ctx, work)
    typer.echo(f"published campaign {view.id} 「{view.settings.name}」: now {view.status.label}")
    if taken:
        typer.echo(f"warning: draft test uploads had taken {taken} coupon code(s); those uploads are deleted "
                   "and their codes stay spent", err=True)


@campaigns_app.command("pause")
def pause(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """暫停 a scheduled or running campaign (users get 活動不存在 while it is paused)."""
    view = _action(ctx, campaign_id, "pause")
    typer.echo(f"paused campaign {view.id} 「{view.settings.name}」: now {view.status.label}")


@campaigns_app.command("resume")
def resume(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """Resume a paused campaign."""
    view = _action(ctx, campaign_id, "resume")
    typer.echo(f"resumed campaign {view.id} 「{view.settings.name}」: now {view.status.label}")


@campaigns_app.command("copy")
def copy(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """複製活動: a new draft with the same settings and custom messages."""
    view = _action(ctx, campaign_id, "copy")
    typer.echo(f"copied campaign {campaign_id} to campaign {view.id} 「{view.settings.name}」 ({view.status.label})")


@campaigns_app.command("delete")
def delete(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a draft campaign with its test uploads, messages, triggers and coupon pool. A
    campaign that is not a draft, or a role that may not delete, is refused before the question."""
    from flows.campaigns.lifecycle import ListAction, require_list_action
    from flows.campaigns.roles import permission_for, require

    async def may_delete(store: CampaignStore, actor: Actor) -> None:
        view = await store.get(campaign_id, now(), actor=actor)
        require(actor.name, actor.role, permission_for(ListAction.DELETE, view.status))
        require_list_action(ListAction.DELETE, view.status)

    run_as(ctx, may_delete)
    if not yes:
        typer.confirm(f"Delete campaign {campaign_id} and everything uploaded to it?", abort=True)

    async def work(store: CampaignStore, actor: Actor) -> None:
        await store.delete(actor, campaign_id, now())

    run_as(ctx, work)
    typer.echo(f"deleted campaign {campaign_id}")


"""`admin-cli reports …`: a campaign's statistics (SPEC §8), its paged participant list, the two
exports (參加名單, 發票明細) as CSV or XLSX with a progress bar, and the winner draw of a
list-only campaign (reproducible from its printed seed, audited)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer

from admin_cli.campaign_access import now, run_as
from admin_cli.context import CliError, load_config
from admin_cli.output import JSON_OPTION, add_row, console, display, plain, print_json, print_links, print_table, table
from bot.campaigns.export_kinds import ExportFormat, ExportKind
from flows.campaigns.describe import when
from flows.campaigns.rules import UploadStatus
from flows.einvoice.note_labels import label as note_label

if TYPE_CHECKING:
    from bot.campaigns.stats import CampaignStats, DayCounts, ParticipantPage, ParticipantRow, Share
    from bot.campaigns.store import Actor, CampaignStore, CampaignView
    from bot.campaigns.winner_draw import DrawResult

reports_app = typer.Typer(help="Statistics, participant list, exports and the winner draw.", no_args_is_help=True)

STATUS_HELP = "one of: " + ", ".join(f"{s.value} ({s.label})" for s in UploadStatus)


def parse_status(text: str) -> UploadStatus:
    for status in UploadStatus:
        if text in (status.value, status.label):
            return status
    raise typer.BadParameter(f"unknown status {text!r}; {STATUS_HELP}", param_hint="--status")



# --- stats ------------------------------------------------------------------------------------------

@reports_app.command("stats")
def stats(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    png: Path | None = typer.Option(None, "--png", help="Also write the uploads-per-day chart to this PNG file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """上傳發票數, 參與人數 and 通過 / 無效 / 待驗證 / 資格不符 with their share of 上傳發票數, and
    a chart of the uploads per day (Asia/Taipei) by status."""
    from admin_cli.charts import print_chart, write_png
    from bot.campaigns.stats import campaign_stats, uploads_per_day

    if png is not None and not png.resolve().parent.is_dir():
        raise typer.BadParameter(f"directory {png.resolve().parent} does not exist", param_hint="--png")

    async def work(store: CampaignStore, actor: Actor) -> tuple[CampaignView, CampaignStats, list[DayCounts]]:
        view = await store.get(campaign_id, now(), actor=actor)
        async with store.db.session() as session:
            return view, await campaign_stats(session, campaign_id), await uploads_per_day(session, campaign_id)

    view, numbers, days = run_as(ctx, work)
    if png is not None:
        cjk = write_png(days, (f"{view.settings.name}：每日上傳發票數",
                               f"Campaign {view.id}: uploads per day by status"), png)
        typer.echo(f"wrote the chart to {png}" + ("" if cjk else " (no CJK font found: status codes as labels)"),
                   err=as_json)
    if as_json:
        print_json(_stats_json(view, numbers, days))
        return
    out = console()
    out.print(f"campaign {view.id} 「{display(view.settings.name)}」 ({view.status.label})")
    grid = table("項目", "數量", "比例")
    add_row(grid, "上傳發票數", numbers.uploads, "")
    add_row(grid, "參與人數", numbers.participants, "")
    for label, share in (("通過", numbers.passed), ("無效", numbers.invalid), ("待驗證", numbers.pending),
                         ("資格不符", numbers.not_qualified)):
        add_row(grid, label, share.count, f"{share.percent:.1f}%")
    add_row(grid, "重複登錄（不計入）", numbers.duplicates, "")
    add_row(grid, "無法辨識（不計入）", numbers.unreadable, "")
    if numbers.held or numbers.awaiting_review:
        add_row(grid, "通過・獎項保留中", numbers.held, "")
        add_row(grid, "待審核（含回報問題）", numbers.awaiting_review, "")
        add_row(grid, "其中回報問題", numbers.appeals_waiting, "")
    print_table(grid, out)
    print_chart(days, out)


def _stats_json(view: CampaignView, numbers: CampaignStats, days: list[DayCounts]) -> dict:
    from bot.campaigns.stats import DAY_STATUSES

    def share(part: Share) -> dict:
        return {"count": part.count, "percent": part.percent}

    return {
        "campaign": {"id": view.id, "name": view.settings.name, "status": view.status.value,
                     "status_label": view.status.label},
        "uploads": numbers.uploads,
        "participants": numbers.participants,
        "passed": share(numbers.passed),
        "invalid": share(numbers.invalid),
        "pending": share(numbers.pending),
        "not_qualified": share(numbers.not_qualified),
        "duplicates": numbers.duplicates,
        "unreadable": numbers.unreadable,
        "held": numbers.held,
        "awaiting_review": numbers.awaiting_review,
        "appeals_waiting": numbers.appeals_waiting,
        "per_day": [{"day": d.day, "total": d.total, **{s.value: d.count(s) for s in DAY_STATUSES}} for d in days],
    }


# --- participants -----------------------------------------------------------------------------------

@reports_app.command("participants")
def participant_list(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    status: str | None = typer.Option(None, "--status", help=f"Only this status; {STATUS_HELP}. "
                                      "Default: the counted ones (通過, 無效, 待驗證, 資格不符)."),
    page: int = typer.Option(1, "--page", min=1),
    per_page: int = typer.Option(20, "--per-page", min=1, max=500),
    as_json: bool = JSON_OPTION,
) -> None:
    """The participant list, newest first, one page at a time; photo links and the code reader's
    notes (讀碼註記: what it tolerated) in full below the table."""
    from bot.campaigns.exports import format_date
    from bot.campaigns.stats import participants
    from bot.photos import photo_linker
    from bot.privacy.keys import link_generation

    wanted = parse_status(status) if status is not None else None
    config = load_config()

    async def work(store: CampaignStore, actor: Actor) -> ParticipantPage:
        await store.get(campaign_id, now(), actor=actor)
        async with store.db.session() as session, session.begin():
            link = photo_linker(config, generation=await link_generation(session), now=now())
            return await participants(session, campaign_id, status=wanted, limit=per_page,
                                      offset=(page - 1) * per_page, photo_link=link)

    result = run_as(ctx, work)
    pages = max(1, -(-result.total // per_page))
    if as_json:
        print_json({"page": page, "pages": pages, "per_page": per_page, "total": result.total,
                    "rows": [_participant_json(row) for row in result.rows]})
        return
    grid = table("姓名 / LINE UID", "電話", "發票號碼 / 開立日期", "狀態 / 上傳方式", "上傳 / 驗證時間", "發票檔案")
    links: list[tuple[str, str]] = []
    notes: list[str] = []
    for row in result.rows:
        number = f"{row.invoice_number[:2]}-{row.invoice_number[2:]}" if row.invoice_number else ""
        ref = ""
        if row.photo_link:
            ref = f"[{len(links) + 1}]"
            links.append((ref, row.photo_link))
        notes.extend(plain(f"{number or f'upload {row.upload_id}'} {note_label(note.code)} ({note.code}): {note.text}")
                     for note in row.notes)
        add_row(grid, [row.name, row.line_user_id], row.phone, [number, format_date(row.invoice_date)],
                [row.status.label, row.source.label],
                [when(row.uploaded_at), when(row.verified_at) if row.verified_at else "–"], ref)
    print_table(grid)
    if links:
        typer.echo("發票檔案:")
        print_links(links)
    if notes:
        typer.echo("讀碼註記:")  # what the code's reader tolerated, one line per note, never cut
        for line in notes:
            typer.echo(line)
    typer.echo(f"page {page} of {pages} ({result.total} uploads)")


def _participant_json(row: ParticipantRow) -> dict:
    return {"upload_id": row.upload_id, "name": row.name, "line_user_id": row.line_user_id, "phone": row.phone,
            "invoice_number": row.invoice_number, "invoice_date": row.invoice_date, "source": row.source.value,
            "source_label": row.source.label, "uploaded_at": row.uploaded_at, "verified_at": row.verified_at,
            "photo_link": row.photo_link, "status": row.status.value, "status_label": row.status.label,
            "code_notes": [note.as_json() for note in row.notes]}


# --- exports ----------------------------------------------------------------------------------------

@reports_app.command("export")
def export_file(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    kind: ExportKind = typer.Argument(..., help="participants (參加名單, all statuses), items (發票明細) or review (審核名單)."),
    fmt: ExportFormat = typer.Option(ExportFormat.CSV, "--format", help="csv (UTF-8 with BOM, for Excel) or xlsx."),
    output: Path = typer.Option(..., "-o", "--output", help="File to write (replaced only when complete); - "
                                "writes the file's bytes to stdout (messages go to stderr)."),
) -> None:
    """Write an export file (owner-only, mode 0600; its photo links work for as long as the
    campaign keeps its photos, until `privacy rotate-links`); a progress bar shows on long
    exports. Audited: who exported what, when."""
    from admin_cli.streams import is_stdio, stdout_bytes

    to_stdout = is_stdio(output)
    directory = output.resolve().parent
    if not to_stdout and not directory.is_dir():
        raise typer.BadParameter(f"directory {directory} does not exist", param_hint="-o")

    async def write(store: CampaignStore, actor: Actor, out: BinaryIO) -> int:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from bot.campaigns.exports import count_rows, export
        from bot.photos import export_photo_linker
        from bot.storage import audit

        config = load_config()
        async with store.db.session() as session, session.begin():
            moment = now()
            link = await export_photo_linker(session, config, campaign_id, moment)
            total = await count_rows(session, campaign_id, kind)
            columns = (TextColumn(f"{kind.label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            shown_on = console(stderr=True)  # no bar where stderr is not a terminal (a pipe, heroku run)
            with Progress(*columns, console=shown_on, transient=True, disable=not shown_on.is_terminal) as progress:
                task = progress.add_task("export", total=total)
                rows = await export(session, campaign_id, kind, fmt, out, actor=actor,
                                    progress=lambda done: progress.update(task, completed=done), photo_link=link)
            audit.record(session, action="campaign.export", target=f"campaign:{campaign_id}",
                         actor=actor, at=moment, kind=kind.value, format=fmt.value, rows=rows,
                         file="-" if to_stdout else str(output.resolve()))
        return rows

    async def work(store: CampaignStore, actor: Actor) -> int:
        await store.get(campaign_id, now(), actor=actor)
        if to_stdout:
            out = stdout_bytes()
            rows = await write(store, actor, out)
            out.flush()
            return rows
        handle, partial = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                rows = await write(store, actor, out)
            os.chmod(partial, 0o600)  # personal data: owner-only (mkstemp made it so; kept explicit)
            os.replace(partial, output)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return rows

    rows = run_as(ctx, work)
    typer.echo(f"wrote {rows} rows of {kind.label} to {'stdout' if to_stdout else output}", err=to_stdout)


# --- lottery ----------------------------------------------------------------------------------------

@reports_app.command("lottery")
def lottery(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    count: int = typer.Argument(..., min=1, help="How many winners."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Repeat an earlier draw with its printed seed."),
    one_per_user: bool = typer.Option(False, "--one-per-user", help="At most one win per LINE user."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Also write the winners to this CSV file (- "
                                       "for stdout; the table and messages then go to stderr)."),
) -> None:
    """Draw winners among the 通過 invoices of a list-only (僅搜集名單) campaign."""
    from admin_cli.streams import is_stdio, write_bytes

    from bot.campaigns.exports import format_date
    from bot.campaigns.winner_draw import DrawRefused, draw_winners
    from flows.campaigns.lottery import new_seed
    from flows.campaigns.roles import Permission, require
    from flows.privacy.csv_cells import csv_text

    used_seed = new_seed() if seed is None else seed

    async def work(store: CampaignStore, actor: Actor) -> DrawResult:
        require(actor.name, actor.role, Permission.EDIT)
        view = await store.get(campaign_id, now(), actor=actor)
        async with store.db.session() as session, session.begin():
            try:
                return await draw_winners(session, view, count, used_seed, one_per_user=one_per_user,
                                          actor=actor, now=now())
            except DrawRefused as exc:
                raise CliError(f"CAMPAIGN: {exc}") from None

    drawn = run_as(ctx, work)
    result = drawn.draw
    to_stdout = is_stdio(output)  # stdout carries the CSV: everything else goes to stderr
    typer.echo(f"seed {result.seed} — repeat this draw with --seed {result.seed}", err=to_stdout)
    typer.echo(f"drew {len(result.winners)} of {count} winners among {result.entries} 通過 invoices "
               f"from {result.users} users" + (" (one win per user)" if one_per_user else ""), err=to_stdout)
    grid = table("#", "上傳 ID", "姓名", "LINE UID", "發票號碼", "開立日期")
    lines = []
    for w in drawn.winners:
        cells = [str(w.place), str(w.upload_id), w.name or "", w.line_user_id, w.invoice_number or "",
                 format_date(w.invoice_date)]
        add_row(grid, *cells)
        lines.append(cells)
    print_table(grid, console(stderr=to_stdout))
    winners_csv = csv_text([["名次", "上傳 ID", "姓名", "LINE UID", "發票號碼", "開立日期"], *lines])
    if to_stdout:
        write_bytes(output, winners_csv.encode("utf-8-sig"))  # with the BOM, as the file: for Excel
    elif output is not None:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an existing file keeps its mode on open: owner-only
        with open(descriptor, "w", encoding="utf-8-sig", newline="") as out:
            out.write(winners_csv)
        typer.echo(f"wrote the winners to {output}")

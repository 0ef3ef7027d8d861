"""`admin-cli crm …` for records beyond Backme's own: donations made elsewhere (contributions add /
import), receipt options per page, annual receipts and the receipt work lists, and contacts."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from admin_cli.campaign_access import checked
from admin_cli.context import acting_user_name, fail
from admin_cli.output import add_row, display, json_text, print_table, table
from admin_cli.crm import _run, as_editor, console, contributions_app, crm_app, pages_app
from admin_cli.streams import is_stdio, read_limited
from flows.backme.offline import COLUMNS, OfflineDonationError, parse_offline_donation, parse_offline_rows
from flows.backme.payload import TAIPEI

if TYPE_CHECKING:
    from bot.storage.crm_models import DonationPage
    from bot.storage.database import Database

contacts_app = typer.Typer(help="CRM contacts (buyers and recipients from Backme, offline donors).",
                           no_args_is_help=True)
receipts_app = typer.Typer(help="Annual receipts and the receipt work lists.", no_args_is_help=True)
crm_app.add_typer(contacts_app, name="contacts")
crm_app.add_typer(receipts_app, name="receipts")

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10000


async def _audit(db: Database, actor_id: int, action: str, target: str, detail: dict[str, Any]) -> None:
    from bot.storage.models import AuditEntry

    async with db.session() as session:
        session.add(AuditEntry(actor_id=actor_id, action=action, target=target, detail=detail))
        await session.commit()


def _today() -> dt.date:
    from bot.storage.models import utcnow

    return utcnow().astimezone(TAIPEI).date()


def _write(text: str, out: Optional[Path]) -> None:
    if out is None or is_stdio(out):
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8-sig")  # BOM: spreadsheet programs read UTF-8 then
    except OSError as exc:
        raise fail(f"out: cannot write {out}: {exc}") from None


# ---------------------------------------------------------------- pages: receipt options


@pages_app.command("receipt-options")
def pages_receipt_options(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Page key."),
    set_: list[str] = typer.Option([], "--set", help="VALUE=DISPLAY NAME (repeatable), e.g. 1=需要紙本收據."),
    reset: list[str] = typer.Option([], "--reset", help="VALUE back to the seed's default name (repeatable)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a page's receipt options (value, Backme's labels, display name); --set / --reset edit
    the display names (the values are fixed)."""
    from sqlalchemy import select

    from bot.backme.pages import PageSettingsError, parse_receipt_option_names, receipt_option_display
    from bot.storage.crm_models import DonationPage
    from bot.storage.models import AuditEntry
    from flows.backme.receipts import CURRENT_RECEIPT_LABELS, OLDER_RECEIPT_LABELS, ReceiptOption

    changes: dict[str, str] = {}
    for item in set_:
        value, sep, name = item.partition("=")
        if not sep:
            raise fail(f"--set: {item!r} is not VALUE=NAME")
        changes[value.strip()] = name
    try:
        parse_receipt_option_names(changes)
        for value in reset:
            parse_receipt_option_names({value: "x"})
    except PageSettingsError as exc:
        raise fail(str(exc)) from None
    editing = bool(changes or reset)
    actor_name = acting_user_name(ctx) if editing else ""

    async def work(db: Database) -> DonationPage:
        actor = await as_editor(db, actor_name, "edit donation pages") if editing else None
        async with db.session() as session:
            page = (await session.execute(select(DonationPage).where(DonationPage.key == key))).scalar_one_or_none()
            if page is None:
                raise fail(f"key: no donation page {key!r}")
            if editing:
                names = parse_receipt_option_names(page.receipt_option_names)
                names.update(parse_receipt_option_names(changes))
                for value in reset:
                    names.pop(value, None)
                page.receipt_option_names = names
                session.add(AuditEntry(actor_id=actor.id, action="crm.page.receipt_options", target=f"page:{key}",
                                       detail={"set": changes, "reset": list(reset)}))
                await session.commit()
            return page

    page = _run(work)
    rows = [{"value": o.value, "label": next(k for k, v in CURRENT_RECEIPT_LABELS.items() if v is o),
             "older_label": next(k for k, v in OLDER_RECEIPT_LABELS.items() if v is o),
             "display_name": receipt_option_display(page, o.value),
             "custom": o.value in (page.receipt_option_names or {})} for o in ReceiptOption]
    if as_json:
        typer.echo(json_text(rows))
        return
    grid = table("value", "Backme label", "older label", "display name", "")
    for r in rows:
        add_row(grid, r["value"], r["label"], r["older_label"], r["display_name"], "edited" if r["custom"] else "default")
    print_table(grid)


# ---------------------------------------------------------------- contributions made elsewhere


def _print_recorded(recorded: list) -> None:  # noqa: ANN001
    grid = table("page", "trade no", "contact", "receipt no.")
    for r in recorded:
        add_row(grid, r.page, r.trade_no, str(r.contact_id), r.receipt_number or "")
    print_table(grid)


def _errors_out(exc: OfflineDonationError) -> typer.Exit:
    for error in exc.errors:
        typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


def _record(actor_name: str, rows: list, action: str, target: str) -> list:  # noqa: ANN001
    """Record (line, donation) rows as the acting editor, audited; errors end the command."""
    from bot.backme.offline import record_offline_donations

    async def work(db: Database) -> list:
        actor = await as_editor(db, actor_name, "record contributions")
        try:
            recorded = await record_offline_donations(db, rows)
        except OfflineDonationError as exc:
            raise _errors_out(exc) from None
        await _audit(db, actor.id, action, target, {"trade_nos": [r.trade_no for r in recorded][:100],
                                                    "rows": len(recorded)})
        return recorded

    return _run(work)


@contributions_app.command("add")
def contributions_add(
    ctx: typer.Context,
    page: str = typer.Option(..., help="Page key."),
    amount: str = typer.Option(..., help="NT$ amount."),
    date: str = typer.Option(..., help="Date received, YYYY-MM-DD (Taipei)."),
    processor: str = typer.Option(..., help="Where it was made: 銀行轉帳, 現金 or another form (not 挖貝)."),
    name: str = typer.Option(..., help="Donor name."),
    email: str = typer.Option("", help="Donor e-mail."),
    phone: str = typer.Option("", help="Donor phone."),
    trade_no: str = typer.Option("", help="Transaction ID (generated when empty)."),
    receipt_option: str = typer.Option("", help="0, 1, 2, annual_paper_receipt, single_e_receipt, annual_e_receipt."),
    receipt_title: str = typer.Option("", help="收據抬頭 (default: the donor name)."),
    receipt_serial: str = typer.Option("", help="身分證/統一編號."),
    receipt_email: str = typer.Option("", help="E-mail for an e-receipt."),
    postal_code: str = typer.Option("", help="Receipt postal code."),
    address: str = typer.Option("", help="Receipt address."),
    note: str = typer.Option("", help="Note kept with the contribution."),
    test: bool = typer.Option(False, "--test", help="A test entry: never counted, no receipt number."),
) -> None:
    """Record a donation made elsewhere (bank transfer, cash, another form) on a page."""
    row = dict(page=page, amount=amount, date=date, processor=processor, name=name, email=email, phone=phone,
               trade_no=trade_no, receipt_option=receipt_option, receipt_title=receipt_title,
               receipt_serial=receipt_serial, receipt_email=receipt_email, postal_code=postal_code,
               address=address, note=note, test="yes" if test else "no")
    try:
        donation = parse_offline_donation(row, today=_today())
    except OfflineDonationError as exc:
        raise _errors_out(exc) from None
    recorded = _record(acting_user_name(ctx), [(None, donation)], "crm.contribution.add", f"page:{page}")
    _print_recorded(recorded)


@contributions_app.command("import")
def contributions_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help=f"UTF-8 CSV with a header row: {', '.join(COLUMNS)}; - reads stdin."),
) -> None:
    """Import donations made elsewhere from a CSV, all or nothing: every bad field of every row is
    reported with its line number and nothing is stored until the whole file is valid."""
    raw = checked(read_limited, file, MAX_IMPORT_BYTES, f"file {file}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail("file: must be UTF-8") from None
    reader = csv.DictReader(text.splitlines(), restkey="(extra)")
    if not reader.fieldnames:
        raise fail("file: has no header row")
    missing = [c for c in ("page", "amount", "date", "processor", "name") if c not in reader.fieldnames]
    if missing:
        raise fail(f"file: header lacks column(s) {', '.join(missing)}")
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for record in reader:
            if len(rows) >= MAX_IMPORT_ROWS:
                raise fail(f"file: more than {MAX_IMPORT_ROWS} rows")
            if not any((v or "").strip() for k, v in record.items() if isinstance(v, str)):
                continue  # blank line
            rows.append((reader.line_num, record))
    except csv.Error as exc:
        raise fail(f"file: line {reader.line_num}: {exc}") from None
    try:
        donations = parse_offline_rows(rows, today=_today())
    except OfflineDonationError as exc:
        raise _errors_out(exc) from None
    recorded = _record(acting_user_name(ctx), [(line, d) for (line, _), d in zip(rows, donations)],
                       "crm.contribution.import", "file:-" if is_stdio(file) else f"file:{file.name}")
    typer.echo(f"imported {len(recorded)} contribution(s)")
    _print_recorded(recorded)


# ---------------------------------------------------------------- receipts


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise fail("year: must be between 2000 and 2100")
    return year


@receipts_app.command("annual")
def receipts_annual(
    ctx: typer.Context,
    year: int = typer.Argument(..., help="The year whose donations the receipts cover."),
    page: Optional[str] = typer.Option(None, help="Only this page."),
    paper_csv: Optional[Path] = typer.Option(None, help="Write the printable 年度寄送紙本收據 list here "
                                                        "(default: annual-paper-receipts-YEAR.csv; - for stdout)."),
) -> None:
    """Issue the annual receipts of YEAR: one e-mail per donor for 年度寄送電子收據 (queued in the
    outbox; a donor already e-mailed for the year is not e-mailed again) and a printable CSV list
    for 年度寄送紙本收據."""
    from bot.backme.worklists import issue_annual_receipts

    _year(year)
    if year >= _today().year:
        raise fail(f"year: {year} has not ended yet; annual receipts are issued after the year ends")
    actor_name = acting_user_name(ctx)

    async def work(db: Database) -> Any:  # noqa: ANN401
        actor = await as_editor(db, actor_name, "issue receipts")
        result = await issue_annual_receipts(db, year, page_key=page)
        await _audit(db, actor.id, "crm.receipts.annual", f"year:{year}",
                     {"page": page, "emailed": result.emailed, "paper": result.paper_count})
        return result

    result = _run(work)
    target = paper_csv or Path(f"annual-paper-receipts-{year}.csv")
    _write(result.paper_csv, target)
    to_stderr = is_stdio(target)  # stdout carries the list
    typer.echo(f"annual e-receipts queued: {result.emailed} (already issued before: {result.already_emailed})",
               err=to_stderr)
    typer.echo(f"annual paper receipts: {result.paper_count} → {'stdout' if to_stderr else target}", err=to_stderr)
    for trade_no in result.no_email:
        typer.echo(f"warning: no e-mail address for the annual e-receipt of {trade_no}", err=True)


@receipts_app.command("paper")
def receipts_paper(
    year: Optional[int] = typer.Option(None, help="Only donations received in this year."),
    page: Optional[str] = typer.Option(None, help="Only this page."),
    out: Optional[Path] = typer.Option(None, help="CSV file (default: standard output)."),
) -> None:
    """Work list: single paper receipts (單次寄送紙本收據) to mail, with the receipt address."""
    from bot.backme.worklists import paper_worklist

    text, count = _run(lambda db: paper_worklist(db, year=_year(year) if year is not None else None, page_key=page))
    _write(text, out)
    if out is not None and not is_stdio(out):
        typer.echo(f"{count} paper receipt(s) → {out}")


@receipts_app.command("tax-upload")
def receipts_tax_upload(
    year: int = typer.Argument(..., help="The year of the donations."),
    page: Optional[str] = typer.Option(None, help="Only this page."),
    out: Optional[Path] = typer.Option(None, help="CSV file (default: standard output)."),
) -> None:
    """Work list: donations of YEAR whose donors asked for upload to the tax bureau (option 2)."""
    from bot.backme.worklists import tax_upload_worklist

    text, count = _run(lambda db: tax_upload_worklist(db, year=_year(year), page_key=page))
    _write(text, out)
    if out is not None and not is_stdio(out):
        typer.echo(f"{count} donation(s) to upload → {out}")


# ---------------------------------------------------------------- contacts


@contacts_app.command("search")
def contacts_search(
    text: Optional[str] = typer.Argument(None, help="Part of a name, e-mail, phone or external ID (backer-N)."),
    relationship: Optional[str] = typer.Option(
        None, help="關係類型: only contacts on that side of a relationship (收件者: the recipients of "
                   "contributions, each with its buyer and the contributions)."),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Find contacts by text, by relationship (進階搜尋-關係-關係類型:收件者), or both."""
    from bot.backme.contact_view import RELATIONSHIP_TYPES, search_by_relationship, search_contacts

    if relationship is not None and relationship not in RELATIONSHIP_TYPES:
        raise fail(f"relationship: must be {' or '.join(RELATIONSHIP_TYPES)}")
    if relationship is None and not (text or "").strip():
        raise fail("text: must not be empty")

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            if relationship is not None:
                return await search_by_relationship(session, relationship, text, limit)
            return await search_contacts(session, text or "", limit)

    found = _run(work)
    if as_json:
        for row in found:
            typer.echo(json_text(row))
        return
    columns = ["id", "external id", "surname", "given name", "e-mail"]
    if relationship is not None:
        columns += ["relation", "of (訂購者)", "contributions"]
    grid = table(*columns)
    for row in found:
        cells = [str(row["id"]), row["external_id"] or "", row["last_name"], row["first_name"], row["email"]]
        if relationship is not None:
            other = row["related_contact"]
            cells += [row["label"],
                      f"#{other['id']} {other['name']}" + (f" ({other['external_id']})" if other["external_id"] else ""),
                      " ".join(f"{k['page']}:{k['trade_no']}" for k in row["contributions"])]
        add_row(grid, *cells)
    print_table(grid)


@contacts_app.command("show")
def contacts_show(
    ref: str = typer.Argument(..., metavar="ID", help="Contact ID or external ID (backer-N)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One contact: name parts, e-mails, phones, addresses, relations, change log, contributions."""
    from bot.backme.contact_view import contact_details, find_contact_id


    async def work(db: Database) -> dict[str, Any] | None:
        async with db.session() as session:
            contact_id = await find_contact_id(session, ref)
            return await contact_details(session, contact_id) if contact_id is not None else None

    details = _run(work)
    if details is None:
        raise fail(f"id: no contact {ref!r}")
    if as_json:
        typer.echo(json_text(details))
        return
    console.print(f"[bold]{display(details['last_name'])}{display(details['first_name'])}[/bold]  #{details['id']}  "
                  f"{display(details['external_id'] or '')}  (surname {display(repr(details['last_name']))}, "
                  f"given name {display(repr(details['first_name']))})", markup=True, highlight=False)
    sections = [
        ("e-mails", ("e-mail", "location", "primary"),
         [(e["email"], e["location"], "yes" if e["primary"] else "") for e in details["emails"]]),
        ("phones", ("phone", "location", "primary"),
         [(p["phone"], p["location"], "yes" if p["primary"] else "") for p in details["phones"]]),
        ("addresses", ("location", "postal code", "county", "city", "street"),
         [(a["location"], a["postal_code"], a["subdivision"] or "", a["city"], a["street_address"])
          for a in details["addresses"]]),
        ("relations", ("relation", "contact"),
         [(r["label"], f"#{r['contact_id']} {r['contact_name']}") for r in details["relations"]]),
        ("change log", ("at", "text", "trade no"),
         [(e["at"] or "", e["text"], e["trade_no"] or "") for e in details["change_log"]]),
        ("contributions", ("page", "processor", "trade no", "amount", "status", "receipt no."),
         [(k["page"], k["processor"], k["trade_no"], k["amount"], k["status"], k["receipt_number"] or "")
          for k in details["contributions"]]),
    ]
    for title, columns, rows in sections:
        grid = table(*columns, title=title)
        for row in rows:
            add_row(grid, *row)
        print_table(grid)

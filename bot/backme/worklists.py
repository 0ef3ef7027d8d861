"""Receipts that are not e-mailed per donation: the annual receipts (e-mailed once a year for
年度寄送電子收據, a printable list for 年度寄送紙本收據) and the organisation's work lists — single
paper receipts to mail (option 1) and donations to upload to the tax bureau (option 2)."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.emails import KIND_ANNUAL_RECEIPT, queue_email
from bot.backme.pages import receipt_option_display
from bot.storage.crm_models import Contact, Contribution, DonationPage
from bot.storage.database import Database
from flows.backme.contributions import format_money
from flows.backme.payload import TAIPEI
from flows.backme.receipts import ReceiptOption
from flows.backme.regions import CRM_SUBDIVISION_NAMES, crm_subdivision
from flows.backme.statuses import ContributionStatus
from flows.privacy.csv_cells import csv_text

ANNUAL_SUBJECT = "【{page_name}】{year} 年度捐款收據"
PAPER_COLUMNS = ("收據編號", "捐款日期", "收據抬頭", "身分證/統一編號", "金額", "郵遞區號", "地址", "交易編號", "募款頁")
TAX_COLUMNS = ("捐贈年度", "身分證/統一編號", "收據抬頭", "金額", "收據編號", "捐款日期", "交易編號", "募款頁")
ANNUAL_PAPER_COLUMNS = ("募款頁", "收據抬頭", "身分證/統一編號", "郵遞區號", "地址", "筆數", "金額合計", "收據編號",
                        "交易編號")


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """[1 January, next 1 January) of ``year`` in Taipei time."""
    return dt.datetime(year, 1, 1, tzinfo=TAIPEI), dt.datetime(year + 1, 1, 1, tzinfo=TAIPEI)


def _local_date(moment: dt.datetime | None) -> str:
    return moment.astimezone(TAIPEI).strftime("%Y-%m-%d") if moment else ""


def receipt_address(row: Contribution) -> tuple[str, str]:
    """(postal code, address) the receipt is mailed to: the order's receipt section (county,
    district, street), as Backme sent it or as recorded for an offline donation."""
    receipt = (row.raw_order or {}).get("receipt") or {}
    if not isinstance(receipt, dict):
        return "", ""
    code = crm_subdivision(str(receipt.get("subdivision") or ""))
    county = CRM_SUBDIVISION_NAMES.get(code, "") if code else ""
    parts = [county, str(receipt.get("city_area") or ""), str(receipt.get("address") or "")]
    return str(receipt.get("postal_code") or ""), "".join(p for p in parts if p)


async def _rows(session: AsyncSession, options: tuple[ReceiptOption, ...], year: int | None,
                page_key: str | None) -> list[tuple[Contribution, DonationPage]]:
    """Completed, non-test contributions with one of ``options`` (received in ``year``)."""
    stmt = (select(Contribution, DonationPage).join(DonationPage, DonationPage.id == Contribution.page_id)
            .where(Contribution.status == ContributionStatus.COMPLETED.value, Contribution.is_test.is_(False),
                   Contribution.receipt_option.in_([o.value for o in options]))
            .order_by(DonationPage.key, Contribution.receive_date, Contribution.id))
    if page_key:
        stmt = stmt.where(DonationPage.key == page_key)
    if year is not None:
        start, end = year_bounds(year)
        stmt = stmt.where(Contribution.receive_date >= start, Contribution.receive_date < end)
    return [(c, p) for c, p in (await session.execute(stmt)).all()]


def _csv(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    """The work list as CSV text (header first), donor-supplied cells neutralised by the writer."""
    return csv_text([columns, *rows], lineterminator="\n")


async def paper_worklist(db: Database, *, year: int | None = None, page_key: str | None = None) -> tuple[str, int]:
    """Single paper receipts to mail (option 1): the CSV text and the row count."""
    async with db.session() as session:
        found = await _rows(session, (ReceiptOption.PAPER_SINGLE,), year, page_key)
    rows = []
    for c, p in found:
        postal, address = receipt_address(c)
        rows.append([c.receipt_number or "", _local_date(c.receive_date), c.receipt_title, c.receipt_serial,
                     format_money(c.amount), postal, address, c.trade_no, p.key])
    return _csv(PAPER_COLUMNS, rows), len(rows)


async def tax_upload_worklist(db: Database, *, year: int, page_key: str | None = None) -> tuple[str, int]:
    """Donations of ``year`` to upload to the tax bureau (option 2), one row per donation."""
    async with db.session() as session:
        found = await _rows(session, (ReceiptOption.NOT_MAILED,), year, page_key)
    rows = [[str(year), c.receipt_serial, c.receipt_title, format_money(c.amount), c.receipt_number or "",
             _local_date(c.receive_date), c.trade_no, p.key] for c, p in found]
    return _csv(TAX_COLUMNS, rows), len(rows)


@dataclass
class AnnualGroup:
    """One donor's donations of the year on one page with one annual option."""

    page: DonationPage
    option: ReceiptOption
    title: str
    serial: str
    contributions: list[Contribution] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((Decimal(c.amount) for c in self.contributions), Decimal(0))

    def dedupe_key(self, year: int) -> str:
        who = f"{self.contributions[0].contact_id}|{self.title}|{self.serial}"
        digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:24]
        return f"annual:{year}:{self.page.id}:{digest}"


@dataclass
class AnnualResult:
    emailed: int = 0  # newly queued
    already_emailed: int = 0  # queued by an earlier run (never sent twice)
    no_email: list[str] = field(default_factory=list)  # trade_nos of e-receipt groups without an address
    paper_csv: str = ""
    paper_count: int = 0


def _group(found: list[tuple[Contribution, DonationPage]]) -> list[AnnualGroup]:
    groups: dict[tuple, AnnualGroup] = {}
    for c, p in found:
        option = ReceiptOption(c.receipt_option)
        key = (p.id, option, c.contact_id, c.receipt_title, c.receipt_serial)
        group = groups.get(key)
        if group is None:
            group = groups[key] = AnnualGroup(p, option, c.receipt_title, c.receipt_serial)
        group.contributions.append(c)
    return list(groups.values())


def render_annual_receipt(group: AnnualGroup, year: int, donor_name: str) -> tuple[str, str]:
    """(subject, body) of an annual e-receipt: every donation of the year and the total."""
    page = group.page
    lines = [
        f"{donor_name or group.title} 您好:",
        "",
        f"以下是您 {year} 年度捐款「{page.name}」的收據。",
        "",
        f"捐款人/抬頭:{group.title or donor_name}",
        f"費用類型:{page.financial_type}",
        f"收據選項:{receipt_option_display(page, group.option.value)}",
        "",
    ]
    for c in group.contributions:
        lines.append(f"{_local_date(c.receive_date)}  NT$ {format_money(c.amount)}  收據編號:{c.receipt_number or '-'}"
                     f"  交易編號:{c.trade_no}")
    lines += ["", f"年度合計:NT$ {format_money(group.total)}({len(group.contributions)} 筆)", "", page.name]
    return ANNUAL_SUBJECT.format(page_name=page.name, year=year), "\n".join(lines) + "\n"


async def issue_annual_receipts(db: Database, year: int, *, page_key: str | None = None) -> AnnualResult:
    """Queue one annual e-receipt per donor for 年度寄送電子收據 (to the receipt e-mail they gave,
    else their member e-mail; a donor already e-mailed for the year is not e-mailed again) and
    build the printable list for 年度寄送紙本收據."""
    result = AnnualResult()
    paper_rows: list[list[str]] = []
    async with db.session() as session:
        async with session.begin():
            found = await _rows(session, (ReceiptOption.E_ANNUAL, ReceiptOption.PAPER_ANNUAL), year, page_key)
            for group in _group(found):
                latest = group.contributions[-1]
                if group.option is ReceiptOption.PAPER_ANNUAL:
                    postal, address = receipt_address(latest)
                    paper_rows.append([group.page.key, group.title, group.serial, postal, address,
                                       str(len(group.contributions)), format_money(group.total),
                                       "、".join(c.receipt_number or "" for c in group.contributions),
                                       "、".join(c.trade_no for c in group.contributions)])
                    continue
                to = next((c.notification_email for c in reversed(group.contributions) if c.notification_email), "")
                if not to:
                    result.no_email.append(latest.trade_no)
                    continue
                contact = await session.get(Contact, latest.contact_id) if latest.contact_id else None
                donor = f"{contact.last_name}{contact.first_name}" if contact else ""
                subject, body = render_annual_receipt(group, year, donor)
                queued = await queue_email(session, page_id=group.page.id, contribution_id=None,
                                           kind=KIND_ANNUAL_RECEIPT, to_address=to, subject=subject, body=body,
                                           key=group.dedupe_key(year))
                if queued:
                    result.emailed += 1
                else:
                    result.already_emailed += 1
    result.paper_csv = _csv(ANNUAL_PAPER_COLUMNS, paper_rows)
    result.paper_count = len(paper_rows)
    return result

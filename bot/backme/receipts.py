"""Receipt numbers (gap-free per page, allocated under a row lock in the caller's transaction) and
the texts of the receipt and payment-confirmation emails."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.pages import receipt_option_display
from bot.storage.crm_models import Contribution, DonationPage, ReceiptCounter
from flows.backme.contributions import format_money

log = logging.getLogger(__name__)
TAIPEI = dt.timezone(dt.timedelta(hours=8))
NUMBER_DIGITS = 6

DEFAULT_CONFIRMATION_SUBJECT = "【{{ page_name }}】付款成功確認信"
DEFAULT_CONFIRMATION_TEMPLATE = """{{ donor_name }} 您好:

感謝您透過挖貝支持「{{ page_name }}」。您的捐款已付款成功。

交易編號:{{ trade_no }}
金額:NT$ {{ amount }}
付款日期:{{ date }}
{% if receipt_number %}收據編號:{{ receipt_number }}
{% endif %}
{{ page_name }} 敬上
"""
RECEIPT_SUBJECT = "【{page_name}】捐款收據 {receipt_number}"

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


def format_receipt_number(prefix: str, number: int) -> str:
    """The page's prefix followed by the zero-padded sequence number: ``("DON-", 7)`` → ``DON-000007``."""
    return f"{prefix}{number:0{NUMBER_DIGITS}d}"


async def allocate_receipt_number(session: AsyncSession, page: DonationPage) -> str:
    """The next number of the page's sequence. Runs inside the caller's transaction: the counter
    row is locked FOR UPDATE, so a rolled-back transaction gives its number back (no gaps) and
    concurrent transactions take numbers one at a time (no duplicates)."""
    stmt = select(ReceiptCounter).where(ReceiptCounter.page_id == page.id).with_for_update()
    counter = (await session.execute(stmt)).scalar_one_or_none()
    if counter is None:
        counter = ReceiptCounter(page_id=page.id, next_number=1)
        session.add(counter)
        await session.flush()  # a concurrent first allocation fails here and the caller retries
    number = counter.next_number
    counter.next_number = number + 1
    return format_receipt_number(page.receipt_prefix, number)


def validate_template(source: str) -> None:
    """Raise ``ValueError`` naming the field when a confirmation template does not compile."""
    try:
        _env.from_string(source)
    except TemplateError as exc:
        raise ValueError(f"confirmation_template: {exc}") from None


@dataclass(frozen=True)
class EmailText:
    subject: str
    body: str


def _context(page: DonationPage, contribution: Contribution, donor_name: str) -> dict[str, str]:
    paid = contribution.receive_date or contribution.order_updated_at
    return {
        "donor_name": donor_name,
        "page_name": page.name,
        "financial_type": page.financial_type,
        "trade_no": contribution.trade_no,
        "amount": format_money(contribution.amount),
        "currency": contribution.currency,
        "date": paid.astimezone(TAIPEI).strftime("%Y-%m-%d"),
        "receipt_number": contribution.receipt_number or "",
        "receipt_option": receipt_option_display(page, contribution.receipt_option),
        "receipt_title": contribution.receipt_title or donor_name,
    }


def render_confirmation(page: DonationPage, contribution: Contribution, donor_name: str) -> EmailText:
    """The page's 付款成功確認信 (its own template, or the default when it has none or it fails)."""
    context = _context(page, contribution, donor_name)
    subject_src = page.confirmation_subject or DEFAULT_CONFIRMATION_SUBJECT
    body_src = page.confirmation_template or DEFAULT_CONFIRMATION_TEMPLATE
    try:
        return EmailText(_env.from_string(subject_src).render(context).strip(),
                         _env.from_string(body_src).render(context))
    except TemplateError as exc:
        log.warning("confirmation template failed; default used",
                    extra={"fields": {"page": page.key, "error": type(exc).__name__}})
        return EmailText(_env.from_string(DEFAULT_CONFIRMATION_SUBJECT).render(context).strip(),
                         _env.from_string(DEFAULT_CONFIRMATION_TEMPLATE).render(context))


def render_receipt(page: DonationPage, contribution: Contribution, donor_name: str) -> EmailText:
    """The e-receipt: number with the page's prefix, financial type, amount, title, option."""
    c = _context(page, contribution, donor_name)
    lines = [
        f"收據編號:{c['receipt_number']}",
        f"捐款人/抬頭:{c['receipt_title']}",
        f"費用類型:{c['financial_type']}",
        f"金額:NT$ {c['amount']}",
        f"捐款日期:{c['date']}",
        f"交易編號:{c['trade_no']}",
        f"收據選項:{c['receipt_option']}",
        "",
        f"{c['page_name']}",
    ]
    return EmailText(RECEIPT_SUBJECT.format(**c), "\n".join(lines) + "\n")

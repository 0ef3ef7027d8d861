"""Contribution and recurring-order plans for one Backme order: amount, instrument, status, dates,
receipt fields, the reward/note/custom-field text lines and the per-page custom field mapping."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from flows.backme.payload import BackmeOrder, OrderItem, OrderType
from flows.backme.receipts import ReceiptOption, UnknownReceiptOption, notification_email, order_receipt_option
from flows.backme.statuses import (
    ContributionStatus,
    RecurringStatus,
    contribution_status,
    recurring_status,
)

CURRENCY = "TWD"
NOTE_LABEL = "註記"  # netiCRM zh_TW for "Note"
RECEIPT_LABEL = "收據"


class PaymentInstrument(str, Enum):
    """The CRM payment instrument for Backme's ``payment.type``; ``label`` is zh-TW."""

    CREDIT_CARD = "credit_card"
    ATM = "atm"
    CONVENIENCE_STORE_CODE = "convenience_store_code"

    @property
    def label(self) -> str:
        return {"credit_card": "信用卡", "atm": "ATM", "convenience_store_code": "超商代碼"}[self.value]


INSTRUMENT_BY_PAYMENT_TYPE = {
    "credit": PaymentInstrument.CREDIT_CARD,
    "atm": PaymentInstrument.ATM,
    "cvs": PaymentInstrument.CONVENIENCE_STORE_CODE,
}


@dataclass(frozen=True)
class CustomFieldRule:
    """Where one Backme custom field goes in the CRM. With ``options``, each Backme answer maps
    to a CRM option value and an answer outside them is kept as text instead."""

    crm_field: str
    options: Mapping[str, str] = field(default_factory=dict)


PageFieldMapping = Mapping[str, CustomFieldRule]  # Backme custom field name → rule, per page


@dataclass(frozen=True)
class ContributionPlan:
    """Everything the CRM stores for one single donation or installment (type normal/child).
    ``status`` None means "no change"; a new contribution then starts as pending."""

    trade_no: str
    kind: OrderType
    parent_trade_no: str | None
    amount: Decimal
    currency: str
    instrument: PaymentInstrument | None
    status: ContributionStatus | None
    status_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    receive_date: dt.datetime | None
    cancel_date: dt.datetime | None
    is_pay_later: bool
    receipt_option: ReceiptOption | None
    receipt_title: str
    receipt_serial: str = field(repr=False)  # tax number or ID card number: personal data
    notification_email: str = field(repr=False)
    custom_values: tuple[tuple[str, str], ...] = ()  # (crm_field, value)
    text_lines: tuple[str, ...] = ()  # reward lines, note, unmapped custom fields
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecurringPlan:
    """The recurring (定期定額) order itself (type parent): monthly, open-ended."""

    trade_no: str
    amount: Decimal
    currency: str
    status: RecurringStatus
    status_reason: str | None
    frequency_unit: str
    frequency_interval: int
    created_at: dt.datetime
    updated_at: dt.datetime
    start_date: dt.datetime
    end_date: dt.datetime | None
    next_paid_time: dt.datetime | None
    next_paid_amount: Decimal | None


def format_money(amount: Decimal) -> str:
    """``Decimal("7490.0")`` → ``"7490"``; ``Decimal("99.50")`` → ``"99.5"``."""
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return format(amount.normalize(), "f")


def reward_line(item: OrderItem) -> str:
    """``reward_name(reward_id)x{quantity}:money`` — the item as kept with the contribution."""
    return f"{item.reward_name}({item.reward_id})x{item.quantity}:{format_money(item.money)}"


def map_custom_fields(
    items: tuple[OrderItem, ...], mapping: PageFieldMapping
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """(CRM values, text lines ``name→value`` for the unmapped, warnings). Empty answers are
    skipped; an answer outside a rule's options is kept as text and warned about."""
    values: list[tuple[str, str]] = []
    lines: list[str] = []
    warnings: list[str] = []
    for item in items:
        for custom in item.custom_fields:
            if not custom.value:
                continue
            rule = mapping.get(custom.name)
            if rule is None:
                lines.append(f"{custom.name}→{custom.value}")
                continue
            if rule.options:
                mapped = rule.options.get(custom.value)
                if mapped is None:
                    lines.append(f"{custom.name}→{custom.value}")
                    warnings.append(f"custom field {custom.name!r}: answer {custom.value!r} has no CRM option")
                    continue
                values.append((rule.crm_field, mapped))
            else:
                values.append((rule.crm_field, custom.value))
    return tuple(values), tuple(lines), tuple(warnings)


def _receipt_fields(order: BackmeOrder) -> tuple[ReceiptOption | None, str, str, tuple[str, ...], tuple[str, ...]]:
    """(option, title, serial, extra text lines, warnings). An unknown label is kept as the text
    line ``收據→label`` with no option stored (documented fallback)."""
    receipt = order.receipt
    if receipt is None:
        return None, "", "", (), ()
    try:
        option = order_receipt_option(order)
    except UnknownReceiptOption as exc:
        return None, "", "", (f"{RECEIPT_LABEL}→{exc.label}",), (str(exc),)
    if option is None or not option.wants_receipt:
        return option, "", "", (), ()
    title = receipt.corporate_name or receipt.contact_name
    serial = receipt.tax_number or receipt.identity_card_number
    return option, title, serial, (), ()


def plan_contribution(order: BackmeOrder, mapping: PageFieldMapping | None = None) -> ContributionPlan:
    """The contribution for a single donation or an installment (``type`` normal or child)."""
    if order.type is OrderType.PARENT:
        raise ValueError("transaction.type: a parent order is planned with plan_recurring")
    t, p = order.transaction, order.payment
    outcome = contribution_status(order)
    custom_values, custom_lines, custom_warnings = map_custom_fields(t.items, mapping or {})
    option, title, serial, receipt_lines, receipt_warnings = _receipt_fields(order)
    lines = [reward_line(item) for item in t.items]
    lines += [f"{NOTE_LABEL}=>{item.note}" for item in t.items if item.note]
    lines += list(custom_lines) + list(receipt_lines)
    receive_date = cancel_date = None
    if outcome.status is ContributionStatus.COMPLETED:
        receive_date = p.paid_at or t.updated_at
    elif outcome.status is ContributionStatus.CANCELLED:
        cancel_date = p.refund_at or t.updated_at
    elif outcome.status is ContributionStatus.FAILED:
        cancel_date = t.updated_at
    return ContributionPlan(
        trade_no=t.trade_no,
        kind=t.type,
        parent_trade_no=t.parent_trade_no,
        amount=t.money,
        currency=CURRENCY,
        instrument=INSTRUMENT_BY_PAYMENT_TYPE.get(p.type),
        status=outcome.status,
        status_reason=outcome.reason,
        created_at=t.created_at,
        updated_at=t.updated_at,
        receive_date=receive_date,
        cancel_date=cancel_date,
        is_pay_later=outcome.status is ContributionStatus.PENDING and p.type in ("atm", "cvs"),
        receipt_option=option,
        receipt_title=title,
        receipt_serial=serial,
        notification_email=notification_email(order),
        custom_values=custom_values,
        text_lines=tuple(lines),
        warnings=custom_warnings + receipt_warnings,
    )


def plan_recurring(order: BackmeOrder) -> RecurringPlan:
    """The recurring order (``type`` parent): monthly from ``created_at``; ends when term done."""
    if order.type is not OrderType.PARENT:
        raise ValueError("transaction.type: only a parent order is a recurring order")
    t, p = order.transaction, order.payment
    outcome = recurring_status(order)
    assert isinstance(outcome.status, RecurringStatus)
    return RecurringPlan(
        trade_no=t.trade_no,
        amount=t.money,
        currency=CURRENCY,
        status=outcome.status,
        status_reason=outcome.reason,
        frequency_unit="month",
        frequency_interval=1,
        created_at=t.created_at,
        updated_at=t.updated_at,
        start_date=t.created_at,
        end_date=t.updated_at if outcome.status in (RecurringStatus.COMPLETED, RecurringStatus.CANCELLED) else None,
        next_paid_time=p.next_paid_time,
        next_paid_amount=p.next_paid_amount,
    )

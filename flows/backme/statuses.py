"""Backme render_status → CRM status: contributions (single donations and installments) and
recurring (定期定額) orders, with the failure/cancel reason to store."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from flows.backme.payload import BackmeOrder, OrderType

REFUNDED_NOTE = "交易已進行退款"  # netiCRM zh_TW: "The transaction has already been refunded."


class ContributionStatus(str, Enum):
    """A contribution's status; ``label`` is the CRM's zh-TW name."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return _CONTRIBUTION_LABELS[self]


class RecurringStatus(str, Enum):
    """A recurring order's status; ``label`` is the CRM's zh-TW name."""

    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return _RECURRING_LABELS[self]


_CONTRIBUTION_LABELS = {
    ContributionStatus.PENDING: "待處理",
    ContributionStatus.COMPLETED: "已完成",
    ContributionStatus.FAILED: "已失敗",
    ContributionStatus.CANCELLED: "已取消",
}
_RECURRING_LABELS = {
    RecurringStatus.IN_PROGRESS: "進行中",
    RecurringStatus.SUSPENDED: "暫停中",
    RecurringStatus.COMPLETED: "已完成",
    RecurringStatus.CANCELLED: "已取消",
}

# None = "no change" (the order is known to Backme but its status says nothing new).
CONTRIBUTION_STATUS_BY_RENDER_STATUS: dict[str, ContributionStatus | None] = {
    "success": ContributionStatus.COMPLETED,
    "wait": ContributionStatus.PENDING,  # ATM transfer not yet paid
    "wait_code": ContributionStatus.PENDING,  # convenience-store code not yet paid
    "refund": ContributionStatus.CANCELLED,
    "cancel": ContributionStatus.CANCELLED,
    "failed": ContributionStatus.FAILED,
    "failed_code": ContributionStatus.FAILED,
    "refund_applying": None,
    "partial_refund": None,
}
RECURRING_STATUS_BY_RENDER_STATUS: dict[str, RecurringStatus] = {
    "recurring": RecurringStatus.IN_PROGRESS,
    "suspend": RecurringStatus.SUSPENDED,
    "success": RecurringStatus.COMPLETED,  # term done (期滿)
    "failed_cancel": RecurringStatus.CANCELLED,
}

# Tie-break when two versions of one order carry the same updated_at: the later stage wins.
STATUS_RANK: dict[ContributionStatus | RecurringStatus, int] = {
    ContributionStatus.PENDING: 0,
    ContributionStatus.COMPLETED: 1,
    ContributionStatus.FAILED: 2,
    ContributionStatus.CANCELLED: 3,
    RecurringStatus.IN_PROGRESS: 0,
    RecurringStatus.SUSPENDED: 1,
    RecurringStatus.COMPLETED: 2,
    RecurringStatus.CANCELLED: 3,
}


@dataclass(frozen=True)
class StatusOutcome:
    """What one order version says about status: ``status`` None means "no change"."""

    status: ContributionStatus | RecurringStatus | None
    reason: str | None = None


def _reason(order: BackmeOrder) -> str:
    log = order.payment.log.strip()
    reason = f"{order.transaction.render_status}: {log}" if log else order.transaction.render_status
    if order.payment.refund_at is not None:
        reason += f"; {REFUNDED_NOTE}({order.payment.refund_at.isoformat()})"
    return reason


def contribution_status(order: BackmeOrder) -> StatusOutcome:
    """Status of a single donation or installment (``type`` normal or child)."""
    if order.type is OrderType.PARENT:
        raise ValueError("transaction.type: a parent order is a recurring order, not a contribution")
    status = CONTRIBUTION_STATUS_BY_RENDER_STATUS[order.transaction.render_status]
    if status in (ContributionStatus.FAILED, ContributionStatus.CANCELLED):
        return StatusOutcome(status, _reason(order))
    return StatusOutcome(status)


def recurring_status(order: BackmeOrder) -> StatusOutcome:
    """Status of a recurring order (``type`` parent)."""
    if order.type is not OrderType.PARENT:
        raise ValueError("transaction.type: only a parent order is a recurring order")
    status = RECURRING_STATUS_BY_RENDER_STATUS[order.transaction.render_status]
    if status is RecurringStatus.CANCELLED:
        return StatusOutcome(status, _reason(order))
    return StatusOutcome(status)


def order_status(order: BackmeOrder) -> StatusOutcome:
    """The status outcome for any order type."""
    return recurring_status(order) if order.type is OrderType.PARENT else contribution_status(order)

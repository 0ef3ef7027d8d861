"""Idempotent, order-independent application of Backme order versions to one trade's state.

Every delivery for a ``trade_no`` is a *version* of that order. The stored state is a pure
function of the set of versions seen, so duplicates and any delivery order end in the same state:

- status: from the status-bearing version with the greatest (updated_at, stage rank,
  fingerprint) — newest wins; on equal updated_at the later stage wins (a refund stamped with
  the same instant as the payment still ends 已取消). "No change" statuses (refund_applying,
  partial_refund) never move it; a contribution first seen through one starts as pending.
- data (amount, receipt, custom fields…): from the version with the greatest
  (updated_at, fingerprint); the caller re-applies the contribution plan when ``data_changed``.
- a known trade_no never creates anything (``first_sight`` is True once per trade), so
  contacts are touched only on first sight.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from flows.backme.payload import BackmeOrder, OrderType
from flows.backme.statuses import STATUS_RANK, ContributionStatus, RecurringStatus, order_status


class TradeConflict(ValueError):
    """A delivery that cannot be a version of the stored trade (other trade_no or record kind)."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field


class TradeAction(str, Enum):
    CREATE = "create"  # new trade: create the contribution / recurring order (and contacts)
    UPDATE = "update"  # known trade: move status and/or re-sync data; never create
    IGNORE = "ignore"  # duplicate or stale: nothing to write


class RecordKind(str, Enum):
    """What the trade is stored as: single donations and installments are contributions."""

    CONTRIBUTION = "contribution"
    RECURRING = "recurring"


@dataclass(frozen=True)
class TradeState:
    """The stored state of one trade_no (plain data; persist every field)."""

    trade_no: str
    kind: RecordKind
    status: ContributionStatus | RecurringStatus
    status_reason: str | None
    status_updated_at: dt.datetime | None  # None: no status-bearing version seen yet
    status_fingerprint: str | None
    updated_at: dt.datetime  # newest version seen
    fingerprint: str  # of the newest version seen


@dataclass(frozen=True)
class TradeDecision:
    action: TradeAction
    state: TradeState
    previous: TradeState | None
    status_changed: bool
    data_changed: bool
    duplicate: bool = False  # IGNORE because this exact version was already applied

    @property
    def first_sight(self) -> bool:
        """True only for the delivery that creates the trade: apply contact plans then only."""
        return self.action is TradeAction.CREATE


def record_kind(order: BackmeOrder) -> RecordKind:
    return RecordKind.RECURRING if order.type is OrderType.PARENT else RecordKind.CONTRIBUTION


def _status_key(at: dt.datetime | None, status: ContributionStatus | RecurringStatus,
                fingerprint: str | None) -> tuple[int, dt.datetime | None, int, str]:
    if at is None:
        return (0, None, 0, "")
    return (1, at, STATUS_RANK[status], fingerprint or "")


def _greater(a: tuple, b: tuple) -> bool:
    """Lexicographic a > b where the marker first element guarantees None is never compared."""
    if a[0] != b[0]:
        return a[0] > b[0]
    if a[0] == 0:
        return False
    return a[1:] > b[1:]


def _initial(order: BackmeOrder) -> TradeState:
    outcome = order_status(order)
    if outcome.status is None:
        return TradeState(
            trade_no=order.trade_no,
            kind=record_kind(order),
            status=ContributionStatus.PENDING,
            status_reason=None,
            status_updated_at=None,
            status_fingerprint=None,
            updated_at=order.updated_at,
            fingerprint=order.fingerprint,
        )
    return TradeState(
        trade_no=order.trade_no,
        kind=record_kind(order),
        status=outcome.status,
        status_reason=outcome.reason,
        status_updated_at=order.updated_at,
        status_fingerprint=order.fingerprint,
        updated_at=order.updated_at,
        fingerprint=order.fingerprint,
    )


def apply_order(stored: TradeState | None, order: BackmeOrder) -> TradeDecision:
    """Decide the new state of ``order.trade_no`` given what is stored (None = never seen)."""
    if stored is None:
        return TradeDecision(TradeAction.CREATE, _initial(order), None, True, True)
    if stored.trade_no != order.trade_no:
        raise TradeConflict("transaction.trade_no", f"{order.trade_no!r} is not the stored trade {stored.trade_no!r}")
    if stored.kind is not record_kind(order):
        raise TradeConflict("transaction.type", f"trade {order.trade_no!r} is stored as a {stored.kind.value}")
    incoming = _initial(order)
    state = stored
    status_version_newer = False
    if incoming.status_updated_at is not None and _greater(
        _status_key(incoming.status_updated_at, incoming.status, incoming.status_fingerprint),
        _status_key(stored.status_updated_at, stored.status, stored.status_fingerprint),
    ):
        status_version_newer = True
        state = replace(
            state,
            status=incoming.status,
            status_reason=incoming.status_reason,
            status_updated_at=incoming.status_updated_at,
            status_fingerprint=incoming.status_fingerprint,
        )
    data_changed = (order.updated_at, order.fingerprint) > (stored.updated_at, stored.fingerprint)
    if data_changed:
        state = replace(state, updated_at=order.updated_at, fingerprint=order.fingerprint)
    status_changed = (state.status, state.status_reason) != (stored.status, stored.status_reason)
    if not (status_version_newer or data_changed):
        duplicate = order.fingerprint in (stored.fingerprint, stored.status_fingerprint)
        return TradeDecision(TradeAction.IGNORE, stored, stored, False, False, duplicate)
    return TradeDecision(TradeAction.UPDATE, state, stored, status_changed, data_changed)


def replay(orders: Iterable[BackmeOrder], stored: TradeState | None = None) -> TradeState | None:
    """Apply deliveries of one trade in the given order; the final state (None if none)."""
    state = stored
    for order in orders:
        state = apply_order(state, order).state
    return state

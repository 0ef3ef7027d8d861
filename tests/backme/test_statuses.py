"""render_status → contribution / recurring status, with the stored reason (seed §捐款資料)."""
from __future__ import annotations

import pytest

from bot.simulators import backme as sim
from flows.backme.payload import BackmeOrder, parse_order
from flows.backme.statuses import ContributionStatus, RecurringStatus, contribution_status, order_status, recurring_status


def order_of(body: dict) -> BackmeOrder:
    return parse_order(sim.encode(body))


@pytest.mark.parametrize(
    "render_status,expected",
    [
        ("success", ContributionStatus.COMPLETED),
        ("wait", ContributionStatus.PENDING),
        ("wait_code", ContributionStatus.PENDING),
        ("refund", ContributionStatus.CANCELLED),
        ("cancel", ContributionStatus.CANCELLED),
        ("failed", ContributionStatus.FAILED),
        ("failed_code", ContributionStatus.FAILED),
        ("refund_applying", None),
        ("partial_refund", None),
    ],
)
@pytest.mark.parametrize("order_type", ["normal", "child"])
def test_single_and_installment_statuses(render_status, expected, order_type):
    parent = "SUB1" if order_type == "child" else None
    order = order_of(sim.make_order("REG1", render_status=render_status, order_type=order_type, parent_trade_no=parent))
    assert contribution_status(order).status is expected
    assert order_status(order).status is expected


@pytest.mark.parametrize(
    "render_status,expected,label",
    [
        ("recurring", RecurringStatus.IN_PROGRESS, "進行中"),
        ("success", RecurringStatus.COMPLETED, "已完成"),  # 定期捐款訂單期滿 → 已完成
        ("failed_cancel", RecurringStatus.CANCELLED, "已取消"),  # 取消後續定捐 → 已取消
        ("suspend", RecurringStatus.SUSPENDED, "暫停中"),
    ],
)
def test_recurring_order_statuses(render_status, expected, label):
    outcome = recurring_status(order_of(sim.recurring_parent("SUB1", render_status=render_status)))
    assert outcome.status is expected and outcome.status.label == label


def test_failed_transaction_keeps_status_and_gateway_log_as_reason():
    # 交易失敗的處理:失敗的交易與原因也會傳輸到CRM
    outcome = contribution_status(order_of(sim.credit_failed("REG1", log="授權失敗(05):拒絕交易")))
    assert outcome.status is ContributionStatus.FAILED
    assert outcome.reason == "failed: 授權失敗(05):拒絕交易"


def test_failure_without_log_still_has_a_reason():
    outcome = contribution_status(order_of(sim.make_order("REG1", render_status="failed_code", log="")))
    assert outcome.reason == "failed_code"


def test_refund_is_cancelled_with_refund_time_in_reason():
    # 捐款交易退款:若在挖貝端退款,CRM會自動標記該筆捐款資料「已取消」
    order = order_of(sim.refunded(sim.single_credit_success("REG1"), sim.at(60)))
    outcome = contribution_status(order)
    assert outcome.status is ContributionStatus.CANCELLED and outcome.status.label == "已取消"
    assert outcome.reason is not None
    assert outcome.reason.startswith("refund: 退款完成; 交易已進行退款(2024-03-01T11:00:00+08:00)")


def test_completed_and_pending_carry_no_reason():
    assert contribution_status(order_of(sim.single_credit_success("REG1"))).reason is None
    assert contribution_status(order_of(sim.atm_wait("REG2"))).reason is None


def test_type_mismatch_is_refused():
    with pytest.raises(ValueError):
        contribution_status(order_of(sim.recurring_parent("SUB1")))
    with pytest.raises(ValueError):
        recurring_status(order_of(sim.single_credit_success("REG1")))

"""apply_order: idempotent and order-independent; a known trade_no never creates again; an older
updated_at never overwrites a newer one; a refund arriving before the order still ends 已取消."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.simulators import backme as sim
from flows.backme.payload import BackmeOrder, parse_order
from flows.backme.statuses import ContributionStatus, RecurringStatus
from flows.backme.trade_state import TradeAction, TradeConflict, apply_order, replay


def order_of(body: dict) -> BackmeOrder:
    return parse_order(sim.encode(body))


SINGLE = ["success", "wait", "wait_code", "refund", "cancel", "failed", "failed_code", "refund_applying",
          "partial_refund"]
RECURRING = ["recurring", "success", "suspend", "failed_cancel"]
STATUS_BEARING = [s for s in SINGLE if s not in ("refund_applying", "partial_refund")]


def version(status: str, minute: int, money: str = "500.0", kind: str = "normal", log: str = "") -> BackmeOrder:
    if kind == "parent":
        return order_of(sim.recurring_parent("SUB9", render_status=status, updated=sim.at(minute), money=money, log=log))
    return order_of(sim.make_order("REG9", render_status=status, updated=sim.at(minute), money=money, log=log))


single_versions = st.builds(version, st.sampled_from(SINGLE), st.integers(0, 4), st.sampled_from(["500.0", "600.0"]),
                            st.just("normal"), st.sampled_from(["", "授權失敗"]))
parent_versions = st.builds(version, st.sampled_from(RECURRING), st.integers(0, 4), st.sampled_from(["500.0", "600.0"]),
                            st.just("parent"))


@st.composite
def deliveries_and_permutation(draw, versions):
    distinct = draw(st.lists(versions, min_size=1, max_size=6))
    script = distinct + draw(st.lists(st.sampled_from(distinct), max_size=4))  # redeliveries
    return script, draw(st.permutations(script))


@settings(max_examples=300, deadline=None)
@given(deliveries_and_permutation(st.one_of(single_versions)))
def test_any_permutation_of_single_deliveries_ends_in_the_same_state(pair):
    script, shuffled = pair
    assert replay(script) == replay(shuffled)


@settings(max_examples=200, deadline=None)
@given(deliveries_and_permutation(parent_versions))
def test_any_permutation_of_recurring_deliveries_ends_in_the_same_state(pair):
    script, shuffled = pair
    assert replay(script) == replay(shuffled)


@settings(max_examples=200, deadline=None)
@given(deliveries_and_permutation(single_versions))
def test_exactly_one_delivery_creates_and_replays_are_idempotent(pair):
    script, _ = pair
    state = None
    actions = []
    for order in script:
        decision = apply_order(state, order)
        actions.append(decision.action)
        state = decision.state
    assert actions.count(TradeAction.CREATE) == 1 and actions[0] is TradeAction.CREATE
    for order in script:  # everything again: nothing more to do
        again = apply_order(state, order)
        assert again.action is TradeAction.IGNORE and again.state == state and not again.first_sight


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STATUS_BEARING), st.integers(0, 1000)), min_size=1, max_size=6,
                unique_by=lambda v: v[1]))
def test_newest_status_bearing_version_wins(raw_versions):
    orders = [version(status, minute) for status, minute in raw_versions]
    newest = max(orders, key=lambda o: o.updated_at)
    state = replay(orders)
    assert state is not None
    assert state.status_updated_at == newest.updated_at
    expected = {"success": ContributionStatus.COMPLETED, "wait": ContributionStatus.PENDING,
                "wait_code": ContributionStatus.PENDING, "refund": ContributionStatus.CANCELLED,
                "cancel": ContributionStatus.CANCELLED, "failed": ContributionStatus.FAILED,
                "failed_code": ContributionStatus.FAILED}[newest.transaction.render_status]
    assert state.status is expected


def test_older_version_is_ignored_as_stale():
    newer = apply_order(None, version("success", 10)).state
    decision = apply_order(newer, version("wait", 5))
    assert decision.action is TradeAction.IGNORE and not decision.duplicate
    assert decision.state.status is ContributionStatus.COMPLETED


def test_refund_arriving_before_the_order_still_ends_cancelled():
    original = sim.single_credit_success("REG7", updated=sim.at(0), paid=sim.at(0))
    refund = order_of(sim.refunded(original, sim.at(60 * 24)))
    first = apply_order(None, refund)
    assert first.action is TradeAction.CREATE and first.state.status is ContributionStatus.CANCELLED
    late_original = apply_order(first.state, order_of(original))
    assert late_original.action is TradeAction.IGNORE
    assert late_original.state.status is ContributionStatus.CANCELLED
    assert late_original.state.status.label == "已取消"


def test_refund_stamped_with_the_same_instant_beats_success():
    success = version("success", 3)
    refund = version("refund", 3)
    assert replay([refund, success]).status is replay([success, refund]).status is ContributionStatus.CANCELLED


def test_known_trade_only_moves_status():
    created = apply_order(None, version("wait", 0))
    assert created.first_sight and created.state.status is ContributionStatus.PENDING
    paid = apply_order(created.state, version("success", 5))
    assert paid.action is TradeAction.UPDATE and not paid.first_sight
    assert paid.status_changed and paid.data_changed
    assert paid.state.status is ContributionStatus.COMPLETED and paid.previous == created.state


def test_exact_redelivery_is_a_duplicate():
    state = apply_order(None, version("success", 1)).state
    again = apply_order(state, version("success", 1))
    assert again.action is TradeAction.IGNORE and again.duplicate and again.state == state


def test_no_change_status_never_moves_status_but_resyncs_data():
    state = apply_order(None, version("success", 0)).state
    applying = apply_order(state, version("refund_applying", 5, money="450.0"))
    assert applying.action is TradeAction.UPDATE and applying.data_changed and not applying.status_changed
    assert applying.state.status is ContributionStatus.COMPLETED


def test_first_seen_as_no_change_starts_pending_then_moves():
    state = apply_order(None, version("partial_refund", 5)).state
    assert state.status is ContributionStatus.PENDING and state.status_updated_at is None
    moved = apply_order(state, version("success", 1))  # older, but the first status-bearing version
    assert moved.status_changed and moved.state.status is ContributionStatus.COMPLETED
    assert not moved.data_changed and moved.state.updated_at == sim.at(5)


def test_failure_reason_moves_with_the_status():
    state = replay([version("wait", 0), version("failed", 4, log="逾期未繳")])
    assert state is not None and state.status is ContributionStatus.FAILED and state.status_reason == "failed: 逾期未繳"


def test_recurring_term_done_and_cancel():
    assert replay([version("success", 9, kind="parent"), version("recurring", 0, kind="parent")]).status \
        is RecurringStatus.COMPLETED
    assert replay([version("recurring", 0, kind="parent"), version("failed_cancel", 9, kind="parent")]).status \
        is RecurringStatus.CANCELLED


def test_conflicting_deliveries_are_refused():
    state = apply_order(None, version("success", 0)).state
    with pytest.raises(TradeConflict) as info:
        apply_order(state, order_of(sim.make_order("REG-other")))
    assert info.value.field == "transaction.trade_no"
    parent_with_same_no = order_of(sim.recurring_parent("REG9"))
    with pytest.raises(TradeConflict) as info:
        apply_order(state, parent_with_same_no)
    assert info.value.field == "transaction.type"

"""The simulator's delivery scripts (duplicates, reorderings, refunds before orders, recurring
orders) end in the exact CRM state; edits re-sync contributions but never contacts."""
from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from bot.simulators import backme as sim
from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    ContactAddress,
    ContactPhone,
    Contribution,
    EmailOutbox,
    RecurringOrder,
)


@pytest.mark.parametrize("name", sorted(sim.scenarios()))
async def test_scenario_ends_in_expected_state(crm, name):
    scenario = sim.scenarios()[name]
    for d in scenario.deliveries:
        status, text = await crm.post(d.body, delivery_id=d.delivery_id)
        assert status == 200, text
    contributions = {c.trade_no: c for c in await crm.rows(Contribution)}
    recurring = {r.trade_no: r for r in await crm.rows(RecurringOrder)}
    assert set(contributions) | set(recurring) == set(scenario.expected)
    assert not set(contributions) & set(recurring)
    for trade_no, expected in scenario.expected.items():
        row = contributions.get(trade_no) or recurring[trade_no]
        assert row.status == expected, trade_no
    # Every trade is one record, whatever the number of deliveries; one buyer contact.
    assert await crm.count(Contact) == (2 if name == "recipient_and_e_receipt" else 1)
    # Each completed contribution has exactly one confirmation queued.
    completed = [c for c in contributions.values() if c.status == "completed"]
    confirmations = [o for o in await crm.rows(EmailOutbox) if o.kind == "confirmation"]
    assert sorted(o.contribution_id for o in confirmations) == sorted(c.id for c in completed)


async def test_refund_before_order_never_completes(crm):
    scenario = sim.scenarios()["refund_before_order"]
    for d in scenario.deliveries:
        await crm.post(d.body)
    [c] = await crm.rows(Contribution)
    assert c.status == "cancelled"
    assert "refund" in c.status_reason
    assert c.receipt_number is None  # never completed here: no receipt, no email
    assert await crm.count(EmailOutbox) == 0


async def test_recurring_installments_link_to_parent(crm):
    scenario = sim.scenarios()["recurring_term_done"]
    for d in scenario.deliveries:
        await crm.post(d.body)
    [parent] = await crm.rows(RecurringOrder)
    assert parent.status == "completed" and parent.end_date is not None
    children = await crm.rows(Contribution)
    assert {c.parent_trade_no for c in children} == {parent.trade_no}
    assert {c.order_type for c in children} == {"child"}
    assert {c.receipt_number for c in children} == {None}  # no receipt section: no receipt asked


async def test_installments_with_receipts_are_numbered_in_completion_order(crm):
    receipt = sim.make_receipt("年度寄送紙本收據")
    children = [sim.recurring_child("SUBR", n, updated=sim.at(n), receipt=receipt) for n in (1, 2, 3)]
    await crm.post(sim.recurring_parent("SUBR", receipt=receipt))
    for n in (2, 0, 1):
        await crm.post(children[n])
    numbers = {c.trade_no: c.receipt_number for c in await crm.rows(Contribution)}
    assert numbers == {"SUBRC03": "OC-000001", "SUBRC01": "OC-000002", "SUBRC02": "OC-000003"}


async def test_recurring_cancel_and_suspend(crm):
    parent = sim.recurring_parent("SUBX", updated=sim.at(0))
    suspended = sim.evolve(parent, render_status="suspend", updated=sim.at(10))
    await crm.post(suspended)
    await crm.post(parent)
    [row] = await crm.rows(RecurringOrder)
    assert row.status == "suspended"
    cancelled = sim.evolve(parent, render_status="failed_cancel", updated=sim.at(20), log="使用者取消")
    await crm.post(cancelled)
    [row] = await crm.rows(RecurringOrder)
    assert row.status == "cancelled" and "使用者取消" in row.status_reason


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_edit_keeps_newest_whatever_the_order(crm, order):
    base = sim.single_credit_success("REGE", updated=sim.at(0))
    edit = sim.make_order("REGE", money="800.0", updated=sim.at(5), paid=sim.at(0))
    refund = sim.refunded(edit, sim.at(60))
    versions = [base, edit, refund]
    for i in order:
        await crm.post(versions[i])
    [c] = await crm.rows(Contribution)
    assert c.status == "cancelled"
    assert c.amount == Decimal("800.00")
    assert c.order_updated_at == sim.at(60)


async def test_edit_resyncs_contribution_not_contacts(crm):
    original = sim.single_credit_success("REGC", updated=sim.at(0))
    await crm.post(original)
    edited = sim.make_order(
        "REGC", money="900.0", updated=sim.at(30), paid=sim.at(0),
        user=sim.make_user(cellphone="+886987654321"),
        recipient=sim.make_recipient(address="新的地址9號"),
        receipt=sim.make_receipt("單次寄送電子收據", email="new@example.org"))
    status, text = await crm.post(edited)
    assert status == 200 and '"update"' in text
    [c] = await crm.rows(Contribution)
    assert c.amount == Decimal("900.00")
    assert c.receipt_option == "single_e_receipt"
    # Contacts untouched: no new phone, no new address, no second change-log entry.
    assert [p.phone for p in await crm.rows(ContactPhone)] == ["0912-345678"]
    assert [a.street_address for a in await crm.rows(ContactAddress)] == ["中山路一段100號5樓"]
    assert await crm.count(ChangeLogEntry) == 1
    # An older version arriving afterwards changes nothing.
    await crm.post(original)
    [c] = await crm.rows(Contribution)
    assert c.amount == Decimal("900.00")


async def test_pending_then_paid_queues_emails_once(crm):
    scenario = sim.scenarios()["atm_wait_then_success"]
    for d in scenario.deliveries:
        await crm.post(d.body)
    [c] = await crm.rows(Contribution)
    assert c.status == "completed" and c.is_pay_later is False
    assert len(await crm.rows(EmailOutbox)) == 1  # confirmation only: no receipt section

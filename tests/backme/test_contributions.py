"""Contribution / recurring plans: amount, instrument, dates, reward line, note, custom fields."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bot.simulators import backme as sim
from flows.backme.contributions import (
    CustomFieldRule,
    PaymentInstrument,
    format_money,
    plan_contribution,
    plan_recurring,
    reward_line,
)
from flows.backme.payload import BackmeOrder, OrderType, parse_order
from flows.backme.statuses import ContributionStatus, RecurringStatus


def order_of(body: dict) -> BackmeOrder:
    return parse_order(sim.encode(body))


FIELDS = [
    sim.make_custom_field(42083, "請選擇Tshirt尺寸", "M", "select_box"),
    sim.make_custom_field(42096, "捐款徵信名稱", "ABC", "text"),
    sim.make_custom_field(42082, "詳細介紹", "yes", "checkbox"),
    sim.make_custom_field(42097, "留言", "", "text"),
]


def test_amount_is_the_exact_decimal():
    plan = plan_contribution(order_of(sim.make_order("REG1", money="8000.5")))
    assert plan.amount == Decimal("8000.5") and isinstance(plan.amount, Decimal)
    assert plan.currency == "TWD"


@pytest.mark.parametrize("amount,text", [("7490.0", "7490"), ("99.50", "99.5"), ("0.0", "0"), ("1200", "1200")])
def test_format_money(amount, text):
    assert format_money(Decimal(amount)) == text


def test_reward_line_has_name_id_quantity_and_money():
    item = sim.make_item(reward_id=123, reward_name="T恤組", quantity=2, money="7490.0")
    order = order_of(sim.make_order("REG1", item=item))
    assert reward_line(order.transaction.items[0]) == "T恤組(123)x2:7490"
    assert plan_contribution(order).text_lines[0] == "T恤組(123)x2:7490"


def test_note_and_unmapped_custom_fields_are_kept_as_text():
    order = order_of(sim.with_custom_fields(sim.make_order("REG1"), FIELDS, note="請週末寄送"))
    plan = plan_contribution(order)
    assert plan.text_lines == ("小額支持(25048)x1:500", "註記=>請週末寄送", "請選擇Tshirt尺寸→M",
                               "捐款徵信名稱→ABC", "詳細介紹→yes")
    assert plan.custom_values == ()


def test_custom_fields_follow_the_pages_mapping():
    mapping = {
        "請選擇Tshirt尺寸": CustomFieldRule("custom_12", {"S": "small", "M": "medium"}),
        "捐款徵信名稱": CustomFieldRule("custom_7"),
    }
    plan = plan_contribution(order_of(sim.with_custom_fields(sim.make_order("REG1"), FIELDS)), mapping)
    assert plan.custom_values == (("custom_12", "medium"), ("custom_7", "ABC"))
    assert plan.text_lines == ("小額支持(25048)x1:500", "詳細介紹→yes")
    assert plan.warnings == ()


def test_answer_outside_the_mapped_options_stays_text_with_a_warning():
    mapping = {"請選擇Tshirt尺寸": CustomFieldRule("custom_12", {"S": "small"})}
    plan = plan_contribution(order_of(sim.with_custom_fields(sim.make_order("REG1"), FIELDS)), mapping)
    assert ("custom_12", "small") not in plan.custom_values
    assert "請選擇Tshirt尺寸→M" in plan.text_lines
    assert len(plan.warnings) == 1 and "請選擇Tshirt尺寸" in plan.warnings[0]


def test_completed_credit_contribution():
    order = order_of(sim.single_credit_success("REG1", paid=sim.at(3), updated=sim.at(4)))
    plan = plan_contribution(order)
    assert plan.status is ContributionStatus.COMPLETED and plan.instrument is PaymentInstrument.CREDIT_CARD
    assert plan.receive_date == sim.at(3) and plan.cancel_date is None and not plan.is_pay_later
    assert plan.kind is OrderType.NORMAL and plan.parent_trade_no is None


@pytest.mark.parametrize("body,instrument", [(sim.atm_wait("REG2"), PaymentInstrument.ATM),
                                             (sim.cvs_wait_code("REG3"), PaymentInstrument.CONVENIENCE_STORE_CODE)])
def test_atm_and_convenience_store_codes_are_pending_pay_later(body, instrument):
    plan = plan_contribution(order_of(body))
    assert plan.status is ContributionStatus.PENDING and plan.is_pay_later and plan.instrument is instrument
    assert plan.receive_date is None


def test_failed_contribution_keeps_reason_and_date():
    plan = plan_contribution(order_of(sim.credit_failed("REG4", log="餘額不足", updated=sim.at(2))))
    assert plan.status is ContributionStatus.FAILED
    assert plan.status_reason == "failed: 餘額不足" and plan.cancel_date == sim.at(2)


def test_refunded_contribution_is_cancelled_at_refund_time():
    plan = plan_contribution(order_of(sim.refunded(sim.single_credit_success("REG5"), sim.at(600))))
    assert plan.status is ContributionStatus.CANCELLED and plan.cancel_date == sim.at(600)


def test_no_change_status_plans_no_status():
    plan = plan_contribution(order_of(sim.make_order("REG6", render_status="refund_applying")))
    assert plan.status is None


def test_installment_links_to_its_recurring_order():
    plan = plan_contribution(order_of(sim.recurring_child("SUB1", 2)))
    assert plan.kind is OrderType.CHILD and plan.parent_trade_no == "SUB1"
    assert plan.trade_no == "SUB1C02" and plan.status is ContributionStatus.COMPLETED


def test_recurring_order_plan():
    running = plan_recurring(order_of(sim.recurring_parent("SUB1", money="300.0")))
    assert running.status is RecurringStatus.IN_PROGRESS and running.end_date is None
    assert (running.frequency_unit, running.frequency_interval, running.amount) == ("month", 1, Decimal("300.0"))
    done = plan_recurring(order_of(sim.evolve(sim.recurring_parent("SUB1"), render_status="success", updated=sim.at(9000))))
    assert done.status is RecurringStatus.COMPLETED and done.end_date == sim.at(9000)


def test_plans_refuse_the_wrong_order_type():
    with pytest.raises(ValueError):
        plan_contribution(order_of(sim.recurring_parent("SUB1")))
    with pytest.raises(ValueError):
        plan_recurring(order_of(sim.single_credit_success("REG1")))

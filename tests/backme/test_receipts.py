"""Receipt option labels → stored values (the seed's table) and e-receipt email routing."""
from __future__ import annotations

import pytest

from bot.simulators import backme as sim
from flows.backme.contributions import plan_contribution
from flows.backme.payload import BackmeOrder, BackmePayloadError, parse_order
from flows.backme.receipts import (
    ReceiptOption,
    UnknownReceiptOption,
    display_name,
    notification_email,
    order_receipt_option,
    receipt_option,
)


def order_of(body: dict) -> BackmeOrder:
    return parse_order(sim.encode(body))


# 挖貝收據選項名稱 → NETICRM選項值(用來與挖貝選項對應,不可改), row by row from the seed.
SEED_TABLE = [
    ("不需要收據", "0"),
    ("單次寄送紙本收據", "1"),
    ("需要收據但不需要寄送", "2"),
    ("年度寄送紙本收據", "annual_paper_receipt"),
    ("單次寄送電子收據", "single_e_receipt"),
    ("年度寄送電子收據", "annual_e_receipt"),
]


@pytest.mark.parametrize("label,value", SEED_TABLE)
def test_seed_receipt_labels_map_to_fixed_values(label, value):
    assert receipt_option(label).value == value
    assert receipt_option(f" {label}\n").value == value


@pytest.mark.parametrize("label,value", SEED_TABLE)
def test_contribution_plan_stores_the_value(label, value):
    email = "receipts@example.org" if "電子" in label else None
    plan = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt(label, email=email))))
    assert plan.receipt_option is not None and plan.receipt_option.value == value


# Backme's current labels (the notes' table), with the same stored values.
CURRENT_TABLE = [
    ("不需要收據", "0"),
    ("紙本收據（單次寄送）", "1"),
    ("需要收據（不寄送，資料由團隊上傳國稅局）", "2"),
    ("紙本收據（年度寄送）", "annual_paper_receipt"),
    ("電子收據（單次開立）", "single_e_receipt"),
    ("電子收據（年度開立）", "annual_e_receipt"),
]


def _half_width(label: str) -> str:
    return label.replace("（", "(").replace("）", ")").replace("，", ",")


@pytest.mark.parametrize("label,value", CURRENT_TABLE + SEED_TABLE)
def test_both_label_sets_map_with_either_parenthesis_width(label, value):
    assert receipt_option(label).value == value
    assert receipt_option(_half_width(label)).value == value
    assert receipt_option(" " + _half_width(label).replace("(", " (") + "\n").value == value
    plan = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt(_half_width(label)))))
    assert plan.receipt_option is not None and plan.receipt_option.value == value


def test_current_labels_use_full_width_parentheses():
    # The current set really uses full-width parentheses (so the half-width check above is a real one).
    assert all("(" not in label for label, _ in CURRENT_TABLE)
    assert sum("（" in label for label, _ in CURRENT_TABLE) == 5


@pytest.mark.parametrize("older,table", [(False, CURRENT_TABLE), (True, SEED_TABLE)])
def test_simulator_sends_current_labels_by_default_and_older_on_request(older, table):
    orders = list(sim.receipt_option_orders(older_labels=older)) if older else list(sim.receipt_option_orders())
    assert [label for label, _ in orders] == [label for label, _ in table]
    mapped = {label: order_receipt_option(order_of(body)) for label, body in orders}
    assert {label: option.value for label, option in mapped.items() if option} == dict(table)
    default = sim.make_receipt()["choice"]
    assert default == "紙本收據（單次寄送）"
    assert sim.make_receipt(older_labels=True)["choice"] == "單次寄送紙本收據"
    scenario = sim.scenarios(older_labels=older)["recipient_and_e_receipt"]
    choice = scenario.deliveries[0].body["receipt"]["choice"]
    assert choice == ("單次寄送電子收據" if older else "電子收據（單次開立）")


def test_default_display_names_are_the_seeds():
    assert [display_name(ReceiptOption(value)) for _, value in SEED_TABLE] == [
        "不要(無抵稅需求/不用寄給我收據)",
        "需要(請寄給我紙本收據)",
        "需要(不用寄給我/請幫我在隔年五月上傳至國稅局)",
        "年度寄送紙本收據",
        "單次寄送電子收據",
        "年度寄送電子收據",
    ]
    assert display_name(ReceiptOption.NONE, {"0": "不用了"}) == "不用了"
    assert display_name(ReceiptOption.PAPER_SINGLE, {"0": "不用了"}) == "需要(請寄給我紙本收據)"


@pytest.mark.parametrize("label", ["要收據", "單次寄送紙本收據(限台灣)", ""])
def test_unknown_label_is_a_clear_error_naming_the_field(label):
    with pytest.raises(UnknownReceiptOption) as info:
        receipt_option(label)
    assert isinstance(info.value, BackmePayloadError)
    assert info.value.field == "receipt.choice"


def test_unknown_label_in_an_order_falls_back_to_text_and_a_warning():
    plan = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt("要收據"))))
    assert plan.receipt_option is None
    assert "收據→要收據" in plan.text_lines
    assert any("receipt.choice" in w for w in plan.warnings)


def test_no_receipt_section_means_no_option():
    order = order_of(sim.make_order("REG1"))
    assert order_receipt_option(order) is None
    assert plan_contribution(order).receipt_option is None


# 在挖貝端「稅捐收據」欄位若選擇「寄送電子單筆/年度收據」的情況下,贊助人可以另外填寫收據email,
# 付款成功確認信和收據會寄送到此處,其他情況下都會直接寄送到會員的email。
@pytest.mark.parametrize(
    "label,receipt_email,expected",
    [
        ("單次寄送電子收據", "receipts@example.org", "receipts@example.org"),
        ("年度寄送電子收據", "receipts@example.org", "receipts@example.org"),
        ("單次寄送電子收據", None, "member@example.com"),
        ("單次寄送紙本收據", "receipts@example.org", "member@example.com"),
        ("年度寄送紙本收據", "receipts@example.org", "member@example.com"),
        ("不需要收據", "receipts@example.org", "member@example.com"),
        ("要收據", "receipts@example.org", "member@example.com"),
        ("電子收據（單次開立）", "receipts@example.org", "receipts@example.org"),
        ("電子收據(年度開立)", "receipts@example.org", "receipts@example.org"),
        ("電子收據(單次開立)", None, "member@example.com"),
        ("紙本收據(單次寄送)", "receipts@example.org", "member@example.com"),
        ("需要收據(不寄送,資料由團隊上傳國稅局)", "receipts@example.org", "member@example.com"),
    ],
)
def test_receipt_and_confirmation_email_routing(label, receipt_email, expected):
    body = sim.make_order("REG1", user=sim.make_user(email="member@example.com"),
                          receipt=sim.make_receipt(label, email=receipt_email))
    order = order_of(body)
    assert notification_email(order) == expected
    assert plan_contribution(order).notification_email == expected


def test_without_receipt_section_mail_goes_to_member():
    order = order_of(sim.make_order("REG1", user=sim.make_user(email="member@example.com")))
    assert notification_email(order) == "member@example.com"


def test_receipt_title_and_serial_only_when_a_receipt_is_wanted():
    wanted = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt(
        "單次寄送紙本收據", corporate_name="好公司", tax_number="12345675", contact_name="王小明"))))
    assert (wanted.receipt_title, wanted.receipt_serial) == ("好公司", "12345675")
    assert "12345675" not in repr(wanted)
    person = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt("需要收據但不需要寄送"))))
    assert (person.receipt_title, person.receipt_serial) == ("王小明", "A123456789")
    none = plan_contribution(order_of(sim.make_order("REG1", receipt=sim.make_receipt("不需要收據"))))
    assert (none.receipt_title, none.receipt_serial) == ("", "")

"""parse_order: the Backme wire schema, validated into frozen dataclasses; errors name the field."""
from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any, Callable

import pytest

from flows.backme.payload import (
    MAX_BODY_BYTES,
    BackmepayloadError,
    BackmePayloadError,
    OrderType,
    parse_order,
)

SAMPLE: dict[str, Any] = {
    "transaction": {
        "trade_no": "REG4829201627459123",
        "money": "8000.0",
        "created_at": "2021-07-28T16:06:27.063+08:00",
        "updated_at": "2021-07-28T16:07:02.500+08:00",
        "quantity": 1,
        "flag": None,
        "render_status": "success",
        "type": "normal",
        "parent_trade_no": None,
        "items": {
            "id": 3347123,
            "reward_id": 123,
            "reward_name": "T恤組",
            "quantity": 2,
            "money": "7490.0",
            "note": "請在週末寄送",
            "custom_fields": [
                {"id": 42083, "field_type": "select_box", "name": "請選擇Tshirt尺寸", "is_required": False, "value": "M"},
                {"id": 42096, "field_type": "text", "name": "捐款徵信名稱", "is_required": False, "value": "ABC"},
                {"id": 42082, "field_type": "checkbox", "name": "詳細介紹", "is_required": False, "value": "yes"},
            ],
        },
    },
    "payment": {
        "type": "credit",
        "paid_at": "2021-07-28T16:06:27.063+08:00",
        "next_paid_time": "",
        "next_paid_amount": "",
        "log": "",
        "refund_at": None,
    },
    "user": {"id": 482920, "email": "admintest@example.com", "name": "王測試", "cellphone": "+886900111222"},
    "recipient": {
        "recipient_name": "王測試",
        "recipient_contact_email": "admintest@example.com",
        "recipient_cellphone": "0900222333",
        "recipient_address": "泉州路2之1號",
        "recipient_postal_code": "421",
        "recipient_country": "TW",
        "recipient_subdivision": "TXG",
        "recipient_cityarea": "后里區",
    },
    "receipt": {
        "receipt_type": "稅捐收據",
        "choice": "單次寄送紙本收據",
        "contact_name": "稅捐收據抬頭",
        "identity_card_number": "A123456789",
        "country": "TW",
        "subdivision": "HSQ",
        "city_area": "竹北市",
        "postal_code": "302",
        "address": "三重路一段3號5樓",
        "email": "receipt@example.com",
    },
}


def raw(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def mutated(change: Callable[[dict[str, Any]], None]) -> bytes:
    body = copy.deepcopy(SAMPLE)
    change(body)
    return raw(body)


def test_sample_parses_into_typed_fields():
    order = parse_order(raw(SAMPLE))
    t = order.transaction
    assert t.trade_no == "REG4829201627459123" == order.trade_no
    assert t.money == Decimal("8000.0") and isinstance(t.money, Decimal)
    assert t.type is OrderType.NORMAL and t.render_status == "success"
    assert t.updated_at == dt.datetime(2021, 7, 28, 16, 7, 2, 500000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert t.parent_trade_no is None
    (item,) = t.items
    assert (item.reward_id, item.reward_name, item.quantity, item.money) == (123, "T恤組", 2, Decimal("7490.0"))
    assert [f.name for f in item.custom_fields] == ["請選擇Tshirt尺寸", "捐款徵信名稱", "詳細介紹"]
    assert item.custom_fields[0].field_type == "select_box" and item.custom_fields[0].value == "M"
    assert order.payment.type == "credit" and order.payment.next_paid_time is None
    assert order.payment.next_paid_amount is None and order.payment.refund_at is None
    assert (order.user.id, order.user.email, order.user.name) == ("482920", "admintest@example.com", "王測試")
    assert order.recipient is not None and order.recipient.recipient_subdivision == "TXG"
    assert order.receipt is not None and order.receipt.choice == "單次寄送紙本收據"
    assert order.receipt.email == "receipt@example.com"


def test_personal_numbers_stay_out_of_repr():
    order = parse_order(raw(SAMPLE))
    assert "A123456789" not in repr(order) and "A123456789" not in repr(order.receipt)
    assert "admintest@example.com" not in repr(order)


def test_items_as_a_list_are_accepted():
    order = parse_order(mutated(lambda b: b["transaction"].update(items=[b["transaction"]["items"]] * 2)))
    assert len(order.transaction.items) == 2


def test_optional_sections_may_be_absent():
    def drop(b):
        del b["recipient"], b["receipt"]

    order = parse_order(mutated(drop))
    assert order.recipient is None and order.receipt is None


def test_child_needs_and_keeps_parent_trade_no():
    order = parse_order(mutated(lambda b: b["transaction"].update(type="child", parent_trade_no="SUB3679271678955153")))
    assert order.type is OrderType.CHILD and order.transaction.parent_trade_no == "SUB3679271678955153"


def test_parent_accepts_recurring_statuses():
    order = parse_order(mutated(lambda b: b["transaction"].update(type="parent", render_status="recurring")))
    assert order.type is OrderType.PARENT and order.transaction.render_status == "recurring"


def test_time_without_offset_is_taiwan_time_and_z_is_utc():
    def change(b):
        b["transaction"]["created_at"] = "2021-07-28T16:06:27"
        b["transaction"]["updated_at"] = "2021-07-28T08:06:27Z"

    t = parse_order(mutated(change)).transaction
    assert t.created_at.utcoffset() == dt.timedelta(hours=8)
    assert t.updated_at == t.created_at


def test_invalid_recipient_email_is_dropped_like_neticrm():
    order = parse_order(mutated(lambda b: b["recipient"].update(recipient_contact_email="not-an-email")))
    assert order.recipient is not None and order.recipient.recipient_contact_email is None


def test_fingerprint_ignores_key_order_and_whitespace_but_not_content():
    a = parse_order(raw(SAMPLE))
    reordered = json.dumps(dict(reversed(list(SAMPLE.items()))), ensure_ascii=True, indent=2).encode()
    assert parse_order(reordered).fingerprint == a.fingerprint
    other = parse_order(mutated(lambda b: b["transaction"].update(money="8000.5")))
    assert other.fingerprint != a.fingerprint


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        keys = path.split(".")
        target = body
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return change


_DELETE = object()

BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "body"),
    ("not json", b"{\"transaction\": ", "body"),
    ("not utf-8", b"\xff\xfe{}", "body"),
    ("array", b"[]", "body"),
    ("string", b"\"order\"", "body"),
    ("NaN", b"{\"x\": NaN}", "body"),
    ("too large", b" " * (MAX_BODY_BYTES + 1), "body"),
    ("duplicate key", b"{\"user\": {}, \"user\": {}}", "user"),
    ("no transaction", mutated(_set("transaction", _DELETE)), "transaction"),
    ("transaction not object", mutated(_set("transaction", [])), "transaction"),
    ("no trade_no", mutated(_set("transaction.trade_no", _DELETE)), "transaction.trade_no"),
    ("empty trade_no", mutated(_set("transaction.trade_no", " ")), "transaction.trade_no"),
    ("trade_no chars", mutated(_set("transaction.trade_no", "REG 1;DROP")), "transaction.trade_no"),
    ("money number", mutated(_set("transaction.money", 8000)), "transaction.money"),
    ("money float", b"", "transaction.money"),  # replaced below
    ("money text", mutated(_set("transaction.money", "八千")), "transaction.money"),
    ("money negative", mutated(_set("transaction.money", "-1.0")), "transaction.money"),
    ("money huge", mutated(_set("transaction.money", "999999999999.0")), "transaction.money"),
    ("no money", mutated(_set("transaction.money", None)), "transaction.money"),
    ("unknown status", mutated(_set("transaction.render_status", "paid")), "transaction.render_status"),
    ("no status", mutated(_set("transaction.render_status", _DELETE)), "transaction.render_status"),
    ("bad type", mutated(_set("transaction.type", "subscription")), "transaction.type"),
    ("no type", mutated(_set("transaction.type", _DELETE)), "transaction.type"),
    ("normal with parent", mutated(_set("transaction.parent_trade_no", "SUB1")), "transaction.parent_trade_no"),
    ("child without parent", mutated(_set("transaction.type", "child")), "transaction.parent_trade_no"),
    ("bad updated_at", mutated(_set("transaction.updated_at", "yesterday")), "transaction.updated_at"),
    ("no updated_at", mutated(_set("transaction.updated_at", _DELETE)), "transaction.updated_at"),
    ("no created_at", mutated(_set("transaction.created_at", "")), "transaction.created_at"),
    ("quantity zero", mutated(_set("transaction.quantity", 0)), "transaction.quantity"),
    ("no items", mutated(_set("transaction.items", _DELETE)), "transaction.items"),
    ("items empty list", mutated(_set("transaction.items", [])), "transaction.items"),
    ("items string", mutated(_set("transaction.items", "T恤")), "transaction.items"),
    ("item money", mutated(_set("transaction.items.money", 7490)), "transaction.items.money"),
    ("item reward_id", mutated(_set("transaction.items.reward_id", "123")), "transaction.items.reward_id"),
    ("item reward_name", mutated(_set("transaction.items.reward_name", "")), "transaction.items.reward_name"),
    ("custom_fields not list", mutated(_set("transaction.items.custom_fields", {})), "transaction.items.custom_fields"),
    ("custom field name", mutated(_set("transaction.items.custom_fields.1.name", None)),
     "transaction.items.custom_fields[1].name"),
    ("custom field type", mutated(_set("transaction.items.custom_fields.0.field_type", "Select Box!")),
     "transaction.items.custom_fields[0].field_type"),
    ("custom field value object", mutated(_set("transaction.items.custom_fields.2.value", {"a": 1})),
     "transaction.items.custom_fields[2].value"),
    ("custom field required flag", mutated(_set("transaction.items.custom_fields.2.is_required", "no")),
     "transaction.items.custom_fields[2].is_required"),
    ("too many custom fields", mutated(_set("transaction.items.custom_fields",
                                            [SAMPLE["transaction"]["items"]["custom_fields"][0]] * 101)),
     "transaction.items.custom_fields"),
    ("no payment", mutated(_set("payment", _DELETE)), "payment"),
    ("payment type", mutated(_set("payment.type", "")), "payment.type"),
    ("paid_at", mutated(_set("payment.paid_at", "2021/07/28")), "payment.paid_at"),
    ("log not string", mutated(_set("payment.log", 5)), "payment.log"),
    ("no user", mutated(_set("user", _DELETE)), "user"),
    ("no user id", mutated(_set("user.id", _DELETE)), "user.id"),
    ("user id text", mutated(_set("user.id", "abc")), "user.id"),
    ("user id bool", mutated(_set("user.id", True)), "user.id"),
    ("user id zero", mutated(_set("user.id", 0)), "user.id"),
    ("no email", mutated(_set("user.email", _DELETE)), "user.email"),
    ("bad email", mutated(_set("user.email", "admintest@")), "user.email"),
    ("no name", mutated(_set("user.name", "")), "user.name"),
    ("name too long", mutated(_set("user.name", "王" * 101)), "user.name"),
    ("name control char", mutated(_set("user.name", "王\x00測試")), "user.name"),
    ("recipient not object", mutated(_set("recipient", "王測試")), "recipient"),
    ("recipient address too long", mutated(_set("recipient.recipient_address", "路" * 301)),
     "recipient.recipient_address"),
    ("receipt not object", mutated(_set("receipt", [])), "receipt"),
    ("bad receipt email", mutated(_set("receipt.email", "receipt at example.com")), "receipt.email"),
]
BAD_BODIES[14] = ("money float", raw(SAMPLE).replace(b'"8000.0"', b"8000.0"), "transaction.money")


@pytest.mark.parametrize("body,field", [(b, f) for _, b, f in BAD_BODIES], ids=[n for n, _, _ in BAD_BODIES])
def test_malformed_bodies_name_the_field(body: bytes, field: str):
    with pytest.raises(BackmePayloadError) as info:
        parse_order(body)
    assert info.value.field == field
    assert str(info.value).startswith(field + ": ")


def test_parent_with_single_status_is_rejected():
    body = mutated(lambda b: b["transaction"].update(type="parent", render_status="wait"))
    with pytest.raises(BackmePayloadError) as info:
        parse_order(body)
    assert info.value.field == "transaction.render_status"


def test_brief_spelling_is_the_same_error_class():
    assert BackmepayloadError is BackmePayloadError
    with pytest.raises(BackmepayloadError):
        parse_order(b"not json")


def test_deep_nesting_is_a_payload_error_not_a_crash():
    with pytest.raises(BackmePayloadError) as info:
        parse_order(b"[" * 200_000)
    assert info.value.field == "body"

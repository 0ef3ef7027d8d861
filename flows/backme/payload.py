"""The Backme (挖貝) order webhook body: the wire schema, parsed and validated into frozen dataclasses.

Field names are Backme's (see docs/backme.md for a full sample). ``parse_order`` accepts the raw
request bytes and either returns a ``BackmeOrder`` or raises ``BackmePayloadError`` naming the
offending field with a dotted path (``transaction.items[0].custom_fields[2].name``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from flows.backme.signature import verify_signature  # re-exported: the webhook's first check

__all__ = [
    "BackmeOrder",
    "BackmePayloadError",
    "BackmepayloadError",
    "CustomField",
    "OrderItem",
    "OrderType",
    "Payment",
    "Receipt",
    "Recipient",
    "SINGLE_RENDER_STATUSES",
    "RECURRING_RENDER_STATUSES",
    "Transaction",
    "User",
    "parse_order",
    "verify_signature",
]

MAX_BODY_BYTES = 256 * 1024
MAX_ITEMS = 50
MAX_CUSTOM_FIELDS = 100
MAX_SHORT = 200  # names, codes, labels
MAX_LONG = 2000  # notes, free-text custom field values, gateway logs, addresses
MAX_MONEY = Decimal("100000000")  # NT$100,000,000: far above any single Backme order

TAIPEI = dt.timezone(dt.timedelta(hours=8))

# render_status values by order type (from netiCRM's Backme processor; see docs/backme.md).
SINGLE_RENDER_STATUSES = frozenset(
    {"success", "wait", "wait_code", "refund", "cancel", "failed", "failed_code",
     "refund_applying", "partial_refund"}
)
RECURRING_RENDER_STATUSES = frozenset({"recurring", "success", "suspend", "failed_cancel"})

_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MONEY = re.compile(r"\d{1,12}(\.\d{1,4})?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_USER_ID = re.compile(r"[1-9]\d{0,19}")
_SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BackmePayloadError(ValueError):
    """A malformed Backme body; ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field
        self.msg = msg


BackmepayloadError = BackmePayloadError  # the spelling used in the task brief


class OrderType(str, Enum):
    """``transaction.type``: a single donation, a recurring order, or one of its installments."""

    NORMAL = "normal"  # 單次捐款
    PARENT = "parent"  # 定期定額訂單本身
    CHILD = "child"  # 定期定額的一期扣款


@dataclass(frozen=True)
class CustomField:
    """One answer to a page-defined question on an item (``items[].custom_fields[]``)."""

    id: int
    field_type: str  # checkbox / select_box / text (other tokens kept as sent)
    name: str
    is_required: bool
    value: str


@dataclass(frozen=True)
class OrderItem:
    """One reward line of the order (``transaction.items``; Backme sends one object)."""

    id: int
    reward_id: int
    reward_name: str
    quantity: int
    money: Decimal
    note: str = ""
    custom_fields: tuple[CustomField, ...] = ()


@dataclass(frozen=True)
class Transaction:
    """``transaction``: the order (or installment) itself; ``trade_no`` is the idempotency key."""

    trade_no: str
    money: Decimal
    created_at: dt.datetime
    updated_at: dt.datetime
    render_status: str
    type: OrderType
    items: tuple[OrderItem, ...]
    quantity: int = 1
    flag: str | None = None
    parent_trade_no: str | None = None


@dataclass(frozen=True)
class Payment:
    """``payment``: how and when it was paid; ``log`` is the gateway's message (failure reason)."""

    type: str  # credit / atm / cvs / period (other tokens kept as sent)
    paid_at: dt.datetime | None = None
    next_paid_time: dt.datetime | None = None
    next_paid_amount: Decimal | None = None
    log: str = ""
    refund_at: dt.datetime | None = None


@dataclass(frozen=True)
class User:
    """``user``: the buyer, a Backme member."""

    id: str  # digits
    email: str
    name: str
    cellphone: str = ""


@dataclass(frozen=True)
class Recipient:
    """``recipient``: who the rewards are shipped to (may be the buyer)."""

    recipient_name: str = ""
    recipient_contact_email: str | None = None  # dropped when not a valid address (as netiCRM)
    recipient_cellphone: str = ""
    recipient_address: str = ""
    recipient_postal_code: str = ""
    recipient_country: str = ""
    recipient_subdivision: str = ""
    recipient_cityarea: str = ""


@dataclass(frozen=True)
class Receipt:
    """``receipt``: the donor's tax-receipt choice, title, ID number and mailing data."""

    receipt_type: str = ""
    choice: str = ""  # the receipt option label, e.g. 單次寄送紙本收據
    corporate_name: str = ""
    contact_name: str = ""
    tax_number: str = field(default="", repr=False)  # personal data: kept out of reprs/logs
    identity_card_number: str = field(default="", repr=False)
    country: str = ""
    subdivision: str = ""
    city_area: str = ""
    postal_code: str = ""
    address: str = ""
    email: str | None = None  # the separate receipt email


@dataclass(frozen=True)
class BackmeOrder:
    """A whole validated webhook body. ``fingerprint`` is a SHA-256 of its canonical JSON, equal
    for equal content whatever the key order or whitespace of the raw bytes."""

    transaction: Transaction
    payment: Payment
    user: User = field(repr=False)
    recipient: Recipient | None = field(default=None, repr=False)
    receipt: Receipt | None = field(default=None, repr=False)
    fingerprint: str = ""

    @property
    def trade_no(self) -> str:
        return self.transaction.trade_no

    @property
    def type(self) -> OrderType:
        return self.transaction.type

    @property
    def updated_at(self) -> dt.datetime:
        return self.transaction.updated_at


# ---------------------------------------------------------------- JSON decoding


def _reject_constant(name: str) -> Any:
    raise BackmePayloadError("body", f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BackmePayloadError(key, "appears twice in one object")
        obj[key] = value
    return obj


def _decode(raw: bytes) -> Any:
    if not isinstance(raw, (bytes, bytearray)):
        raise BackmePayloadError("body", "must be bytes")
    if len(raw) == 0:
        raise BackmePayloadError("body", "is empty")
    if len(raw) > MAX_BODY_BYTES:
        raise BackmePayloadError("body", f"is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BackmePayloadError("body", "is not UTF-8") from exc
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except RecursionError as exc:
        raise BackmePayloadError("body", "is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise BackmePayloadError("body", f"is not JSON ({exc.msg} at {exc.pos})") from exc


def _fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- field readers


def _path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BackmePayloadError(path, "must be a JSON object")
    return value


def _required(obj: dict[str, Any], key: str, parent: str) -> Any:
    if key not in obj or obj[key] is None:
        raise BackmePayloadError(_path(parent, key), "is required")
    return obj[key]


def _string(
    obj: dict[str, Any], key: str, parent: str, *, required: bool = False,
    max_len: int = MAX_SHORT, multiline: bool = False,
) -> str:
    """A string field, stripped; absent/null → "" unless required (then "" is an error too)."""
    path = _path(parent, key)
    value = obj.get(key)
    if value is None:
        if required:
            raise BackmePayloadError(path, "is required")
        return ""
    if not isinstance(value, str):
        raise BackmePayloadError(path, "must be a string")
    value = value.strip()
    if required and not value:
        raise BackmePayloadError(path, "must not be empty")
    if len(value) > max_len:
        raise BackmePayloadError(path, f"is longer than {max_len} characters")
    forbidden = _TEXT_FORBIDDEN if multiline else _SINGLE_LINE_FORBIDDEN
    if forbidden.search(value):
        raise BackmePayloadError(path, "contains control characters")
    return value


def _integer(obj: dict[str, Any], key: str, parent: str, *, default: int | None = None,
             minimum: int = 0, maximum: int = 10**12) -> int:
    path = _path(parent, key)
    value = obj.get(key)
    if value is None:
        if default is None:
            raise BackmePayloadError(path, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BackmePayloadError(path, "must be an integer")
    if not minimum <= value <= maximum:
        raise BackmePayloadError(path, f"must be between {minimum} and {maximum}")
    return value


def _money(obj: dict[str, Any], key: str, parent: str, *, required: bool = True) -> Decimal | None:
    path = _path(parent, key)
    value = obj.get(key)
    if value is None or (value == "" and not required):
        if required:
            raise BackmePayloadError(path, "is required")
        return None
    if not isinstance(value, str):
        raise BackmePayloadError(path, 'must be a decimal string such as "8000.0"')
    text = value.strip()
    if not _MONEY.fullmatch(text):
        raise BackmePayloadError(path, 'must be a decimal string such as "8000.0"')
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already excludes this
        raise BackmePayloadError(path, "is not a decimal number") from exc
    if amount > MAX_MONEY:
        raise BackmePayloadError(path, f"is larger than {MAX_MONEY}")
    return amount


def _datetime(obj: dict[str, Any], key: str, parent: str, *, required: bool = False) -> dt.datetime | None:
    """ISO 8601; Backme sends ``+08:00``. A time without an offset is taken as Taiwan time."""
    path = _path(parent, key)
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise BackmePayloadError(path, "is required")
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BackmePayloadError(path, "must be an ISO 8601 date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BackmePayloadError(path, "must be an ISO 8601 date-time string") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TAIPEI)
    return moment


def _email(obj: dict[str, Any], key: str, parent: str, *, required: bool) -> str | None:
    text = _string(obj, key, parent, required=required, max_len=254)
    if not text:
        return None
    if not _EMAIL.fullmatch(text):
        raise BackmePayloadError(_path(parent, key), "is not an email address")
    return text


def _token(obj: dict[str, Any], key: str, parent: str) -> str:
    text = _string(obj, key, parent, required=True, max_len=32)
    if not _TOKEN.fullmatch(text):
        raise BackmePayloadError(_path(parent, key), "must be a lower-case identifier")
    return text


def _custom_value(value: Any, path: str) -> str:
    """A custom field answer as text: strings as sent; booleans as yes/no; numbers as written;
    a list (multiple choice) joined with "、"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "、".join(v.strip() for v in value)
    else:
        raise BackmePayloadError(path, "must be a string")
    if len(text) > MAX_LONG:
        raise BackmePayloadError(path, f"is longer than {MAX_LONG} characters")
    if _TEXT_FORBIDDEN.search(text):
        raise BackmePayloadError(path, "contains control characters")
    return text


# ---------------------------------------------------------------- sections


def _custom_field(value: Any, path: str) -> CustomField:
    obj = _object(value, path)
    is_required = obj.get("is_required", False)
    if is_required is None:
        is_required = False
    if not isinstance(is_required, bool):
        raise BackmePayloadError(_path(path, "is_required"), "must be true or false")
    return CustomField(
        id=_integer(obj, "id", path),
        field_type=_token(obj, "field_type", path),
        name=_string(obj, "name", path, required=True),
        is_required=is_required,
        value=_custom_value(obj.get("value"), _path(path, "value")),
    )


def _item(value: Any, path: str) -> OrderItem:
    obj = _object(value, path)
    raw_fields = obj.get("custom_fields")
    if raw_fields is None:
        raw_fields = []
    if not isinstance(raw_fields, list):
        raise BackmePayloadError(_path(path, "custom_fields"), "must be a list")
    if len(raw_fields) > MAX_CUSTOM_FIELDS:
        raise BackmePayloadError(_path(path, "custom_fields"), f"has more than {MAX_CUSTOM_FIELDS} entries")
    money = _money(obj, "money", path)
    assert money is not None
    return OrderItem(
        id=_integer(obj, "id", path),
        reward_id=_integer(obj, "reward_id", path),
        reward_name=_string(obj, "reward_name", path, required=True),
        quantity=_integer(obj, "quantity", path, default=1, minimum=1, maximum=10_000),
        money=money,
        note=_string(obj, "note", path, max_len=MAX_LONG, multiline=True),
        custom_fields=tuple(
            _custom_field(f, f"{path}.custom_fields[{i}]") for i, f in enumerate(raw_fields)
        ),
    )


def _items(value: Any, path: str) -> tuple[OrderItem, ...]:
    """Backme sends ``items`` as one object; a list of objects is accepted too."""
    if isinstance(value, dict):
        return (_item(value, path),)
    if isinstance(value, list):
        if not value:
            raise BackmePayloadError(path, "must not be empty")
        if len(value) > MAX_ITEMS:
            raise BackmePayloadError(path, f"has more than {MAX_ITEMS} entries")
        return tuple(_item(v, f"{path}[{i}]") for i, v in enumerate(value))
    raise BackmePayloadError(path, "must be an object or a list of objects")


def _transaction(value: Any) -> Transaction:
    path = "transaction"
    obj = _object(value, path)
    trade_no = _string(obj, "trade_no", path, required=True, max_len=64)
    if not _TRADE_NO.fullmatch(trade_no):
        raise BackmePayloadError("transaction.trade_no", "must be 1-64 letters, digits, '-' or '_'")
    raw_type = _string(obj, "type", path, required=True, max_len=16)
    try:
        order_type = OrderType(raw_type)
    except ValueError as exc:
        raise BackmePayloadError("transaction.type", "must be normal, parent or child") from exc
    render_status = _string(obj, "render_status", path, required=True, max_len=32)
    allowed = RECURRING_RENDER_STATUSES if order_type is OrderType.PARENT else SINGLE_RENDER_STATUSES
    if render_status not in allowed:
        raise BackmePayloadError(
            "transaction.render_status",
            f"{render_status!r} is not a known status for a {order_type.value} order",
        )
    parent_trade_no = _string(obj, "parent_trade_no", path, max_len=64) or None
    if order_type is OrderType.CHILD:
        if parent_trade_no is None:
            raise BackmePayloadError("transaction.parent_trade_no", "is required for a child order")
        if not _TRADE_NO.fullmatch(parent_trade_no):
            raise BackmePayloadError("transaction.parent_trade_no", "must be 1-64 letters, digits, '-' or '_'")
        if parent_trade_no == trade_no:
            raise BackmePayloadError("transaction.parent_trade_no", "must differ from trade_no")
    elif parent_trade_no is not None:
        raise BackmePayloadError("transaction.parent_trade_no", f"must be empty for a {order_type.value} order")
    money = _money(obj, "money", path)
    created_at = _datetime(obj, "created_at", path, required=True)
    updated_at = _datetime(obj, "updated_at", path, required=True)
    assert money is not None and created_at is not None and updated_at is not None
    flag = obj.get("flag")
    if flag is not None and not isinstance(flag, str):
        raise BackmePayloadError("transaction.flag", "must be a string or null")
    return Transaction(
        trade_no=trade_no,
        money=money,
        created_at=created_at,
        updated_at=updated_at,
        render_status=render_status,
        type=order_type,
        items=_items(_required(obj, "items", path), "transaction.items"),
        quantity=_integer(obj, "quantity", path, default=1, minimum=1, maximum=10_000),
        flag=_string(obj, "flag", path, max_len=64) or None,
        parent_trade_no=parent_trade_no,
    )


def _payment(value: Any) -> Payment:
    path = "payment"
    obj = _object(value, path)
    return Payment(
        type=_token(obj, "type", path),
        paid_at=_datetime(obj, "paid_at", path),
        next_paid_time=_datetime(obj, "next_paid_time", path),
        next_paid_amount=_money(obj, "next_paid_amount", path, required=False),
        log=_string(obj, "log", path, max_len=MAX_LONG, multiline=True),
        refund_at=_datetime(obj, "refund_at", path),
    )


def _user(value: Any) -> User:
    path = "user"
    obj = _object(value, path)
    raw_id = _required(obj, "id", path)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)):
        raise BackmePayloadError("user.id", "must be a positive integer")
    user_id = str(raw_id).strip()
    if not _USER_ID.fullmatch(user_id):
        raise BackmePayloadError("user.id", "must be a positive integer")
    email = _email(obj, "email", path, required=True)
    assert email is not None
    return User(
        id=user_id,
        email=email,
        name=_string(obj, "name", path, required=True, max_len=100),
        cellphone=_string(obj, "cellphone", path, max_len=32),
    )


def _recipient(value: Any) -> Recipient | None:
    path = "recipient"
    if value is None:
        return None
    obj = _object(value, path)
    email = _string(obj, "recipient_contact_email", path, max_len=254)
    return Recipient(
        recipient_name=_string(obj, "recipient_name", path, max_len=100),
        recipient_contact_email=email if _EMAIL.fullmatch(email) else None,
        recipient_cellphone=_string(obj, "recipient_cellphone", path, max_len=32),
        recipient_address=_string(obj, "recipient_address", path, max_len=300),
        recipient_postal_code=_string(obj, "recipient_postal_code", path, max_len=10),
        recipient_country=_string(obj, "recipient_country", path, max_len=2),
        recipient_subdivision=_string(obj, "recipient_subdivision", path, max_len=8),
        recipient_cityarea=_string(obj, "recipient_cityarea", path, max_len=50),
    )


def _receipt(value: Any) -> Receipt | None:
    path = "receipt"
    if value is None:
        return None
    obj = _object(value, path)
    return Receipt(
        receipt_type=_string(obj, "receipt_type", path, max_len=50),
        choice=_string(obj, "choice", path, max_len=100),
        corporate_name=_string(obj, "corporate_name", path),
        contact_name=_string(obj, "contact_name", path),
        tax_number=_string(obj, "tax_number", path, max_len=20),
        identity_card_number=_string(obj, "identity_card_number", path, max_len=20),
        country=_string(obj, "country", path, max_len=2),
        subdivision=_string(obj, "subdivision", path, max_len=8),
        city_area=_string(obj, "city_area", path, max_len=50),
        postal_code=_string(obj, "postal_code", path, max_len=10),
        address=_string(obj, "address", path, max_len=300),
        email=_email(obj, "email", path, required=False),
    )


def parse_order(raw: bytes) -> BackmeOrder:
    """Parse and validate one Backme webhook body (the raw request bytes)."""
    data = _object(_decode(raw), "body")
    return BackmeOrder(
        transaction=_transaction(_required(data, "transaction", "")),
        payment=_payment(_required(data, "payment", "")),
        user=_user(_required(data, "user", "")),
        recipient=_recipient(data.get("recipient")),
        receipt=_receipt(data.get("receipt")),
        fingerprint=_fingerprint(data),
    )

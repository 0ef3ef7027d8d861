"""The MOF e-invoice API wire format, in one place: paths, versions, parameter names,
request signing, and the mapping of HTTP/JSON answers to plain outcomes.

Checked against the ministry's API spec v1.9 (112/08) and public clients; see docs/mof.md.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flows.einvoice.model import (
    CarrierInvoiceHeader,
    InvoiceCode,
    Item,
    MofError,
    MofErrorKind,
    NotFoundYet,
    VerifiedInvoice,
)

# --- paths and actions -------------------------------------------------------------------

INVAPP_PATH = "/PB2CAPIVAN/invapp/InvApp"
INVSERV_PATH = "/PB2CAPIVAN/invServ/InvServ"

QRY_INV_HEADER = "qryInvHeader"
QRY_INV_DETAIL = "qryInvDetail"
CARRIER_INV_CHK = "carrierInvChk"
CARRIER_INV_DETAIL = "carrierInvDetail"

VERSIONS: dict[str, str] = {
    QRY_INV_HEADER: "0.5",
    QRY_INV_DETAIL: "0.6",  # spec v1.9; older clients send 0.5
    CARRIER_INV_CHK: "0.6",  # 0.5 until 2024-01-01
    CARRIER_INV_DETAIL: "0.5",
}
PATHS: dict[str, str] = {
    QRY_INV_HEADER: INVAPP_PATH,
    QRY_INV_DETAIL: INVAPP_PATH,
    CARRIER_INV_CHK: INVSERV_PATH,
    CARRIER_INV_DETAIL: INVSERV_PATH,
}
SIGNED_ACTIONS = frozenset({CARRIER_INV_CHK, CARRIER_INV_DETAIL})

TYPE_QRCODE = "QRCode"
TYPE_BARCODE = "Barcode"
GENERATION = "V2"
CARD_TYPE_MOBILE_BARCODE = "3J0002"

# timeStamp must be "now + 10..180 s" (spec §3.1); expTimeStamp a little later.
TIMESTAMP_LEAD_S = 10
EXPIRY_LEAD_S = 130

# Parameters whose values are secrets or derived from them: never logged.
SECRET_PARAMS = frozenset({"cardEncrypt", "signature"})
REDACTED = "***"

MAX_RESPONSE_BYTES = 1_048_576
MAX_CARRIER_MONTHS = 12  # the API serves about 9 months back; refuse absurd ranges

# --- answer codes ------------------------------------------------------------------------

CODE_OK = "200"
NOT_FOUND_STATUS = "該筆發票並無開立"  # code 200 + this invStatus = not uploaded (yet)
NOT_FOUND_CODES = frozenset({"901", "915"})  # 無此期別資料, 查無此發票詳細資料
TRANSIENT_CODES = frozenset({"500", "900", "950", "951", "999"})  # system, JSON, rate, timeout
# Every other non-200 code (903 參數錯誤, 904, 919 驗證碼錯誤, 952 過期, 953, 954 簽名有誤,
# 996 too many rows, 997 UUID, 998 AppID, ...) is permanent.

_INV_NUM = re.compile(r"^[A-Z]{2}\d{8}$")
_RANDOM = re.compile(r"^\d{4}$")
_BAN = re.compile(r"^\d{8}$")
_PERIOD = re.compile(r"^\d{3}(0[2468]|1[02])$")
_CARD_NO = re.compile(r"^/[0-9A-Z.+\-]{7}$")
_TAIPEI = dt.timezone(dt.timedelta(hours=8))


class RequestInvalid(ValueError):
    """A request we refuse to send; the message names the field."""


# --- signing -----------------------------------------------------------------------------


def canonical_string(params: Mapping[str, str]) -> str:
    """`name=value` pairs (raw, not URL-encoded) sorted by name in ASCII order, `&`-joined.

    The spec sorts names ascending and case-sensitively; for every signed parameter set we
    send this is also the case-insensitive order."""
    pairs = sorted((k, v) for k, v in params.items() if k != "signature")
    return "&".join(f"{k}={v}" for k, v in pairs)


def sign(params: Mapping[str, str], api_key: str) -> str:
    """base64(HMAC-SHA256(api_key, canonical_string(params)))."""
    digest = hmac.new(
        api_key.encode("utf-8"), canonical_string(params).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def redact(params: Mapping[str, str]) -> dict[str, str]:
    """A copy safe to log."""
    return {k: (REDACTED if k in SECRET_PARAMS else v) for k, v in params.items()}


# --- requests ----------------------------------------------------------------------------


def _mof_date(value: dt.date) -> str:
    return value.strftime("%Y/%m/%d")


def period_of(day: dt.date) -> str:
    """ROC year + the even month closing the two-month period: 2024-03-05 -> 11304."""
    month = day.month + (day.month % 2)
    return f"{day.year - 1911:03d}{month:02d}"


def _check(value: str | None, pattern: re.Pattern[str], field: str) -> str:
    if value is None or not pattern.match(value):
        raise RequestInvalid(f"{field}: invalid or missing")
    return value


def invoice_params(action: str, code: InvoiceCode, app_id: str, uuid: str) -> dict[str, str]:
    """qryInvHeader / qryInvDetail parameters for one invoice code (QRCode type when the
    code carries encrypt + seller BAN, else Barcode)."""
    inv_num = _check(code.invoice_number, _INV_NUM, "invoice_number")
    if code.date is None:
        raise RequestInvalid("date: missing")
    qr = bool(code.encrypt) and bool(code.seller_ban)
    params = {
        "version": VERSIONS[action],
        "action": action,
        "type": TYPE_QRCODE if qr else TYPE_BARCODE,
        "invNum": inv_num,
        "invDate": _mof_date(code.date),
        "generation": GENERATION,
        "UUID": uuid,
        "appID": app_id,
    }
    if action == QRY_INV_DETAIL:
        params["randomNumber"] = _check(code.random_code, _RANDOM, "random_code")
        if qr:
            encrypt = code.encrypt or ""
            if len(encrypt) != 24 or not encrypt.isascii() or not encrypt.isprintable():
                raise RequestInvalid("encrypt: must be 24 printable ASCII characters")
            params["encrypt"] = encrypt
            params["sellerID"] = _check(code.seller_ban, _BAN, "seller_ban")
        else:
            params["invTerm"] = _check(code.period or period_of(code.date), _PERIOD, "period")
    return params


def _card(card_no: str, verify_code: str) -> tuple[str, str]:
    _check(card_no, _CARD_NO, "card_no")
    if not verify_code or len(verify_code) > 64 or not verify_code.isprintable():
        raise RequestInvalid("verify_code: invalid or missing")
    return card_no, verify_code


def carrier_base(
    action: str, card_no: str, verify_code: str, app_id: str, uuid: str, now: float
) -> dict[str, str]:
    card_no, verify_code = _card(card_no, verify_code)
    return {
        "version": VERSIONS[action],
        "action": action,
        "cardType": CARD_TYPE_MOBILE_BARCODE,
        "cardNo": card_no,
        "cardEncrypt": verify_code,
        "timeStamp": str(int(now) + TIMESTAMP_LEAD_S),
        "expTimeStamp": str(int(now) + EXPIRY_LEAD_S),
        "uuid": uuid,
        "appID": app_id,
    }


def carrier_list_params(
    card_no: str, verify_code: str, start: dt.date, end: dt.date,
    app_id: str, uuid: str, now: float,
) -> dict[str, str]:
    """carrierInvChk for one calendar month (the API refuses ranges across months)."""
    if (start.year, start.month) != (end.year, end.month) or end < start:
        raise RequestInvalid("start/end: must lie in one month, start <= end")
    params = carrier_base(CARRIER_INV_CHK, card_no, verify_code, app_id, uuid, now)
    params.update(startDate=_mof_date(start), endDate=_mof_date(end), onlyWinningInv="N")
    return params


def carrier_detail_params(
    card_no: str, verify_code: str, header: CarrierInvoiceHeader,
    app_id: str, uuid: str, now: float,
) -> dict[str, str]:
    params = carrier_base(CARRIER_INV_DETAIL, card_no, verify_code, app_id, uuid, now)
    params.update(
        invNum=_check(header.invoice_number, _INV_NUM, "invoice_number"),
        invDate=_mof_date(header.date),
        sellerName=header.seller_name,
        amount=str(header.total_amount),
    )
    return params


def month_ranges(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Split [start, end] into per-month ranges."""
    if end < start:
        raise RequestInvalid("start/end: end before start")
    out: list[tuple[dt.date, dt.date]] = []
    cur = start
    while cur <= end:
        nxt = dt.date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
        out.append((cur, min(end, nxt - dt.timedelta(days=1))))
        cur = nxt
    return out


# --- answers -----------------------------------------------------------------------------


class MalformedAnswer(ValueError):
    """A 200 answer whose content we cannot use; the message names the field."""


def http_status_error(status: int) -> MofError | None:
    """Outcome for a non-2xx HTTP status, None when the body should be read."""
    if 200 <= status < 300:
        return None
    if status >= 500 or status == 429:
        return MofError(MofErrorKind.TRANSIENT, f"HTTP {status}", code=str(status))
    return MofError(MofErrorKind.PERMANENT, f"HTTP {status}", code=str(status))


def decode_body(body: bytes) -> dict[str, Any] | MofError:
    """JSON object or a TRANSIENT error saying why not."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return MofError(MofErrorKind.TRANSIENT, f"malformed JSON from MOF: {exc.__class__.__name__}")
    if not isinstance(data, dict):
        return MofError(MofErrorKind.TRANSIENT, "malformed answer from MOF: not a JSON object")
    return data


def classify(data: Mapping[str, Any]) -> MofError | NotFoundYet | None:
    """Outcome for a JSON answer's `code`/`msg`/`invStatus`; None means success with data."""
    raw = data.get("code")
    code = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    msg = str(data.get("msg", ""))[:200]
    if not code:
        return MofError(MofErrorKind.TRANSIENT, "malformed answer from MOF: code missing")
    if code == CODE_OK:
        if str(data.get("invStatus", "")).strip() == NOT_FOUND_STATUS:
            return NotFoundYet(NOT_FOUND_STATUS)
        return None
    if code in NOT_FOUND_CODES:
        return NotFoundYet(msg or code)
    kind = MofErrorKind.TRANSIENT if code in TRANSIENT_CODES else MofErrorKind.PERMANENT
    return MofError(kind, f"MOF code {code}: {msg}", code=code)


def _str(data: Mapping[str, Any], field: str, *, required: bool = True) -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise MalformedAnswer(f"{field}: missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedAnswer(f"{field}: not a string")
    return str(value).strip()


def parse_decimal(value: Any, field: str) -> Decimal:
    """Numbers arrive as strings (sometimes as JSON numbers)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MalformedAnswer(f"{field}: not a number")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise MalformedAnswer(f"{field}: not a number") from None
    if not number.is_finite():
        raise MalformedAnswer(f"{field}: not a number")
    return number


def _whole(number: Decimal, field: str) -> int:
    if number != number.to_integral_value():
        raise MalformedAnswer(f"{field}: not a whole amount")
    return int(number)


def parse_date(value: Any, field: str = "invDate") -> dt.date:
    """`yyyyMMdd` / `yyyy/MM/dd`, or the carrier object {year (ROC), month (1-12), date, time}."""
    try:
        if isinstance(value, str):
            digits = value.strip().replace("/", "").replace("-", "")
            if len(digits) == 8 and digits.isdigit():
                return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        elif isinstance(value, Mapping):
            year, month, day = value.get("year"), value.get("month"), value.get("date")
            if all(isinstance(x, int) and not isinstance(x, bool) for x in (year, month, day)):
                assert isinstance(year, int) and isinstance(month, int) and isinstance(day, int)
                return dt.date(year + 1911 if year < 1911 else year, month, day)
            millis = value.get("time")
            if isinstance(millis, int) and not isinstance(millis, bool):
                return dt.datetime.fromtimestamp(millis / 1000, _TAIPEI).date()
    except (ValueError, OverflowError, OSError):
        pass
    raise MalformedAnswer(f"{field}: not a date")


def parse_items(data: Mapping[str, Any]) -> tuple[Item, ...]:
    rows = data.get("details", [])
    if rows is None:
        return ()
    if not isinstance(rows, list):
        raise MalformedAnswer("details: not a list")
    items: list[Item] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise MalformedAnswer(f"details[{i}]: not an object")
        amount = row.get("amount")
        items.append(
            Item(
                name=_str(row, "description", required=False),
                quantity=parse_decimal(row.get("quantity"), f"details[{i}].quantity"),
                unit_price=parse_decimal(row.get("unitPrice"), f"details[{i}].unitPrice"),
                amount=None if amount in (None, "") else parse_decimal(amount, f"details[{i}].amount"),
            )
        )
    return tuple(items)


def _buyer(data: Mapping[str, Any]) -> str | None:
    ban = _str(data, "buyerBan", required=False)
    return ban if ban and ban != "00000000" else None


def parse_invoice(
    detail: Mapping[str, Any], header: Mapping[str, Any] | None = None
) -> VerifiedInvoice:
    """A detail answer (qryInvDetail / carrierInvDetail), header answer filling gaps."""
    head: Mapping[str, Any] = header or {}

    def pick(field: str, required: bool = True) -> str:
        value = _str(detail, field, required=False) or _str(head, field, required=False)
        if required and not value:
            raise MalformedAnswer(f"{field}: missing")
        return value

    inv_num = pick("invNum")
    if not _INV_NUM.match(inv_num):
        raise MalformedAnswer("invNum: not an invoice number")
    items = parse_items(detail)
    if detail.get("amount") not in (None, ""):
        total = _whole(parse_decimal(detail.get("amount"), "amount"), "amount")
    elif items:
        total = _whole(sum((it.subtotal for it in items), Decimal(0)), "amount")
    else:
        raise MalformedAnswer("amount: missing")
    return VerifiedInvoice(
        invoice_number=inv_num,
        date=parse_date(detail.get("invDate") or head.get("invDate")),
        seller_name=pick("sellerName"),
        seller_ban=pick("sellerBan", required=False),
        total_amount=total,
        items=items,
        status=pick("invStatus", required=False),
        seller_address=pick("sellerAddress", required=False),
        invoice_time=pick("invoiceTime", required=False),
        period=pick("invPeriod", required=False),
        buyer_ban=_buyer(detail) or _buyer(head),
    )


_HEADER_FIELDS = frozenset(
    {"invNum", "invDate", "sellerName", "sellerBan", "amount", "invStatus", "invoiceTime", "invPeriod"}
)


def parse_carrier_headers(data: Mapping[str, Any]) -> list[CarrierInvoiceHeader]:
    rows = data.get("details", [])
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise MalformedAnswer("details: not a list")
    out: list[CarrierInvoiceHeader] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise MalformedAnswer(f"details[{i}]: not an object")
        inv_num = _str(row, "invNum")
        if not _INV_NUM.match(inv_num):
            raise MalformedAnswer(f"details[{i}].invNum: not an invoice number")
        out.append(
            CarrierInvoiceHeader(
                invoice_number=inv_num,
                date=parse_date(row.get("invDate"), f"details[{i}].invDate"),
                seller_name=_str(row, "sellerName", required=False),
                seller_ban=_str(row, "sellerBan", required=False),
                total_amount=_whole(
                    parse_decimal(row.get("amount"), f"details[{i}].amount"), f"details[{i}].amount"
                ),
                status=_str(row, "invStatus", required=False),
                invoice_time=_str(row, "invoiceTime", required=False),
                period=_str(row, "invPeriod", required=False),
                extra={k: v for k, v in row.items() if k not in _HEADER_FIELDS},
            )
        )
    return out

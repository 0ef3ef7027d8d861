"""The LIFF forms' validation, the one source both the pages (through /liff/api/validate) and
the submissions use: flows.einvoice.codes parses, this module words its errors in zh-TW."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flows.campaigns.dates import IssueDateRefusal, issue_date_refusal
from flows.campaigns.settings import IssueDateWindow
from flows.contact.phones import PhoneError, canonical_phone
from flows.einvoice.codes import InvoiceCodeError, MobileBarcode, parse_carrier, parse_manual
from flows.einvoice.model import InvoiceCode

MANUAL_FIELDS = ("invoice_number", "date", "random_code", "total_amount", "phone", "consent")
CARRIER_FIELDS = ("carrier_barcode", "verification_code", "phone", "consent")

MESSAGES = {
    "invoice_number": "發票號碼：請輸入 2 個英文字母與 8 位數字，例如 AB-12345678",
    "date": "開立日期：請選擇或輸入正確的日期（YYYY-MM-DD）",
    "date_future": "開立日期：不可晚於今天",
    "date_window": "開立日期：本活動限 {start} ～ {end} 開立的發票",
    "random_code": "隨機碼：請輸入 4 位數字",
    "total_amount": "總金額：請輸入整數金額（新臺幣元）",
    "phone": "手機號碼：請輸入 09 開頭的 10 位數字，例如 0912345678",
    "consent": "留下手機號碼前，請勾選同意活動辦法",
    "carrier_barcode": "手機條碼：請輸入「/」加 7 個字元（0-9、A-Z、.、+、-）",
    "verification_code": "驗證碼：請輸入驗證碼（最多 32 個字元，前後不留空白）",
    "carrier_refused": "手機條碼或驗證碼不正確，請確認後再試",
}
_PLACEHOLDERS = {"invoice_number": "AB12345678", "date": "2024-01-01", "random_code": "1234", "total_amount": None}


def _text(fields: dict[str, Any], name: str) -> Any:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else value


def check_phone(fields: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """Both pages' optional phone: (the number in E.164 digits, e.g. 886912345678, or None when
    left empty; errors by field). A number needs the consent ticked (`consent` true)."""
    value = fields.get("phone")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, {}
    try:
        phone = canonical_phone(value)
    except PhoneError:
        return None, {"phone": MESSAGES["phone"]}
    return phone, ({} if fields.get("consent") is True else {"consent": MESSAGES["consent"]})


def check_manual(fields: dict[str, Any], *, today: dt.date,
                 window: IssueDateWindow) -> tuple[InvoiceCode | None, str | None, dict[str, str]]:
    """(code, phone, errors by field): every wrong field is named, not only the first. The
    total amount is optional; the issue date must not be after `today` (Asia/Taipei) and must be
    in the campaign's window."""
    values = {name: _text(fields, name) for name in _PLACEHOLDERS}
    errors: dict[str, str] = {}
    if values["total_amount"] in (None, ""):  # optional (SPEC §1): MOF's record gives the amount
        values["total_amount"] = None
    code: InvoiceCode | None = None
    for _ in range(len(_PLACEHOLDERS) + 1):
        try:
            code = parse_manual(**values)
            break
        except InvoiceCodeError as exc:
            name = exc.field if exc.field in _PLACEHOLDERS else "invoice_number"
            errors[name] = MESSAGES[name]
            values[name] = _PLACEHOLDERS[name]
    if code is not None and "date" not in errors:
        refusal = issue_date_refusal(code.date, today=today, start=window.start, end=window.end)
        if refusal is IssueDateRefusal.FUTURE:
            errors["date"] = MESSAGES["date_future"]
        elif refusal is IssueDateRefusal.OUTSIDE_WINDOW:
            errors["date"] = MESSAGES["date_window"].format(start=window.start.isoformat(),
                                                            end=window.end.isoformat())
    phone, phone_errors = check_phone(fields)
    errors.update(phone_errors)
    return (None if errors else code), phone, errors


def check_carrier(fields: dict[str, Any]) -> tuple[MobileBarcode | None, str | None, dict[str, str]]:
    """(carrier, phone, errors by field), as check_manual."""
    barcode, verification = fields.get("carrier_barcode"), fields.get("verification_code")
    phone, errors = check_phone(fields)
    try:
        parse_carrier(barcode, "x")
    except InvoiceCodeError:
        errors["carrier_barcode"] = MESSAGES["carrier_barcode"]
    try:
        parse_carrier("/AAAAAAA", verification)
    except InvoiceCodeError:
        errors["verification_code"] = MESSAGES["verification_code"]
    if errors:
        return None, phone, errors
    return parse_carrier(barcode, verification), phone, {}

"""Fraud signals (issue 30): their kinds, the pure checks behind two of them (the code against
MOF's record; a carrier's masked form), and each signal in words (zh-TW) for reviewers."""
from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from flows.review.states import parse_choice


class SignalKind(str, Enum):
    SAME_PHOTO = "same_photo"  # a perceptually identical photo registered by another user
    SHARED_CARRIER = "shared_carrier"  # the carrier is used by more than N LINE users
    MANY_CARRIERS = "many_carriers"  # the user imported more than M carriers
    BURST = "burst"  # more than K uploads by the user in T minutes
    MISMATCH = "mismatch"  # the invoice's code disagrees with MOF's record

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    SignalKind.SAME_PHOTO: "相同照片",
    SignalKind.SHARED_CARRIER: "共用載具",
    SignalKind.MANY_CARRIERS: "多個載具",
    SignalKind.BURST: "短時間大量上傳",
    SignalKind.MISMATCH: "發票資料不符",
}


def parse_kind(text: str) -> SignalKind:
    return parse_choice(SignalKind, text, "signal")


def mask_carrier(barcode: str) -> str:
    """`/ABC+123` → `/AB****3`: enough for a reviewer to tell carriers apart, not to use one."""
    if len(barcode) != 8 or not barcode.startswith("/"):
        return "/*******"
    return barcode[:3] + "****" + barcode[-1]


# --- the code against MOF's record -------------------------------------------------------------

def _items(raw: Any) -> list[tuple[str, Decimal, Decimal]]:
    out = []
    for item in raw or ():
        out.append((str(item["name"]).strip(), Decimal(str(item["quantity"])), Decimal(str(item["unit_price"]))))
    return out


def mismatches(code: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the user's code (`code`: what the QR / entry said — total_amount, seller_ban, date,
    items) disagrees with MOF's record (`record`: the same keys). Only what the code carried
    is compared; the QR holds at most the first items, so its items must be the record's first
    ones, in order. Each difference: {"field", "code", "mof"}."""
    found: list[dict[str, Any]] = []
    for field in ("total_amount", "seller_ban", "date"):
        mine, theirs = code.get(field), record.get(field)
        if mine in (None, "") or theirs in (None, ""):
            continue
        if str(mine) != str(theirs):
            found.append({"field": field, "code": mine, "mof": theirs})
    qr_items, mof_items = _items(code.get("items")), _items(record.get("items"))
    if qr_items and mof_items:
        head = mof_items[:len(qr_items)]
        if len(head) < len(qr_items) or any(a != b for a, b in zip(qr_items, head)):
            found.append({"field": "items",
                          "code": [f"{n} ×{q.normalize():f} @{p.normalize():f}" for n, q, p in qr_items],
                          "mof": [f"{n} ×{q.normalize():f} @{p.normalize():f}" for n, q, p in mof_items]})
    return found


# --- in words ----------------------------------------------------------------------------------

_FIELD_LABELS = {"total_amount": "總金額", "seller_ban": "賣方統編", "date": "開立日期", "items": "品項"}


def _uploads(ids: Any) -> str:
    ids = list(ids or [])
    shown = "、".join(f"#{i}" for i in ids[:5])
    return shown + (f" 等 {len(ids)} 筆" if len(ids) > 5 else "")


def describe(kind: SignalKind | str, evidence: dict[str, Any]) -> str:
    """One zh-TW sentence a reviewer (or a brand's legal team) can read."""
    kind = SignalKind(kind)
    e = evidence or {}
    if kind is SignalKind.SAME_PHOTO:
        matches = e.get("matches") or []
        users = len({m.get("customer_id") for m in matches})
        closest = min((m.get("distance", 0) for m in matches), default=0)
        return (f"這張照片與另外 {users} 位使用者上傳的照片幾乎相同（上傳 {_uploads(m.get('upload_id') for m in matches)}；"
                f"感知雜湊最少相差 {closest} 位元，門檻 {e.get('max_distance')} 位元）")
    if kind is SignalKind.SHARED_CARRIER:
        return (f"載具 {e.get('carrier_mask') or e.get('carrier_ref')} 由 {e.get('users')} 位 LINE 使用者使用"
                f"（上限 {e.get('max')} 位）")
    if kind is SignalKind.MANY_CARRIERS:
        return f"此使用者在本活動匯入了 {e.get('carriers')} 個載具（上限 {e.get('max')} 個）"
    if kind is SignalKind.BURST:
        return (f"此使用者在 {e.get('minutes')} 分鐘內上傳了 {e.get('uploads')} 張發票"
                f"（上限 {e.get('max')} 張）")
    parts = []
    for diff in e.get("differences") or []:
        label = _FIELD_LABELS.get(diff.get("field"), diff.get("field"))
        code, mof = diff.get("code"), diff.get("mof")
        if isinstance(code, list) or isinstance(mof, list):
            code, mof = "、".join(code or []), "、".join(mof or [])
        parts.append(f"{label}：發票條碼為 {code}，財政部資料為 {mof}")
    return "發票條碼與財政部資料不符（" + "；".join(parts) + "）"

"""Receipt options: Backme's labels (current and older) → the CRM's stored value (fixed by the
seed), the seed's default display names, and where the receipt and the confirmation are emailed."""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from enum import Enum

from flows.backme.payload import BackmeOrder, BackmePayloadError


class ReceiptOption(str, Enum):
    """The stored value of the receipt option; values are fixed, display names are configurable."""

    NONE = "0"  # 不需要收據
    PAPER_SINGLE = "1"  # 單次寄送紙本收據
    NOT_MAILED = "2"  # 需要收據但不需要寄送 (uploaded to the tax bureau)
    PAPER_ANNUAL = "annual_paper_receipt"  # 年度寄送紙本收據
    E_SINGLE = "single_e_receipt"  # 單次寄送電子收據
    E_ANNUAL = "annual_e_receipt"  # 年度寄送電子收據

    @property
    def wants_receipt(self) -> bool:
        return self is not ReceiptOption.NONE

    @property
    def is_e_receipt(self) -> bool:
        return self in (ReceiptOption.E_SINGLE, ReceiptOption.E_ANNUAL)


# The older labels (the seed's table, 挖貝收據選項名稱 → NETICRM選項值), character for character.
OLDER_RECEIPT_LABELS: dict[str, ReceiptOption] = {
    "不需要收據": ReceiptOption.NONE,
    "單次寄送紙本收據": ReceiptOption.PAPER_SINGLE,
    "需要收據但不需要寄送": ReceiptOption.NOT_MAILED,
    "年度寄送紙本收據": ReceiptOption.PAPER_ANNUAL,
    "單次寄送電子收據": ReceiptOption.E_SINGLE,
    "年度寄送電子收據": ReceiptOption.E_ANNUAL,
}

# Backme's current labels (it renamed its choices; netiCRM's processor matches these).
CURRENT_RECEIPT_LABELS: dict[str, ReceiptOption] = {
    "不需要收據": ReceiptOption.NONE,
    "紙本收據（單次寄送）": ReceiptOption.PAPER_SINGLE,
    "需要收據（不寄送，資料由團隊上傳國稅局）": ReceiptOption.NOT_MAILED,
    "紙本收據（年度寄送）": ReceiptOption.PAPER_ANNUAL,
    "電子收據（單次開立）": ReceiptOption.E_SINGLE,
    "電子收據（年度開立）": ReceiptOption.E_ANNUAL,
}

# The seed's default display names (netiCRM顯示名稱(可改)); a page may override each one.
DEFAULT_DISPLAY_NAMES: dict[ReceiptOption, str] = {
    ReceiptOption.NONE: "不要(無抵稅需求/不用寄給我收據)",
    ReceiptOption.PAPER_SINGLE: "需要(請寄給我紙本收據)",
    ReceiptOption.NOT_MAILED: "需要(不用寄給我/請幫我在隔年五月上傳至國稅局)",
    ReceiptOption.PAPER_ANNUAL: "年度寄送紙本收據",
    ReceiptOption.E_SINGLE: "單次寄送電子收據",
    ReceiptOption.E_ANNUAL: "年度寄送電子收據",
}


def label_key(label: str) -> str:
    """The comparison form of a label: NFKC (full-width （）， and half-width (), alike), no spaces."""
    return "".join(unicodedata.normalize("NFKC", label).split())


_OPTION_BY_KEY: dict[str, ReceiptOption] = {
    label_key(label): option
    for table in (OLDER_RECEIPT_LABELS, CURRENT_RECEIPT_LABELS)
    for label, option in table.items()
}


def receipt_label(option: ReceiptOption, *, older: bool = False) -> str:
    """Backme's label for an option: the current one, or the older (seed) one."""
    table = OLDER_RECEIPT_LABELS if older else CURRENT_RECEIPT_LABELS
    return next(label for label, value in table.items() if value is option)


def display_name(option: ReceiptOption, names: Mapping[str, str] | None = None) -> str:
    """The page's display name for an option: its override in ``names`` (keyed by stored value),
    else the seed's default."""
    return (names or {}).get(option.value) or DEFAULT_DISPLAY_NAMES[option]


class UnknownReceiptOption(BackmePayloadError):
    """The receipt label is not one the page knows; the field is ``receipt.choice``."""

    def __init__(self, label: str) -> None:
        super().__init__("receipt.choice", f"unknown receipt option {label!r}")
        self.label = label


def receipt_option(label: str) -> ReceiptOption:
    """Map a Backme receipt label (current or older, either parenthesis width) to its stored
    value; raises ``UnknownReceiptOption``."""
    option = _OPTION_BY_KEY.get(label_key(label))
    if option is None:
        raise UnknownReceiptOption(label)
    return option


def order_receipt_option(order: BackmeOrder) -> ReceiptOption | None:
    """The order's receipt option, None when the body has no receipt choice at all."""
    if order.receipt is None or not order.receipt.choice:
        return None
    return receipt_option(order.receipt.choice)


def notification_email(order: BackmeOrder) -> str:
    """Where the receipt and the payment confirmation go: the separate receipt email when the
    donor chose an e-receipt option (單次/年度寄送電子收據) and gave one, else the member's email.
    An unknown receipt label counts as "not an e-receipt"."""
    receipt = order.receipt
    if receipt is not None and receipt.email:
        try:
            option = order_receipt_option(order)
        except UnknownReceiptOption:
            option = None
        if option is not None and option.is_e_receipt:
            return receipt.email
    return order.user.email

"""The one exception type for e-invoice codes that fail validation: it names the field."""
from __future__ import annotations


class InvoiceCodeError(ValueError):
    """An e-invoice code (QR, barcode, manual entry, carrier) has a wrong field.

    `field` is a stable machine name such as ``invoice_number``, ``date``, ``random_code``,
    ``seller_ban`` or ``items[2].quantity``; the message names the field too. Messages never
    contain secrets (carrier verification codes).
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")

"""A donation page's stored settings read as domain values: the custom-field mapping and the
receipt-option display names (both JSON columns, validated when written and when read)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.crm_models import DonationPage
from flows.backme.contributions import CustomFieldRule, PageFieldMapping
from flows.backme.receipts import ReceiptOption, display_name

PAGE_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class PageSettingsError(ValueError):
    """A page setting is malformed; ``field`` names it."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field


def parse_field_mapping(data: Any) -> dict[str, CustomFieldRule]:
    """``{"Backme field name": {"crm_field": "custom_1", "options": {"Backme answer": "crm value"}}}``
    (a bare string value is shorthand for ``{"crm_field": value}``)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PageSettingsError("custom_field_mapping", "must be a JSON object")
    rules: dict[str, CustomFieldRule] = {}
    for name, rule in data.items():
        path = f"custom_field_mapping.{name}"
        if not isinstance(name, str) or not name.strip():
            raise PageSettingsError("custom_field_mapping", "field names must be non-empty strings")
        if isinstance(rule, str):
            rule = {"crm_field": rule}
        if not isinstance(rule, Mapping):
            raise PageSettingsError(path, "must be a string or an object")
        crm_field = rule.get("crm_field")
        if not isinstance(crm_field, str) or not crm_field.strip():
            raise PageSettingsError(f"{path}.crm_field", "is required")
        options = rule.get("options") or {}
        if not isinstance(options, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()
        ):
            raise PageSettingsError(f"{path}.options", "must map answer strings to CRM value strings")
        unknown = set(rule) - {"crm_field", "options"}
        if unknown:
            raise PageSettingsError(path, f"unknown keys {sorted(unknown)}")
        rules[name] = CustomFieldRule(crm_field=crm_field.strip(), options=dict(options))
    return rules


def parse_receipt_option_names(data: Any) -> dict[str, str]:
    """Display names keyed by the fixed stored values (``0``, ``1``, ``2``, ``annual_paper_receipt``,
    ``single_e_receipt``, ``annual_e_receipt``): the values are fixed, the names are not."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PageSettingsError("receipt_option_names", "must be a JSON object")
    valid = {o.value for o in ReceiptOption}
    names: dict[str, str] = {}
    for value, name in data.items():
        if value not in valid:
            raise PageSettingsError(f"receipt_option_names.{value}", f"is not one of {sorted(valid)}")
        if not isinstance(name, str) or not name.strip():
            raise PageSettingsError(f"receipt_option_names.{value}", "must be a non-empty string")
        names[value] = name.strip()
    return names


def field_mapping(page: DonationPage) -> PageFieldMapping:
    return parse_field_mapping(page.custom_field_mapping)


def receipt_option_display(page: DonationPage, value: str | None) -> str:
    """The page's display name for a stored receipt option value: its own name, else the seed's
    default ("" when none)."""
    if value is None:
        return ""
    try:
        option = ReceiptOption(value)
    except ValueError:
        return value
    return display_name(option, parse_receipt_option_names(page.receipt_option_names))


async def page_by_key(session: AsyncSession, key: str) -> DonationPage | None:
    """The page for a URL key; None for an unknown or malformed key."""
    if not PAGE_KEY.fullmatch(key):
        return None
    return (await session.execute(select(DonationPage).where(DonationPage.key == key))).scalar_one_or_none()

"""Builders for campaign settings and verified invoices shared by the campaign tests."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from flows.campaigns.dates import TAIPEI
from flows.campaigns.settings import (
    CampaignSettings,
    CodePool,
    Conditions,
    IssueDateWindow,
    Reward,
    Measure,
    WholeInvoiceScope,
)
from flows.einvoice.model import Item, VerifiedInvoice

TODAY = dt.date(2024, 3, 15)  # odd month: window may start from 2023-06-01


def _taipei(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


def _build_conditions(**overrides: Any) -> Conditions:
    base = Conditions(
        issue_dates=IssueDateWindow(dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
        scope=WholeInvoiceScope(Measure.AMOUNT, 100),
        reward=Reward("測試機器人", "LINEPOINT", CodePool()),
    )
    return replace(base, **overrides)


def _build_settings(**overrides: Any) -> CampaignSettings:
    conditions = overrides.pop("conditions", None) or _build_conditions()
    base = CampaignSettings(
        name="春季發票登錄",
        start_at=_taipei(2024, 4, 1),
        end_at=_taipei(2024, 6, 30, 23, 59, 59),
        rules_url="https://example.com/rules",
        channel_id="1657000000",
        conditions=conditions,
        image_url="https://example.com/campaign.png",
    )
    return replace(base, **overrides)


def _build_invoice(items: list[tuple[str, str, str]] | None = None, **overrides: Any) -> VerifiedInvoice:
    """items as (name, quantity, unit price) strings; total defaults to the items' sum."""
    parsed = tuple(Item(n, Decimal(q), Decimal(p)) for n, q, p in (items or []))
    total = overrides.pop("total_amount", None)
    if total is None:
        total = int(sum((i.subtotal for i in parsed), Decimal(0)))
    base = VerifiedInvoice(
        invoice_number="AB12312312",
        date=dt.date(2024, 2, 1),
        seller_name="全通路股份有限公司",
        seller_ban="82910724",
        total_amount=total,
        items=parsed,
        status="已確認",
    )
    return replace(base, **overrides)


@pytest.fixture
def today() -> dt.date:
    return TODAY


@pytest.fixture
def build_conditions():
    """Conditions: whole invoice ≥ NT$100, issue dates 2024-01-01..2024-06-30, tier-1 reward."""
    return _build_conditions


@pytest.fixture
def build_settings():
    """Valid settings on TODAY (2024-03-15); keyword arguments replace fields."""
    return _build_settings


@pytest.fixture
def build_invoice():
    """A verified invoice of 全通路股份有限公司 issued 2024-02-01 with the given items."""
    return _build_invoice


@pytest.fixture
def taipei():
    return _taipei

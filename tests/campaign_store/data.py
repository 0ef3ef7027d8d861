"""Builders for the campaign-store tests: channels, admin users, customers, campaign settings,
pending uploads and MOF-verified invoices, written through a real Database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from bot.campaigns.store import Actor
from bot.storage.database import Database
from bot.storage.models import AdminUser, CampaignPhone, Channel, Customer, Upload
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from flows.einvoice.model import Item, VerifiedInvoice

# Campaign time: all of September–December 2023; "now" when creating is 2023-08-20.
CREATED = dt.datetime(2023, 8, 20, 10, 0, tzinfo=TAIPEI)
START = dt.datetime(2023, 9, 1, 0, 0, tzinfo=TAIPEI)
END = dt.datetime(2023, 12, 31, 23, 59, tzinfo=TAIPEI)
DURING = dt.datetime(2023, 9, 2, 18, 1, tzinfo=TAIPEI)
AFTER = dt.datetime(2024, 1, 2, 9, 0, tzinfo=TAIPEI)


def taipei(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


def reward(module: str = "LINEPOINT", coupon: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"bot_name": "測試機器人", "module_name": module,
            "coupon": coupon or {"kind": "code_pool"}}


def settings(channel_id: int, *, name: str = "秋季發票登錄", cap: int | None = None,
             threshold: int = 100, sellers: list[str] | None = None,
             timing: str = "immediate", reward_: dict[str, Any] | None = None,
             higher_tiers: list[dict[str, Any]] | None = None,
             start: dt.datetime = START, end: dt.datetime = END) -> dict[str, Any]:
    return {
        "name": name,
        "start_at": start.isoformat(),
        "end_at": end.isoformat(),
        "rules_url": "https://brand.example.com/rules",
        "channel_id": str(channel_id),
        "image_url": "https://brand.example.com/card.png",
        "conditions": {
            "per_person_cap": cap,
            "issue_dates": {"start": "2023-08-01", "end": "2023-12-31"},
            "sellers": sellers,
            "reward_timing": timing,
            "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": threshold},
            "reward": None if timing == "list_only" else (reward_ or reward()),
            "higher_tiers": higher_tiers or [],
        },
    }


async def add_channel(db: Database, name: str = "品牌官方帳號") -> int:
    async with db.session() as s, s.begin():
        return (await s.execute(insert(Channel).values(name=name).returning(Channel.id))).scalar_one()


async def add_actor(db: Database, name: str, role: Role) -> Actor:
    async with db.session() as s, s.begin():
        user_id = (await s.execute(insert(AdminUser).values(name=name, role=role.value)
                                   .returning(AdminUser.id))).scalar_one()
    return Actor(user_id, name, role)


async def add_customer(db: Database, channel_id: int, line_user_id: str, name: str | None = None) -> int:
    async with db.session() as s, s.begin():
        return (await s.execute(insert(Customer).values(
            channel_id=channel_id, line_user_id=line_user_id, display_name=name)
            .returning(Customer.id))).scalar_one()


async def add_phone(db: Database, campaign_id: int, customer_id: int, phone: str | None) -> None:
    """The phone the customer gave with consent for the campaign (none when `phone` is None)."""
    if phone is None:
        return
    async with db.session() as s, s.begin():
        await s.execute(insert(CampaignPhone).values(campaign_id=campaign_id, customer_id=customer_id, phone=phone,
                                                     consent_at=CREATED, created_at=CREATED))


async def add_upload(db: Database, campaign_id: int, customer_id: int, number: str, *,
                     day: dt.date = dt.date(2023, 9, 1), source: str = "photo",
                     uploaded_at: dt.datetime = taipei(2023, 9, 2, 18, 0), status: str = "pending",
                     photo_path: str | None = None, is_draft: bool = False,
                     buyer_ban: str | None = None) -> int:
    async with db.session() as s, s.begin():
        return (await s.execute(insert(Upload).values(
            campaign_id=campaign_id, customer_id=customer_id, source=source, status=status,
            invoice_number=number if status != "unreadable" else None,
            invoice_date=day if status != "unreadable" else None,
            period=f"{day.year - 1911:03d}{day.month + day.month % 2:02d}" if status != "unreadable" else None,
            random_code="1234", photo_path=photo_path, is_draft=is_draft, buyer_ban=buyer_ban,
            uploaded_at=uploaded_at).returning(Upload.id))).scalar_one()


def invoice(number: str, *, day: dt.date = dt.date(2023, 9, 1), total: int = 3000,
            seller: str = "全通路股份有限公司", seller_ban: str = "82910724",
            items: tuple[Item, ...] | None = None) -> VerifiedInvoice:
    if items is None:
        items = (Item("全通路紅茶", Decimal(3), Decimal(1000), Decimal(3000)),)
    return VerifiedInvoice(invoice_number=number, date=day, seller_name=seller,
                           seller_ban=seller_ban, total_amount=total, items=items, status="已確認",
                           period=f"{day.year - 1911:03d}{day.month + day.month % 2:02d}")


async def upload_row(db: Database, upload_id: int) -> Upload:
    async with db.session() as s:
        return (await s.execute(select(Upload).where(Upload.id == upload_id))).scalar_one()

"""The whole chat flow over real HTTP: the service, the LINE simulator and the MOF simulator
each on its own loopback server; a campaign made through the real campaign store."""
from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.campaigns.store import CampaignStore
from bot.config import Config
from bot.simulators.invoice_photos import make_invoice_code, render_photo
from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET, SIMULATOR, create_line_simulator
from bot.simulators.mof import create_mof_simulator
from bot.storage.database import Database
from bot.storage.models import AdminUser, Channel, Trigger, Upload
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from flows.einvoice.model import InvoiceCode
from bot.campaigns.store import Actor

MOF_APP_ID, MOF_KEY = "EINV0000000001", "mof-test-key-0123456789"
LIFF_ID = "1234567890-AbCdEfGh"
KEYWORD = "登錄發票"


class Clock:
    """The LINE simulator's clock (event timestamps), movable by tests."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


@dataclass
class Stack:
    service: Any
    line: Any
    mof: Any
    db: Database
    clock: Clock
    campaign_id: int = 0
    sent_codes: list[InvoiceCode] = field(default_factory=list)

    @property
    def sim(self) -> Any:
        return self.line.app[SIMULATOR]

    @property
    def callback(self) -> str:
        return str(self.service.make_url("/callback"))

    async def deliver(self, *events: dict[str, Any]) -> int:
        return await self.sim.deliver(self.callback, list(events))

    async def say(self, user: str, text: str) -> int:
        return await self.deliver(self.sim.text_event(user, text))

    async def photo(self, user: str, data: bytes) -> int:
        return await self.deliver(self.sim.image_event(user, data))

    async def wait_messages(self, to: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.fetch_messages(to)
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} messages to {to}, got {len(found)}: {found}")
            await asyncio.sleep(0.05)

    async def fetch_messages(self, to: str | None = None) -> list[dict[str, Any]]:
        async with self.line_client.get("/_sim/messages") as resp:
            data = await resp.json()
        return [m for m in data if to is None or m["to"] == to]

    async def seed_mof(self, code: InvoiceCode, *, seller_name: str = "全通路股份有限公司",
                       available_at: dt.datetime | None = None) -> None:
        invoice = {
            "invNum": code.invoice_number, "invDate": code.date.isoformat(), "randomNumber": code.random_code,
            "sellerBan": code.seller_ban, "sellerName": seller_name, "encrypt": code.encrypt,
            "amount": str(code.total_amount),
            "items": [{"description": i.name, "quantity": str(i.quantity), "unitPrice": str(i.unit_price)}
                      for i in code.items],
        }
        if available_at is not None:
            invoice["availableAt"] = available_at.isoformat()
        async with self.mof_client.post("/_sim/invoices", json={"invoices": [invoice]}) as resp:
            assert resp.status == 200, await resp.text()

    async def uploads(self) -> list[Upload]:
        async with self.db.session() as s:
            return list(await s.scalars(select(Upload).order_by(Upload.id)))

    line_client: Any = None
    mof_client: Any = None


def invoice_code(seed: int, total: int | None = None) -> InvoiceCode:
    """A consistent invoice issued yesterday (Taipei), as its QR codes carry it."""
    today = dt.datetime.now(TAIPEI).date()
    code = make_invoice_code(random.Random(seed), items=2, today=today)
    from dataclasses import replace
    from flows.einvoice.roc import period_of

    day = today - dt.timedelta(days=1)
    return replace(code, date=day, period=period_of(day))


def photo_of(code: InvoiceCode, seed: int = 1, form: str = "spec") -> bytes:
    return render_photo(code, seed=seed, size=(1600, 1200), form=form)


def campaign_settings(channel_id: int, *, cap: int | None = None, threshold: int = 1) -> dict[str, Any]:
    now = dt.datetime.now(TAIPEI)
    today = now.date()
    return {
        "name": "冬季發票登錄抽好禮",
        "start_at": (now - dt.timedelta(days=1)).isoformat(),
        "end_at": (now + dt.timedelta(days=30)).isoformat(),
        "rules_url": "https://brand.example.com/rules",
        "channel_id": str(channel_id),
        "image_url": "https://brand.example.com/card.png",
        "conditions": {
            "per_person_cap": cap,
            "issue_dates": {"start": (today - dt.timedelta(days=30)).isoformat(), "end": today.isoformat()},
            "sellers": None,
            "reward_timing": "immediate",
            "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": threshold},
            "reward": {"bot_name": "測試機器人", "module_name": "LINEPOINT", "coupon": {"kind": "code_pool"}},
            "higher_tiers": [],
        },
    }


@pytest.fixture
def make_stack(aiohttp_server, aiohttp_client, database_url, tmp_path) -> Callable[..., Any]:
    async def make(*, cap: int | None = None, coupons: int = 5, publish: bool = True, **config: Any) -> Stack:
        clock = Clock()
        line_app = create_line_simulator(clock=clock)
        line_server = await aiohttp_server(line_app)
        mof_server = await aiohttp_server(create_mof_simulator(app_id=MOF_APP_ID, api_key=MOF_KEY))
        line_url = str(line_server.make_url("")).rstrip("/")
        config = Config(
            database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
            line_channel_secret=SIM_CHANNEL_SECRET, line_channel_access_token=SIM_ACCESS_TOKEN,
            liff_id=LIFF_ID, line_api_base_url=line_url, line_data_api_base_url=line_url,
            mof_api_base_url=str(mof_server.make_url("")).rstrip("/"), mof_app_id=MOF_APP_ID,
            mof_api_key=MOF_KEY, sandbox=False, **config,
        )
        service = await aiohttp_server(create_app(config))
        db = Database(database_url)
        stack = Stack(service=service, line=line_server, mof=mof_server, db=db, clock=clock)
        stack.line_client = await aiohttp_client(line_server)
        stack.mof_client = await aiohttp_client(mof_server)
        stack.campaign_id = await seed_campaign(db, coupons=coupons, coupon_prefix="WINTER-", cap=cap,
                                                publish=publish)
        return stack

    return make


async def seed_campaign(db: Database, *, coupons: int, coupon_prefix: str, cap: int | None = None,
                        publish: bool = True) -> int:
    """A campaign on the default channel (published unless asked), with a keyword trigger and a
    coupon pool of `coupons` codes `<prefix>0000`…, made by admin user `boss`."""
    async with db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        admin = AdminUser(name="boss", role=Role.ADMIN.value)
        s.add(admin)
        await s.flush()
        actor = Actor(admin.id, admin.name, Role.ADMIN)
    store = CampaignStore(db)
    now = dt.datetime.now(dt.timezone.utc)
    view = await store.create(actor, campaign_settings(channel_id, cap=cap), now)
    if coupons:
        csv = "\n".join(f"{coupon_prefix}{i:04d}" for i in range(coupons)).encode()
        await store.import_coupons(actor, view.id, csv, now)
    if publish:
        await store.publish(actor, view.id, now)
    async with db.session() as s, s.begin():
        s.add(Trigger(channel_id=channel_id, campaign_id=view.id, kind="keyword_exact", value=KEYWORD))
    return view.id

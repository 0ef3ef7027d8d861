"""Fixtures for the CRM side of Backme: a migrated database with a donation page, and the
foundation app with the Backme routes served over real HTTP on 127.0.0.1."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot.app import create_app
from bot.backme.emails import EmailSettings, FileBackend
from bot.backme.route import setup_backme
from bot.backme.settings import BackmeSettings
from bot.config import Config
from bot.simulators import backme as sim
from bot.storage.crm_models import DonationPage
from bot.storage.database import Database

SECRET = "page-secret-7f3a"
PAGE_KEY = "demo"
REVERSE_TOKEN = "reverse-token-91c2"


@dataclass
class CrmHarness:
    """The running app, its database and helpers to post like Backme does."""

    db: Database
    base_url: str
    page_id: int
    mail_dir: Path
    http: ClientSession

    @property
    def order_url(self) -> str:
        return f"{self.base_url}/backme/{PAGE_KEY}"

    async def post(self, body: dict | bytes, *, secret: str | None = SECRET, signature: str | None = None,
                   delivery_id: str | None = None, url: str | None = None) -> tuple[int, str]:
        return await sim.post(url or self.order_url, body, secret, signature=signature,
                              delivery_id=delivery_id, session=self.http)

    async def count(self, model: type) -> int:
        async with self.db.session() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()

    async def rows(self, model: type, *where) -> list:  # noqa: ANN002
        async with self.db.session() as session:
            stmt = select(model).where(*where).order_by(model.id) if where else select(model).order_by(model.id)
            return list((await session.execute(stmt)).scalars().all())


async def add_page(db: Database, **overrides: object) -> int:
    values: dict[str, object] = dict(
        key=PAGE_KEY, name="海洋保育募資", backme_secret=SECRET, financial_type="捐款",
        receipt_prefix="OC-", e_receipt_enabled=True, custom_field_mapping={},
        receipt_option_names={}, reverse_sync_enabled=True, reverse_sync_token=REVERSE_TOKEN,
        link_name="挖貝海洋計畫", link_url="https://ocean.backme.tw/projects/1234",
    )
    values.update(overrides)
    async with db.session() as session:
        page = DonationPage(**values)
        session.add(page)
        await session.commit()
        return page.id


async def start_app(aiohttp_server, database_url: str, tmp_path: Path) -> str:  # noqa: ANN001
    """Serve one more app instance (own engine and pool) on the database; its base URL."""
    mail_dir = tmp_path / "mail"
    config = Config(database_url=database_url, run_migrations=False, data_dir=tmp_path)
    app = create_app(config)
    settings = BackmeSettings(email=EmailSettings(directory=mail_dir, backoff_seconds=0.0),
                              stats_poll_seconds=0, run_sender=False)
    setup_backme(app, settings, FileBackend(mail_dir))
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")


async def _harness(database_url: str, tmp_path: Path, aiohttp_server) -> AsyncIterator[CrmHarness]:  # noqa: ANN001
    db = Database(database_url)
    page_id = await add_page(db)
    base_url = await start_app(aiohttp_server, database_url, tmp_path)
    async with ClientSession() as http:
        yield CrmHarness(db, base_url, page_id, tmp_path / "mail", http)
    await db.close()


@pytest.fixture
async def crm(database_url: str, tmp_path: Path, aiohttp_server) -> AsyncIterator[CrmHarness]:  # noqa: ANN001
    async for harness in _harness(database_url, tmp_path, aiohttp_server):
        yield harness


@pytest.fixture
async def pg_crm(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_server) -> AsyncIterator[CrmHarness]:  # noqa: ANN001
    """The harness on PostgreSQL only (real concurrency)."""
    from tests.conftest import make_database_url

    url = make_database_url(request, "postgresql", tmp_path)
    async for harness in _harness(url, tmp_path, aiohttp_server):
        yield harness

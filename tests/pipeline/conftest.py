"""Fixtures for the pipeline tests: the MOF simulator on a real 127.0.0.1 port, rows to
verify, and helpers that read back what the callbacks recorded."""
from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, insert, select

from bot.simulators.mof import create_mof_simulator
from bot.storage.database import Database
from bot.storage.models import AuditEntry, Campaign, Channel, Customer, Upload, VerificationJob, utcnow
from bot.verification import jobs

APP_ID = "EINV2024PIPE0001"
API_KEY = "pipe-" + secrets.token_urlsafe(20)
INVOICE_DATE = dt.date(2024, 3, 5)
PERIOD = "11304"
RANDOM = "1234"
SELLER_BAN = "22555003"
ENCRYPT = "Qk5GQUJDREVGR0hJSktMTU5P"


def number(i: int) -> str:
    return f"AB{i:08d}"


def sim_invoice(i: int, **extra: Any) -> dict[str, Any]:
    """A seed entry matching `upload_row(i)`."""
    return {
        "invNum": number(i),
        "invDate": INVOICE_DATE.isoformat(),
        "randomNumber": RANDOM,
        "sellerBan": SELLER_BAN,
        "sellerName": "統一超商股份有限公司",
        "items": [{"description": "拿鐵咖啡", "quantity": "1", "unitPrice": "65"}],
        **extra,
    }


def base_url(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def mof_server(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(create_mof_simulator(app_id=APP_ID, api_key=API_KEY))


async def sim_post(url: str, path: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.post(url + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def sim_requests(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url + "/_sim/requests") as resp:
        return (await resp.json())["requests"]


async def seed(url: str, *indexes: int, **extra: Any) -> None:
    await sim_post(url, "/_sim/invoices", {"invoices": [sim_invoice(i, **extra) for i in indexes]})


async def owners(db: Database) -> tuple[int, int]:
    """A channel, campaign and customer; returns (campaign_id, customer_id)."""
    async with db.session() as session, session.begin():
        channel = Channel(name=f"ch-{secrets.token_hex(3)}", line_destination="U" + secrets.token_hex(16))
        session.add(channel)
        await session.flush()
        campaign = Campaign(
            channel_id=channel.id, name="發票登錄", rules_url="https://example.com/rules",
            start_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
            end_at=dt.datetime(2024, 12, 31, tzinfo=dt.timezone.utc),
        )
        customer = Customer(channel_id=channel.id, line_user_id="U" + secrets.token_hex(16))
        session.add_all([campaign, customer])
        await session.flush()
        return campaign.id, customer.id


def upload_row(i: int, campaign_id: int, customer_id: int, uploaded_at: dt.datetime, *, qr: bool = False) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id, "customer_id": customer_id,
        "source": "photo" if qr else "manual", "status": "pending",
        "invoice_number": number(i), "invoice_date": INVOICE_DATE, "period": PERIOD,
        "random_code": RANDOM, "seller_ban": SELLER_BAN if qr else None,
        "encrypt": ENCRYPT if qr else None, "uploaded_at": uploaded_at,
    }


async def add_upload(db: Database, i: int, *, uploaded_at: dt.datetime | None = None, qr: bool = False,
                     ids: tuple[int, int] | None = None) -> int:
    """One pending upload with its job, created in one transaction (as the conversation does)."""
    campaign_id, customer_id = ids or await owners(db)
    now = uploaded_at or utcnow()
    async with db.session() as session, session.begin():
        upload = Upload(**upload_row(i, campaign_id, customer_id, now, qr=qr))
        session.add(upload)
        await session.flush()
        await jobs.enqueue(session, upload.id, now)
        return upload.id


async def bulk_uploads(db: Database, indexes: range, *, uploaded_at: dt.datetime, attempts: int,
                       next_attempt_at: dt.datetime) -> list[int]:
    """Many uploads and jobs at once (a backlog), with chosen attempts and due time."""
    campaign_id, customer_id = await owners(db)
    async with db.session() as session, session.begin():
        await session.execute(insert(Upload), [upload_row(i, campaign_id, customer_id, uploaded_at) for i in indexes])
        ids = list((await session.scalars(select(Upload.id).where(Upload.campaign_id == campaign_id))).all())
        await session.execute(insert(VerificationJob), [
            {"upload_id": uid, "state": "queued", "attempts": attempts, "next_attempt_at": next_attempt_at,
             "created_at": uploaded_at, "updated_at": uploaded_at} for uid in ids
        ])
    return ids


async def recorded(db: Database, action: str, upload_id: int | None = None) -> int:
    async with db.session() as session:
        stmt = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        if upload_id is not None:
            stmt = stmt.where(AuditEntry.target == f"upload:{upload_id}")
        return int(await session.scalar(stmt) or 0)


async def job_of(db: Database, upload_id: int) -> VerificationJob:
    async with db.session() as session:
        job = await session.scalar(select(VerificationJob).where(VerificationJob.upload_id == upload_id))
        assert job is not None
        return job


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)

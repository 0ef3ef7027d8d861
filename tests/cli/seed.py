"""Test data for the CLI tests, written straight into a real database: admin users, a channel,
customers, uploads in every status with items, rewards and verification jobs."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, update

from bot.storage.database import Database
from bot.storage.models import AuditEntry, CampaignPhone, Customer, InvoiceItem, Reward, Upload, VerificationJob
from flows.campaigns.dates import TAIPEI
from tests.conftest import run_sync

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
#: Inside every example campaign's time and issue-date window (2026-11-01 … 2027-01-31).
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=TAIPEI)
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "t" * 40


def setup_team(cli) -> None:  # noqa: ANN001
    """boss (管理員), mia (行銷人員), sam (銷售人員) and the channel 品牌官方帳號."""
    assert cli("users", "add", "boss", "--role", "admin").exit_code == 0
    assert cli("--as", "boss", "users", "add", "mia", "--role", "行銷人員").exit_code == 0
    assert cli("--as", "boss", "users", "add", "sam", "--role", "sales_agent").exit_code == 0
    made = cli("--as", "boss", "channels", "add", "品牌官方帳號", "--basic-id", "@brand123",
               "--liff-id", "1234567890-AbCdEfGh",
               env={"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN})
    assert made.exit_code == 0, made.output


def _run(database_url: str, work):  # noqa: ANN001, ANN202
    async def go():  # noqa: ANN202
        db = Database(database_url)
        try:
            async with db.session() as s, s.begin():
                return await work(s)
        finally:
            await db.close()

    return run_sync(go())


def add_uploads(database_url: str, campaign_id: int, rows: list[tuple[str, str, str]]) -> list[int]:
    """Uploads (line user, invoice number, status code) with one item each; returns their ids."""
    async def work(s):  # noqa: ANN001, ANN202
        channel_id = (await s.execute(select(Customer.channel_id).limit(1))).scalar() or 1
        ids = []
        customers: dict[str, int] = {}
        for i, (user, number, status) in enumerate(rows):
            if user not in customers:
                customers[user] = (await s.execute(insert(Customer).values(
                    channel_id=channel_id, line_user_id=user, display_name=f"顧客{user[-2:]}")
                    .returning(Customer.id))).scalar_one()
                await s.execute(insert(CampaignPhone).values(  # given with consent on the manual page
                    campaign_id=campaign_id, customer_id=customers[user], phone="886912345678",
                    consent_at=NOW, created_at=NOW))
            readable = status != "unreadable"
            upload_id = (await s.execute(insert(Upload).values(
                campaign_id=campaign_id, customer_id=customers[user], source="manual", status=status,
                invoice_number=number if readable else None,
                invoice_date=dt.date(2026, 11, 5) if readable else None,
                period="11512" if readable else None, random_code="1234", seller_name="全通路股份有限公司",
                seller_ban="82910724", total_amount=1000,
                photo_path=f"photos/{campaign_id}/{i}.img",
                uploaded_at=NOW - dt.timedelta(minutes=len(rows) - i)).returning(Upload.id))).scalar_one()
            if readable:
                await s.execute(insert(InvoiceItem).values(
                    upload_id=upload_id, row_num=1, name="全通路紅茶", quantity=Decimal(2),
                    unit_price=Decimal(500), amount=Decimal(1000)))
            ids.append(upload_id)
        return ids

    return _run(database_url, work)


def set_code_notes(database_url: str, upload_id: int, notes: list[dict[str, str]]) -> None:
    """Give an upload the notes a code reader left (uploads.code_notes)."""
    async def work(s):  # noqa: ANN001, ANN202
        await s.execute(update(Upload).where(Upload.id == upload_id).values(code_notes=notes))

    _run(database_url, work)


def add_waiting_reward(database_url: str, campaign_id: int, upload_id: int) -> int:
    async def work(s):  # noqa: ANN001, ANN202
        return (await s.execute(insert(Reward).values(
            upload_id=upload_id, campaign_id=campaign_id, tier=1, bot_name="品牌小幫手",
            module_name="百元折價券", state="waiting", created_at=NOW).returning(Reward.id))).scalar_one()

    return _run(database_url, work)


def add_job(database_url: str, upload_id: int, state: str, error: str | None = None) -> int:
    async def work(s):  # noqa: ANN001, ANN202
        return (await s.execute(insert(VerificationJob).values(
            upload_id=upload_id, state=state, attempts=3, last_error=error, next_attempt_at=NOW,
            created_at=NOW, updated_at=NOW).returning(VerificationJob.id))).scalar_one()

    return _run(database_url, work)


def fetch(database_url: str, model, *where):  # noqa: ANN001, ANN201
    async def work(s):  # noqa: ANN001, ANN202
        return list((await s.execute(select(model).where(*where))).scalars())

    return _run(database_url, work)


def audit_actions(database_url: str) -> list[str]:
    return [entry.action for entry in fetch(database_url, AuditEntry)]

"""The durable email outbox: sent once through the file backend, retried with backoff after
failures, reclaimed after a dead sender's lease, never sent twice by concurrent senders."""
from __future__ import annotations

import asyncio
import datetime as dt
import email
from email.message import EmailMessage
from email.policy import default as default_policy

from sqlalchemy import update

from bot.backme.emails import EmailSettings, FileBackend, backoff, send_due
from bot.simulators import backme as sim
from bot.storage.crm_models import DonationPage, EmailOutbox
from bot.storage.models import utcnow

SETTINGS = EmailSettings(backoff_seconds=10.0, backoff_max_seconds=100.0, max_attempts=3, lease_seconds=60)


class CountingBackend(FileBackend):
    """The file backend, counting sends and failing the first ``failures`` of them."""

    def __init__(self, directory, failures: int = 0) -> None:  # noqa: ANN001
        super().__init__(directory)
        self.failures = failures
        self.calls: list[str] = []

    async def send(self, message: EmailMessage, dedupe_key: str) -> None:
        self.calls.append(dedupe_key)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("smtp down")
        await super().send(message, dedupe_key)


async def test_confirmation_and_receipt_sent_once_to_files(crm):
    body = sim.single_credit_success("REGM", receipt=sim.make_receipt("單次寄送電子收據", email="r@example.org"))
    await crm.post(body)
    await crm.post(body)  # a redelivery queues nothing more
    backend = CountingBackend(crm.mail_dir)
    assert await send_due(crm.db, backend, SETTINGS) == 2
    assert await send_due(crm.db, backend, SETTINGS) == 0
    assert len(backend.calls) == 2
    files = sorted(crm.mail_dir.glob("*.eml"))
    assert len(files) == 2
    messages = {m["Subject"]: m for m in (email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files)}
    receipt = messages["【海洋保育募資】捐款收據 OC-000001"]
    assert receipt["To"] == "r@example.org"
    assert "收據編號:OC-000001" in receipt.get_content()
    assert "費用類型:捐款" in receipt.get_content()
    confirmation = messages["【海洋保育募資】付款成功確認信"]
    assert "REGM" in confirmation.get_content() and "NT$ 500" in confirmation.get_content()
    assert {o.state for o in await crm.rows(EmailOutbox)} == {"sent"}


async def test_page_template_is_used(crm):
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(
            confirmation_subject="謝謝 {{ donor_name }}", confirmation_template="{{ amount }} 元已收到,編號 {{ trade_no }}"))
        await session.commit()
    await crm.post(sim.single_credit_success("REGT"))
    [row] = await crm.rows(EmailOutbox)
    assert row.subject == "謝謝 王小明"
    assert row.body == "500 元已收到,編號 REGT"


async def test_failures_retry_with_backoff_then_send_once(crm):
    await crm.post(sim.single_credit_success("REGR"))
    backend = CountingBackend(crm.mail_dir, failures=1)
    start = utcnow()
    assert await send_due(crm.db, backend, SETTINGS, now=start) == 0
    [row] = await crm.rows(EmailOutbox)
    assert (row.state, row.attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in row.last_error
    assert row.not_before >= start + dt.timedelta(seconds=8)  # 10 s − 20 % jitter (bot.leases)
    assert await send_due(crm.db, backend, SETTINGS, now=start) == 0  # not due yet
    assert await send_due(crm.db, backend, SETTINGS, now=start + dt.timedelta(seconds=13)) == 1  # 10 s + 20 %
    [row] = await crm.rows(EmailOutbox)
    assert (row.state, row.attempts) == ("sent", 2)
    assert len(list(crm.mail_dir.glob("*.eml"))) == 1


async def test_gives_up_after_max_attempts(crm):
    await crm.post(sim.single_credit_success("REGX"))
    backend = CountingBackend(crm.mail_dir, failures=10)
    later = utcnow()
    for _ in range(5):
        later += dt.timedelta(hours=1)
        await send_due(crm.db, backend, SETTINGS, now=later)
    [row] = await crm.rows(EmailOutbox)
    assert (row.state, row.attempts) == ("failed", 3)
    assert len(backend.calls) == 3


def test_backoff_doubles_and_caps():
    for n, base in zip((1, 2, 3, 4, 5), (10, 20, 40, 80, 100)):  # ± 20 % jitter (bot.leases)
        assert base * 0.8 <= backoff(n, SETTINGS).total_seconds() <= base * 1.2


async def test_dead_senders_lease_is_reclaimed_and_file_not_rewritten(crm):
    await crm.post(sim.single_credit_success("REGL"))
    backend = CountingBackend(crm.mail_dir)
    assert await send_due(crm.db, backend, SETTINGS) == 1
    path = next(crm.mail_dir.glob("*.eml"))
    before = path.read_bytes()
    # Simulate a sender that sent, then died before marking the row sent.
    async with crm.db.session() as session:
        await session.execute(update(EmailOutbox).values(state="sending", lease_until=utcnow() - dt.timedelta(seconds=1)))
        await session.commit()
    assert await send_due(crm.db, backend, SETTINGS) == 1
    assert path.read_bytes() == before
    assert len(list(crm.mail_dir.glob("*.eml"))) == 1


async def test_concurrent_senders_send_each_email_once(crm):
    for n in range(6):
        await crm.post(sim.single_credit_success(f"REGP{n}"))
    backend = CountingBackend(crm.mail_dir)
    results = await asyncio.gather(*(send_due(crm.db, backend, SETTINGS) for _ in range(4)))
    assert sum(results) == 6
    assert sorted(backend.calls) == sorted(set(backend.calls))
    assert len(backend.calls) == 6

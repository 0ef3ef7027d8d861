"""Issue 25's acceptance test: one person reaches the service by every path — a photo through the
real webhook and the LINE simulator, manual entry with a phone and a carrier import with a phone
(for a second campaign: issue 28 keeps each phone with its campaign) through the LIFF API, a plain
text, a Backme order — and after forget-me (or the retention purge with the clock past retention)
no table, no file of the photo store and no log line holds their LINE user ID, phone (any form),
name, email, carrier barcode or photo."""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import select, text

from bot.backme.emails import FileBackend
from bot.log import JsonFormatter, pseudonym
from bot.photo_store import LocalPhotoStore
from bot.privacy.forget import forget
from bot.privacy.purge import purge
from bot.simulators import backme as backme_sim
from bot.storage.crm_models import EmailOutbox
from bot.storage.database import Database
from bot.review.appeals import submit_appeal
from bot.storage.models import Base, Campaign, CampaignPhone, CarrierQuery, Customer, ReviewAppeal, Upload, WebhookEvent
from tests.chat.conftest import KEYWORD, LIFF_ID, Stack, invoice_code, make_stack, photo_of  # noqa: F401 - fixture
from tests.chat.test_liff_entries import _carrier_seed, _login_ready, _manual, _post
from tests.chat.test_liff_phones import _second_campaign
from tests.crm.conftest import SECRET, add_page, start_app

USER = "U" + "5e" * 16
LINE_NAME = "林美玲"
BACKME_NAME = "林美玲"  # the same person signs the Backme order with the same name
GIVEN_NAME = "美玲"  # the CRM keeps family and given name apart
EMAIL = "meiling.lin@example.com"
PHONES = ("0912345678", "0912-345-678", "0912-345678", "886912345678", "+886912345678", "912345678")
BARCODE, VERIFICATION = "/ABC+123", "Secret-42"
# The unkeyed log reference of the code before issue 25: anyone knowing the ID could compute it.
OLD_LOG_REFERENCE = "u_" + hashlib.sha256(b"invoice-campaigns/v1" + USER.encode()).hexdigest()[:12]
NEEDLES = (USER, LINE_NAME, BACKME_NAME, GIVEN_NAME, EMAIL, *PHONES, BARCODE, BARCODE[1:], VERIFICATION, OLD_LOG_REFERENCE)
# The CRM (Backme donors, their emails) is not campaign data: the retention purge leaves it;
# forget-me --crm erases it.
CRM_TABLES = frozenset(t.name for t in Base.metadata.sorted_tables if t.name.startswith("crm_"))


class _Captured(logging.Handler):
    """Every log record of the run, formatted as the service writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("bot.simulators"):  # LINE's, MOF's and Backme's side
            self.stream.write(self.format(record) + "\n")


@pytest.fixture
def captured_logs() -> Iterator[_Captured]:
    handler = _Captured()
    root = logging.getLogger()
    level = root.level
    access = logging.getLogger("aiohttp.access")
    access_level = access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the service's default LOG_LEVEL
    access.setLevel(logging.WARNING)  # as bot.log.configure has it
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        access.setLevel(access_level)


async def _wait(predicate, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _inbox_idle(stack: Stack) -> bool:
    async with stack.db.session() as s:
        return not (await s.scalars(select(WebhookEvent.event_id).where(
            WebhookEvent.state.in_(["queued", "running"])))).all()


async def _seed_every_path(stack: Stack, database_url: str, tmp_path: Path, aiohttp_server) -> dict[str, Any]:  # noqa: ANN001
    """The one person through every path; what the test needs to look for afterwards."""
    stack.sim.set_profile(USER, LINE_NAME)
    await _login_ready(stack)
    # 1. The card, then a photo through the webhook.
    photo_code, manual_code = invoice_code(31), invoice_code(32)
    await stack.seed_mof(photo_code)
    await stack.seed_mof(manual_code)
    assert await stack.say(USER, KEYWORD) == 200
    await stack.wait_messages(USER, 1)
    assert await stack.photo(USER, photo_of(photo_code)) == 200
    await stack.wait_messages(USER, 2)
    # 2. Manual entry with a phone, then the page's 發票資訊 text as the user.
    token = stack.sim.issue_id_token(USER)
    status, manual = await _post(stack, "manual", _manual(stack, manual_code, phone="0912-345-678", consent=True),
                                 token)
    assert status == 200, manual
    await stack.say(USER, manual["texts"][0])
    # 3. A carrier import with the phone for another campaign, and its text as the user (it holds the barcode).
    other_campaign = await _second_campaign(stack)
    yesterday = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)
    seed = _carrier_seed(yesterday, ["CA00000031"],  # MOF has no detail yet: the carrier is kept
                         detail_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    async with stack.mof_client.post("/_sim/invoices", json=seed) as r:
        assert r.status == 200
    body = {"liff_id": LIFF_ID, "campaign": str(other_campaign),
            "fields": {"carrier_barcode": BARCODE.lower(), "verification_code": VERIFICATION,
                       "phone": "+886 912 345 678", "consent": True}}
    status, carrier = await _post(stack, "carrier", body, token)
    assert status == 200 and carrier["counts"]["waiting"] == 1, carrier
    assert BARCODE in carrier["texts"][0]
    await stack.say(USER, carrier["texts"][0])
    # 4. A plain text with the phone in it.
    await stack.say(USER, "我的手機 0912345678，有問題請打給我")
    await _wait(lambda: _inbox_idle(stack))
    # 5. A Backme order by the same person (name, email, phone).
    await add_page(stack.db)
    backme_url = await start_app(aiohttp_server, database_url, tmp_path)
    user = backme_sim.make_user(user_id=880123, name=BACKME_NAME, email=EMAIL, cellphone="+886912345678")
    order = backme_sim.single_credit_success("REG2500000000000001", user=user,
                                             recipient=backme_sim.make_recipient(name=BACKME_NAME, email=EMAIL))
    async with ClientSession() as http:
        status, answer = await backme_sim.post(f"{backme_url}/backme/demo", order, SECRET, session=http)
    assert status == 200, answer

    async def mailed() -> bool:  # the service's email sender wrote the confirmation (EMAIL_BACKEND=file)
        async with stack.db.session() as s:
            states = (await s.scalars(select(EmailOutbox.state))).all()
        return bool(states) and set(states) == {"sent"}

    await _wait(mailed, timeout=30.0)
    assert EMAIL.encode() in b"".join(p.read_bytes() for p in (tmp_path / "outbox-mail").glob("*.eml"))
    async with stack.db.session() as s:
        [photo_path] = [u.photo_path for u in await s.scalars(select(Upload).where(Upload.source == "photo"))]
        assert (await s.scalars(select(CarrierQuery))).all()
        phones = (await s.execute(select(CampaignPhone.campaign_id, CampaignPhone.phone))).all()
        [carrier] = (await s.scalars(select(Upload).where(Upload.source == "carrier"))).all()
        assert carrier.carrier_hash and carrier.carrier_mask == "/AB****3"  # the review's carrier signals
    assert sorted(tuple(p) for p in phones) == sorted([(stack.campaign_id, "886912345678"),
                                                       (other_campaign, "886912345678")])
    # 6. An appeal (回報問題) whose note holds the person's phone, email and name (issue 30):
    # the manual upload's result turned down by a reviewer, then appealed from the LIFF page.
    async with stack.db.session() as s, s.begin():
        manual_upload = await s.scalar(select(Upload).where(Upload.source == "manual"))
        manual_upload.status, manual_upload.reason = "not_qualified", "審核未通過：其他"
        customer = await s.get(Customer, manual_upload.customer_id)
        await submit_appeal(s, manual_upload.id, customer, f"我是{LINE_NAME}，請打 0912-345-678 或寄 {EMAIL}",
                            now=dt.datetime.now(dt.timezone.utc))
    photo = (tmp_path / photo_path).read_bytes()
    return {"photo": photo, "campaigns": [stack.campaign_id, other_campaign]}


def _as_text(value: Any) -> str:
    """A column's value as text, JSON also decoded (SQLite keeps `\\u6797`-escaped JSON text)."""
    shown = str(value)
    if isinstance(value, str) and value[:1] in "{[\"":
        try:
            shown += " " + json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            pass
    elif isinstance(value, (dict, list)):
        shown += " " + json.dumps(value, ensure_ascii=False)
    return shown


async def _dump(db: Database, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every row of every table as text (a raw SELECT *), table by table."""
    dumped: dict[str, str] = {}
    async with db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = (await s.execute(text(f'SELECT * FROM "{table.name}"'))).all()
            dumped[table.name] = "\n".join(" | ".join(_as_text(v) for v in row) for row in rows)
    assert set(dumped) | skip >= {"customers", "webhook_events", "outgoing_messages", "state_entries"}
    return dumped


def _found(haystack: str, needles: tuple[str, ...]) -> list[str]:
    return [n for n in needles if n in haystack]


def _files_holding(root: Path, needles: tuple[str, ...], photo: bytes, skip: str | None = None) -> list[str]:
    """Files under the data directory (the local photo store, the mail directory…) holding a
    needle or the photo; the database files are the database's own business."""
    probe = photo[len(photo) // 2:len(photo) // 2 + 256]
    hits = []
    for path in root.rglob("*"):
        if not path.is_file() or ".db" in path.name or ".sqlite" in path.name:
            continue
        if skip is not None and path.is_relative_to(root / skip):
            continue
        data = path.read_bytes()
        if probe in data or any(n.encode() in data for n in needles):
            hits.append(str(path.relative_to(root)))
    return hits


def _traces(dumped: dict[str, str], needles: tuple[str, ...]) -> dict[str, list[str]]:
    return {table: found for table, rows in dumped.items() if (found := _found(rows, needles))}


async def test_forget_me_leaves_no_trace_anywhere(make_stack, database_url, tmp_path, aiohttp_server,  # noqa: F811
                                                  captured_logs) -> None:
    stack = await make_stack()
    seeded = await _seed_every_path(stack, database_url, tmp_path, aiohttp_server)
    before = _traces(await _dump(stack.db), NEEDLES)
    assert {"customers", "campaign_phones", "webhook_events", "crm_contacts", "crm_phones",
            ReviewAppeal.__tablename__} <= set(before)  # the needles are real
    # At rest the carrier barcode is sealed and hashed: only the user's own text (the inbox event,
    # kept INBOX_RETENTION_DAYS) holds it, not carrier_queries nor the held LIFF answer.
    assert sorted(t for t, found in before.items() if BARCODE in found) == ["webhook_events"]
    async with stack.db.session() as s, s.begin():
        report = await forget(s, USER, dt.datetime.now(dt.timezone.utc), files=LocalPhotoStore(tmp_path), crm=True,
                              mail=FileBackend(tmp_path / "outbox-mail"))  # the default EMAIL_BACKEND
    assert report.erased.photo_files == 1 and report.erased.events >= 5 and report.erased.crm_contacts >= 1
    assert report.erased.mail_files == 1
    dumped = await _dump(stack.db)
    assert _traces(dumped, NEEDLES) == {}  # (no receipt was issued: an issued one keeps its title)
    assert _files_holding(tmp_path, NEEDLES, seeded["photo"]) == []
    logs = captured_logs.stream.getvalue()
    assert pseudonym(USER) in logs  # the user's lines were captured: under the keyed reference
    assert _found(logs, NEEDLES) == []
    # The inbox still drops a redelivery of an event it had (its row is kept without its data).
    async with stack.db.session() as s:
        kept = (await s.scalars(select(WebhookEvent.event_id))).all()
    assert kept and await stack.deliver({**stack.sim.text_event(USER, "again"), "webhookEventId": kept[0]}) == 200
    await _wait(lambda: _inbox_idle(stack))
    async with stack.db.session() as s:
        row = await s.get(WebhookEvent, kept[0])
        assert (row.payload, row.user_key) == (None, None)
        assert len((await s.scalars(select(WebhookEvent.event_id))).all()) == len(kept)


async def test_the_retention_purge_leaves_no_trace_outside_the_crm(make_stack, database_url, tmp_path,  # noqa: F811
                                                                   aiohttp_server, captured_logs) -> None:
    stack = await make_stack()
    seeded = await _seed_every_path(stack, database_url, tmp_path, aiohttp_server)
    async with stack.db.session() as s:
        end_at = max([(await s.get(Campaign, c)).end_at for c in seeded["campaigns"]])
    later = end_at + dt.timedelta(days=181)  # the clock moved past both campaigns' retention
    async with stack.db.session() as s, s.begin():
        report = await purge(s, later, files=LocalPhotoStore(tmp_path))
    assert report.erased.photo_files == 1 and report.inbox_events >= 5
    traces = _traces(await _dump(stack.db, skip=CRM_TABLES), NEEDLES)
    assert traces == {}
    assert _files_holding(tmp_path, NEEDLES, seeded["photo"], skip="outbox-mail") == []  # the CRM's emails
    assert _found(captured_logs.stream.getvalue(), NEEDLES) == []

"""Through the real webhook, MOF and LINE simulators: with the hold on, a passing photo gets the
審核中 text; the same photo (framing) sent by another user with another invoice is flagged with
its evidence; a reviewer approves one (the user gets 符合資格 and the coupon) and rejects the
other (the user gets the reason). The statistics and the 審核名單 export show the held state."""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select, update

from bot.campaigns.exports import REVIEW_COLUMNS, ExportFormat, ExportKind, export
from bot.campaigns.stats import campaign_stats
from bot.campaigns.store import Actor
from bot.review import service
from bot.storage.models import AdminUser, Campaign, Upload, UploadSignal
from flows.campaigns.roles import Role
from flows.review.signals import SignalKind
from tests.chat.conftest import KEYWORD, invoice_code, make_stack, photo_of  # noqa: F401 - fixture
from tests.chat.test_chat_flow import _all_text

ALICE, BOB = "U" + "a" * 32, "U" + "b" * 32


async def _hold_on(stack) -> None:
    async with stack.db.session() as s, s.begin():
        campaign = await s.get(Campaign, stack.campaign_id)
        await s.execute(update(Campaign).where(Campaign.id == campaign.id).values(
            settings={**campaign.settings, "review": {"hold_enabled": True, "hold_days": 7}}))


async def _send(stack, user, code, seed):
    await stack.seed_mof(code)
    assert await stack.say(user, KEYWORD) == 200
    await stack.wait_messages(user, 1)
    assert await stack.photo(user, photo_of(code, seed=seed)) == 200
    return await stack.wait_messages(user, 2)


async def test_held_flagged_approved_and_rejected_through_the_chat(make_stack):
    stack = await make_stack()
    await _hold_on(stack)
    first, second = invoice_code(41), invoice_code(42)
    sent = await _send(stack, ALICE, first, seed=5)
    assert "審核中" in _all_text(sent[1]["messages"]) and "WINTER-" not in _all_text(sent[1]["messages"])
    await _send(stack, BOB, second, seed=5)  # the same framing: a perceptually identical photo
    async with stack.db.session() as s:
        uploads = {u.invoice_number: u for u in await s.scalars(select(Upload))}
        kinds = (await s.scalars(select(UploadSignal.kind).where(
            UploadSignal.upload_id == uploads[second.invoice_number].id))).all()
        admin = await s.scalar(select(AdminUser).where(AdminUser.name == "boss"))
    assert uploads[first.invoice_number].review_state == "held"
    assert uploads[second.invoice_number].review_state == "flagged" and kinds == [SignalKind.SAME_PHOTO.value]
    actor = Actor(admin.id, admin.name, Role.ADMIN)
    async with stack.db.session() as s:
        numbers = await campaign_stats(s, stack.campaign_id)
    assert (numbers.passed.count, numbers.held, numbers.awaiting_review) == (2, 1, 1)

    now = dt.datetime.now(dt.timezone.utc)
    async with stack.db.session() as s, s.begin():
        await service.approve(s, uploads[second.invoice_number].id, actor=actor, now=now)
        await service.reject(s, uploads[first.invoice_number].id, "其他", "照片模糊", actor=actor, now=now)
    bob = await stack.wait_messages(BOB, 3)
    assert "WINTER-" in _all_text(bob[2]["messages"]) and bob[2]["kind"] == "push"
    alice = await stack.wait_messages(ALICE, 3)
    assert _all_text(alice[2]["messages"]).startswith("很抱歉，您登錄的發票")
    assert "原因：其他\n說明：照片模糊" in _all_text(alice[2]["messages"])

    out = io.BytesIO()
    async with stack.db.session() as s:
        rows = await export(s, stack.campaign_id, ExportKind.REVIEW, ExportFormat.CSV, out, actor=actor)
    lines = out.getvalue().decode("utf-8-sig").splitlines()
    assert rows == 2 and lines[0] == ",".join(REVIEW_COLUMNS)
    assert "已退件" in lines[1] and "退件" in lines[1] and "照片模糊" in lines[1]
    assert "已核准" in lines[2] and "相同照片" in lines[2] and "boss" in lines[2]

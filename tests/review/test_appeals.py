"""Appeals (回報問題): the button on a not-qualified result, the service's checks and limit, the
upload in the queue with the note, and the user told when it is decided (correct + approve, or
reject). On SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from bot.chat import answers
from bot.chat.speakers import speaker_for
from bot.review import service
from bot.review.appeals import AppealRefused, submit_appeal
from bot.storage.models import Customer, OutgoingMessage, Upload
from flows.campaigns.rules import UploadStatus
from flows.messages.buttons import BUBBLE_MAX_BYTES, with_appeal_button
from flows.review.states import ReviewState
from tests.campaign_store.data import DURING

LATER = DURING + dt.timedelta(hours=1)


async def _appeal(world, upload_id, customer_id, note="金額看錯了，實際是 3000 元"):
    async with world.db.session() as s, s.begin():
        customer = await s.get(Customer, customer_id)
        return await submit_appeal(s, upload_id, customer, note, now=LATER)


async def test_the_not_qualified_answer_carries_the_button(world):
    cid = await world.campaign(threshold=5000)
    upload_id, result = await world.settled(cid, world.amy, "AB60000001")
    assert result.status is UploadStatus.NOT_QUALIFIED
    async with world.db.session() as s:
        upload = await s.get(Upload, upload_id)
        speaker = await speaker_for(s, cid, await s.get(Customer, world.amy), None)
        [bubble] = await answers.for_upload(s, speaker, upload)
    buttons = [c["action"] for c in bubble["contents"]["footer"]["contents"]]
    assert [b["label"] for b in buttons] == ["拍照上傳", "手動上傳", "電子載具", "回報問題"]
    assert buttons[-1]["uri"] == (f"https://liff.line.me/1234567890-AbCdEfGh/appeal?campaign={cid}"
                                  f"&upload={upload_id}")
    big = {"type": "flex", "altText": "x", "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "字" * (BUBBLE_MAX_BYTES // 3)}]}}}
    assert with_appeal_button(big, "https://e.x/a") is big  # would outgrow LINE's limit: left as is
    text = {"type": "text", "text": "很抱歉"}
    assert with_appeal_button(text, "https://e.x/a") is text


async def test_an_appeal_reaches_the_queue_and_a_correction_then_approval_answers_it(world):
    cid = await world.campaign(threshold=1000)
    upload_id, _ = await world.settled(cid, world.amy, "AB60000002", total=300)
    result = await _appeal(world, upload_id, world.amy)
    assert result.remaining == 2
    async with world.db.session() as s:
        page = await service.queue(s, actor=world.agent, now=LATER)
    [row] = page.rows
    assert (row.upload_id, row.review_state, row.appeal_note) == (upload_id, ReviewState.APPEALED,
                                                                  "金額看錯了，實際是 3000 元")
    async with world.db.session() as s, s.begin():
        corrected = await service.correct(s, upload_id, {"total_amount": 3000}, actor=world.manager, now=LATER)
        assert corrected.status is UploadStatus.PASSED
        await service.approve(s, upload_id, actor=world.manager, now=LATER)
    async with world.db.session() as s:
        [message] = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.upload_id == upload_id))).all()
        detail = await service.detail(s, upload_id, actor=world.agent)
    assert "符合" in str(message.messages) and detail.appeal_note.startswith("金額看錯了")


async def test_a_rejected_appeal_tells_the_user_the_result_stands(world):
    cid = await world.campaign(threshold=1000)
    upload_id, _ = await world.settled(cid, world.amy, "AB60000003", total=300)
    await _appeal(world, upload_id, world.amy)
    async with world.db.session() as s, s.begin():
        done = await service.reject(s, upload_id, "發票資料不符", actor=world.marketer, now=LATER)
    assert done.status is UploadStatus.NOT_QUALIFIED
    async with world.db.session() as s:
        [message] = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.upload_id == upload_id))).all()
        upload = await s.get(Upload, upload_id)
    assert message.messages["messages"][0]["text"].startswith(
        "您對發票 AB-60000003 的問題回報已處理完成，經審核維持原結果。\n原因：發票資料不符")
    assert upload.reason.startswith("消費") or "未達" in upload.reason  # the rules' reason stays


async def test_the_checks_and_the_limit(world):
    cid = await world.campaign(threshold=1000, review={"appeals_per_user": 1})
    first, _ = await world.settled(cid, world.amy, "AB60000004", total=300)
    second, _ = await world.settled(cid, world.amy, "AB60000005", total=300)
    passed, _ = await world.settled(cid, world.bob, "AB60000006", total=3000)
    with pytest.raises(AppealRefused) as info:
        await _appeal(world, first, world.bob)  # not Bob's
    assert info.value.field == "upload"
    with pytest.raises(AppealRefused, match="不符合資格"):
        await _appeal(world, passed, world.bob)
    for note in ("", "   ", "x" * 501, "a\x00b"):
        with pytest.raises(AppealRefused) as info:
            await _appeal(world, first, world.amy, note)
        assert info.value.field == "note"
    await _appeal(world, first, world.amy)
    with pytest.raises(AppealRefused, match="已經回報過"):
        await _appeal(world, first, world.amy)
    with pytest.raises(AppealRefused) as info:
        await _appeal(world, second, world.amy)
    assert info.value.field == "limit"


async def test_the_limit_is_exact_when_two_appeals_race(world):
    cid = await world.campaign(threshold=1000, review={"appeals_per_user": 1})
    first, _ = await world.settled(cid, world.amy, "AB60000007", total=300)
    second, _ = await world.settled(cid, world.amy, "AB60000008", total=300)

    async def attempt(upload_id):
        try:
            return await _appeal(world, upload_id, world.amy)
        except AppealRefused as exc:
            return exc

    results = await asyncio.gather(attempt(first), attempt(second))
    assert sum(isinstance(r, AppealRefused) for r in results) == 1

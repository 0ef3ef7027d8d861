"""The LIFF appeal endpoints (回報問題, issue 30) over real HTTP against the LINE simulator's
verify: the token checked as on the other pages, the upload only the token's user's and only in
the page's campaign, the note's limits, one appeal per upload, the per-user limit with a clear
message, hostile bodies refused with a reason; an accepted appeal is in the review queue."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update

from bot.campaigns.settle import mark_unsupported
from bot.storage.models import Campaign, Channel, ReviewAppeal, Upload
from tests.campaign_store.data import add_customer, add_upload
from tests.chat.conftest import LIFF_ID, Stack
from tests.chat.test_liff_entries import stack  # noqa: F401 - `stack`: the LIFF-ready fixture

USER, OTHER = "U" + "a1" * 16, "U" + "b2" * 16


async def _post(stack: Stack, path: str, body: object, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    client = stack.line_client.session
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with client.post(stack.service.make_url(f"/liff/api/{path}"), data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


async def _refused(stack: Stack, customer: int, number: str) -> int:
    """A 資格不符 upload of `customer` in the stack's campaign."""
    now = dt.datetime.now(dt.timezone.utc)
    upload_id = await add_upload(stack.db, stack.campaign_id, customer, number, uploaded_at=now, day=now.date())
    async with stack.db.session() as s, s.begin():
        await mark_unsupported(s, upload_id, "統編發票不在活動範圍", now)
    return upload_id


async def _customers(stack: Stack) -> tuple[int, int]:
    async with stack.db.session() as s:
        channel = await s.scalar(select(Channel.id).where(Channel.name == "default"))
    return (await add_customer(stack.db, channel, USER, "Amy"), await add_customer(stack.db, channel, OTHER, "Bob"))


def _body(stack: Stack, upload: object, **extra: object) -> dict:
    return {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id), "upload": upload, **extra}


async def test_the_page_shows_the_upload_then_the_appeal_reaches_the_queue(stack: Stack) -> None:
    amy, _bob = await _customers(stack)
    upload_id = await _refused(stack, amy, "AP00000001")
    token = stack.sim.issue_id_token(USER)
    status, info = await _post(stack, "appeal/upload", _body(stack, str(upload_id)), token)
    assert status == 200
    assert (info["invoice_number"], info["result"], info["reason"], info["appealed"], info["note_max"]) == (
        "AP-00000001", "資格不符", "統編發票不在活動範圍", False, 500)
    status, done = await _post(stack, "appeal", _body(stack, upload_id, note="  我沒有打統編  "), token)
    assert (status, done) == (200, {"state": "accepted", "remaining": 2})
    async with stack.db.session() as s:
        upload = await s.get(Upload, upload_id)
        appeal = await s.scalar(select(ReviewAppeal).where(ReviewAppeal.upload_id == upload_id))
    assert upload.review_state == "appealed" and appeal.note == "我沒有打統編"
    status, info = await _post(stack, "appeal/upload", _body(stack, upload_id), token)
    assert status == 200 and info["appealed"] is True
    status, again = await _post(stack, "appeal", _body(stack, upload_id, note="再一次"), token)
    assert (status, again["error"], again["message"]) == (409, "upload", "這筆發票已經回報過問題，請等候審核結果")


async def test_only_the_token_users_upload_in_the_pages_campaign(stack: Stack) -> None:
    amy, bob = await _customers(stack)
    bobs = await _refused(stack, bob, "AP00000002")
    token = stack.sim.issue_id_token(USER)
    for path in ("appeal/upload", "appeal"):
        status, answer = await _post(stack, path, _body(stack, bobs, note="不是我的"), token)
        assert (status, answer["error"], answer["message"]) == (404, "upload", "找不到這筆發票登錄")
        for odd in (None, "", "²", -1, True, [bobs], "9" * 19, 987654321):
            status, answer = await _post(stack, path, _body(stack, odd, note="x"), token)
            assert (status, answer["error"]) == (404, "upload"), (path, odd, answer)
        status, answer = await _post(stack, path, {**_body(stack, bobs, note="x"), "campaign": "987654"}, token)
        assert (status, answer["error"]) == (404, "gone")
        status, answer = await _post(stack, path, _body(stack, bobs, note="x"), None)
        assert status == 401
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert (await _post(stack, path, _body(stack, bobs, note="x"), forged))[0] == 401
        assert (await _post(stack, path, b"[" * 2000 + b"]" * 2000, token))[0] == 400
    async with stack.db.session() as s:
        assert (await s.get(Upload, bobs)).review_state is None


async def test_the_note_and_what_may_be_appealed(stack: Stack) -> None:
    amy, _bob = await _customers(stack)
    upload_id = await _refused(stack, amy, "AP00000003")
    token = stack.sim.issue_id_token(USER)
    for note, message in (("", "請簡單說明遇到的問題"), ("   ", "請簡單說明遇到的問題"), (12, "請簡單說明遇到的問題"),
                          ("字" * 501, "說明最多 500 個字"), ("壞\x07字元", "說明含有無法顯示的字元")):
        status, answer = await _post(stack, "appeal", _body(stack, upload_id, note=note), token)
        assert (status, answer["error"], answer["errors"]) == (422, "fields", {"note": message}), note
    now = dt.datetime.now(dt.timezone.utc)
    pending = await add_upload(stack.db, stack.campaign_id, amy, "AP00000004", uploaded_at=now, day=now.date())
    status, answer = await _post(stack, "appeal", _body(stack, pending, note="還在驗證"), token)
    assert (status, answer["error"]) == (409, "upload") and "只有「不符合資格」" in answer["message"]


async def test_the_limit_per_user_and_campaign_is_a_clear_message(stack: Stack) -> None:
    async with stack.db.session() as s, s.begin():
        campaign = await s.get(Campaign, stack.campaign_id)
        await s.execute(update(Campaign).where(Campaign.id == campaign.id).values(
            settings={**campaign.settings, "review": {"appeals_per_user": 1}}))
    amy, _bob = await _customers(stack)
    first, second = await _refused(stack, amy, "AP00000005"), await _refused(stack, amy, "AP00000006")
    token = stack.sim.issue_id_token(USER)
    assert (await _post(stack, "appeal", _body(stack, first, note="金額錯了"), token)) == (
        200, {"state": "accepted", "remaining": 0})
    status, answer = await _post(stack, "appeal", _body(stack, second, note="這張也是"), token)
    assert (status, answer["error"], answer["message"]) == (409, "limit", "每位參加者在本活動最多可回報 1 次問題")


async def test_the_appeal_page_is_served(stack: Stack) -> None:
    client = stack.line_client.session
    async with client.get(stack.service.make_url("/liff/appeal"),
                          params={"campaign": str(stack.campaign_id), "upload": "12"}) as resp:
        html = await resp.text()
        assert resp.status == 200 and 'data-page="appeal"' in html and 'maxlength="500"' in html
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"] and "<script>" not in html

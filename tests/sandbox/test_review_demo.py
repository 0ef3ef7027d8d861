"""Issue 30's "done when", in the sandbox as a new user would try it (docs/console.md, 審核佇列):
in the review demo campaign (審核示範), a photo registered by two users and a carrier shared by
four are flagged with their evidence; the sandbox admin corrects and approves the first in the
console and rejects the second; both users get their answers; a shopper's appeal from the
回報問題 button reaches the queue. Everything goes through the running service's own routes:
the chat API (signed webhooks), the LIFF API with simulator ID tokens, the console over HTTP."""
from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from bot.sandbox_chat.demo import REVIEW_KEYWORD, REVIEW_NAME
from bot.simulators.mof import DEMO_CARRIER
from bot.storage.database import Database
from bot.storage.models import Campaign, Upload
from tests.console.conftest import login_csrf
from tests.sandbox.conftest import Sandbox, appeal_uri, new_user, texts_of


async def _said(sb: Sandbox, user: str, count: int) -> str:
    """Everything said to `user` once `count` messages arrived."""
    return "\n".join(t for m in await sb.wait_messages(user, count) for t in texts_of(m["messages"]))


async def _told(sb: Sandbox, user: str, part: str, timeout: float = 20.0) -> str:
    """The first message to `user` saying `part` (waiting for it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for message in await sb.messages(user):
            text = "\n".join(texts_of(message["messages"]))
            if part in text:
                return text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{user} was never told {part!r}: {await sb.messages(user)}")
        await asyncio.sleep(0.1)


async def _liff(sb: Sandbox, path: str, user: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A LIFF page's call with the user's simulator ID token; the texts it returns are then said
    as the user, as the page does (liff.sendMessages), so the held answer is replied."""
    status, token = await sb.post("/sandbox/line/_sim/id_tokens", {"userId": user})
    assert status == 200
    async with sb.client.post(f"/liff/api/{path}", json={"liff_id": "sandbox", **body},
                              headers={"Authorization": f"Bearer {token['idToken']}"}) as resp:
        answer = await resp.json()
    for text in answer.get("texts", []) if resp.status == 200 else []:
        assert (await sb.post("/sandbox/api/say", {"user": user, "text": text}))[0] == 200
    return resp.status, answer


async def _decide(sb: Sandbox, upload_id: int, action: str, data: dict[str, str] | None = None) -> Any:
    """Submit one of the upload page's forms (its CSRF token from the page, as a browser would)."""
    page = await (await sb.client.get(f"/console/review/{upload_id}")).text()
    return await sb.client.post(f"/console/review/{upload_id}/{action}",
                                data={"csrf_token": login_csrf(page), **(data or {})}, allow_redirects=False)


async def test_the_review_demo_end_to_end(start_sandbox, database_url):
    sb = await start_sandbox()
    assert (await sb.post("/sandbox/api/clock", {"until": "08:01"}))[0] == 200  # pushes wait 00:00–08:00
    db = Database(database_url)
    try:
        async with db.session() as s:
            cid = await s.scalar(select(Campaign.id).where(Campaign.name == REVIEW_NAME))

        # 1. The same photo by two users: Amy's pass is held (審核中); Bob's look-alike is flagged.
        amy, bob = new_user(), new_user()
        for user, sample in ((amy, {"kind": "eligible"}), (bob, {"kind": "eligible", "like_last": True})):
            assert (await sb.post("/sandbox/api/say", {"user": user, "text": REVIEW_KEYWORD}))[0] == 200
            status, sent = await sb.post("/sandbox/api/sample-photo", {"user": user, **sample})
            assert status == 200, sent
            assert "正在審核中" in await _said(sb, user, 2)
        # 2. One carrier imported by four users: the fourth one's new invoice is flagged.
        card = {"carrier_barcode": DEMO_CARRIER[0], "verification_code": DEMO_CARRIER[1]}
        sharers = [new_user() for _ in range(4)]
        for user in sharers[:3]:
            status, answer = await _liff(sb, "carrier", user, {"campaign": str(cid), "fields": card})
            assert status == 200, answer
        status, added = await sb.post("/sandbox/api/carrier-invoice", {})  # the page's 載具新增發票
        assert status == 200, added
        status, answer = await _liff(sb, "carrier", sharers[3], {"campaign": str(cid), "fields": card})
        assert status == 200 and answer["counts"]["new"] == 1, answer
        async with db.session() as s:
            uploads = {u.customer_id: u for u in await s.scalars(select(Upload).where(Upload.campaign_id == cid))}
            photo_copy = await s.scalar(select(Upload).where(Upload.campaign_id == cid, Upload.review_state == "flagged",
                                                             Upload.source == "photo"))
            carrier = await s.scalar(select(Upload).where(Upload.invoice_number == added["invoice_number"]))
        assert photo_copy is not None and carrier.review_state == "flagged" and uploads

        # 3. The sandbox admin signs in with one click and works the queue.
        page = await (await sb.client.get("/console/login")).text()
        assert (await sb.client.post("/console/sandbox-login", data={"csrf_token": login_csrf(page)},
                                     allow_redirects=False)).status == 303
        queue = await (await sb.client.get(f"/console/review?campaign={cid}")).text()
        assert re.findall(r'<tr data-upload="(\d+)"', queue) == [str(photo_copy.id), str(carrier.id)]
        detail = await (await sb.client.get(f"/console/review/{photo_copy.id}")).text()
        assert "這張照片與另外 1 位使用者上傳的照片幾乎相同" in detail
        fixed = await _decide(sb, photo_copy.id, "correct", {"seller_name": "示範咖啡館（更正）"})
        assert fixed.status == 303, await fixed.text()
        approved = await _decide(sb, photo_copy.id, "approve")
        assert approved.status == 303, await approved.text()
        detail = await (await sb.client.get(f"/console/review/{carrier.id}")).text()
        assert "載具 /DE****1 由 4 位 LINE 使用者使用（上限 3 位）" in detail
        rejected = await _decide(sb, carrier.id, "reject", {"reason": "共用載具", "free_text": "同一載具由多人使用"})
        assert rejected.status == 303, await rejected.text()

        # 4. The users get their answers: the coupon for the approved one, the reason for the other.
        assert "恭喜符合活動資格" in await _told(sb, bob, "優惠券序號：DEMO-")
        assert "說明：同一載具由多人使用" in await _told(sb, sharers[3], "原因：共用載具")

        # 5. A shopper's appeal from the 回報問題 button reaches the queue.
        carol = new_user()
        await sb.post("/sandbox/api/say", {"user": carol, "text": REVIEW_KEYWORD})
        await sb.post("/sandbox/api/sample-photo", {"user": carol, "kind": "low"})
        answers = await sb.wait_messages(carol, 2)
        uri = next(u for m in answers if (u := appeal_uri(m["messages"])))
        upload = parse_qs(urlsplit(uri).query)["upload"][0]
        status, answer = await _liff(sb, "appeal", carol, {"campaign": str(cid), "upload": upload,
                                                           "note": "金額是 180 元，不是 18 元"})
        assert (status, answer["state"]) == (200, "accepted")
        appealed = await (await sb.client.get(f"/console/review?campaign={cid}&state=appealed")).text()
        assert re.findall(r'<tr data-upload="(\d+)"', appealed) == [upload] and "金額是 180 元" in appealed
    finally:
        await db.close()


async def test_a_look_alike_sample_needs_an_earlier_one(start_sandbox):
    sb = await start_sandbox()
    user = new_user()
    status, answer = await sb.post("/sandbox/api/sample-photo", {"user": user, "like_last": True})
    assert (status, answer["field"]) == (400, "like_last") and "send one first" in answer["error"]
    status, answer = await sb.post("/sandbox/api/sample-photo", {"user": user, "like_last": "yes"})
    assert (status, answer["field"]) == (400, "like_last")
    first = (await sb.post("/sandbox/api/sample-photo", {"user": user}))[1]
    second = (await sb.post("/sandbox/api/sample-photo", {"user": user, "like_last": True}))[1]
    assert first["invoice_number"] != second["invoice_number"] and first["seller_name"] == second["seller_name"]

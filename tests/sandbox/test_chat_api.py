"""The chat page's API over real HTTP: each action becomes a signed LINE event delivered to the
service's own /callback, and the bot's answers show up in the LINE simulator's record."""
import datetime as dt
import io
import random
from dataclasses import replace

from PIL import Image
from sqlalchemy import select

from bot.sandbox_chat.demo import DEMO_KEYWORD, DEMO_POSTBACK
from bot.sandbox_chat.keys import LINE_SIM
from bot.simulators.invoice_photos import make_invoice_code, render_photo
from bot.storage.database import Database
from bot.storage.models import Reward, Upload
from flows.campaigns.dates import TAIPEI
from flows.einvoice.roc import period_of
from tests.sandbox.conftest import PENDING_TEXT, new_user, photo_form, texts_of


def _info_text(number: str, date: str, random_code: str) -> str:
    return (f"您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：{number[:2]}-{number[2:]}\n"
            f"開立時間：{date}\n隨機碼：{random_code}")


async def _uploads(database_url: str) -> list[tuple[Upload, Reward | None]]:
    db = Database(database_url)
    try:
        async with db.session() as s:
            uploads = list(await s.scalars(select(Upload).order_by(Upload.id)))
            rewards = {r.upload_id: r for r in await s.scalars(select(Reward))}
    finally:
        await db.close()
    return [(u, rewards.get(u.id)) for u in uploads]


async def _card(sandbox, user: str) -> dict:
    status, body = await sandbox.post("/sandbox/api/say", {"user": user, "text": DEMO_KEYWORD, "name": "小明"})
    assert status == 200, body
    [card] = await sandbox.wait_messages(user, 1)
    assert card["kind"] == "reply"
    assert card["messages"][0]["type"] == "flex"
    shown = texts_of(card["messages"])
    assert "示範活動：發票登錄送好禮" in shown
    labels = [b["action"]["label"] for b in card["messages"][0]["contents"]["footer"]["contents"]]
    assert labels == ["拍照上傳", "手動上傳", "電子載具"]
    return card


async def test_saying_the_keyword_sends_the_card_and_the_page_sees_both_sides(start_sandbox):
    sandbox = await start_sandbox()
    user, other = new_user(), new_user()
    card = await _card(sandbox, user)
    manual = card["messages"][0]["contents"]["footer"]["contents"][1]["action"]["uri"]
    assert manual.startswith(f"http://127.0.0.1:{sandbox.config.port}/liff/manual?campaign=")
    assert await sandbox.messages(other) == []
    async with sandbox.client.get("/sandbox/api/said", params={"user": user}) as resp:
        entries = (await resp.json())["entries"]
    assert [(e["kind"], e["text"]) for e in entries] == [("text", DEMO_KEYWORD)]
    assert entries[0]["at"] < card["at"]  # sorts before the bot's answer
    async with sandbox.client.get("/sandbox/api/said", params={"user": other}) as resp:
        assert (await resp.json())["entries"] == []
    # the display name reached the simulator's profile, so the customer row has it
    assert sandbox.server.app[LINE_SIM].profiles[user]["displayName"] == "小明"


async def test_the_postback_trigger_sends_the_card(start_sandbox):
    sandbox = await start_sandbox()
    user = new_user()
    status, body = await sandbox.post("/sandbox/api/postback", {"user": user, "data": DEMO_POSTBACK})
    assert status == 200, body
    [card] = await sandbox.wait_messages(user, 1)
    assert card["messages"][0]["type"] == "flex" and "示範活動：發票登錄送好禮" in texts_of(card["messages"])
    status, _ = await sandbox.post("/sandbox/api/say", {"user": user, "text": "隨便聊聊"})
    assert status == 200
    status, _ = await sandbox.post("/sandbox/api/say", {"user": user, "text": DEMO_KEYWORD})
    await sandbox.wait_messages(user, 2)
    assert len(await sandbox.messages(user)) == 2  # small talk got no answer, the keyword did


async def test_the_sample_photo_passes_with_a_demo_coupon(start_sandbox, database_url):
    sandbox = await start_sandbox()
    user = new_user()
    await _card(sandbox, user)
    status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": user})
    assert status == 200, sample
    assert sample["pending"] is False and sample["available_at"] is None
    yesterday = (dt.datetime.now(TAIPEI).date() - dt.timedelta(days=1)).isoformat()
    assert sample["date"] == yesterday
    sent = await sandbox.wait_messages(user, 2)
    answer = sent[1]
    assert answer["kind"] == "reply"
    assert answer["messages"][0] == {
        "type": "text", "text": _info_text(sample["invoice_number"], sample["date"], sample["random_code"])}
    shown = "\n".join(texts_of(answer["messages"][1:]))
    assert "符合" in shown and "DEMO-" in shown
    [(upload, reward)] = await _uploads(database_url)
    assert (upload.status, upload.invoice_number, upload.total_amount) == (
        "passed", sample["invoice_number"], sample["total_amount"])
    assert reward is not None and reward.coupon_code.startswith("DEMO-") and reward.coupon_code in shown

    async with sandbox.client.get(sample["photo_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert (await resp.read())[:3] == b"\xff\xd8\xff"
    async with sandbox.client.get("/sandbox/api/said", params={"user": user}) as resp:
        entries = (await resp.json())["entries"]
    assert [e["kind"] for e in entries] == ["text", "photo"]
    assert entries[1]["sample"]["invoice_number"] == sample["invoice_number"]


async def test_the_pending_sample_answers_waiting_for_verification(start_sandbox, database_url):
    sandbox = await start_sandbox()
    user = new_user()
    await _card(sandbox, user)
    before = dt.datetime.now(dt.timezone.utc)
    status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": user, "pending": True})
    assert status == 200, sample
    assert dt.datetime.fromisoformat(sample["available_at"]) > before
    sent = await sandbox.wait_messages(user, 2)
    assert [m.get("text") for m in sent[1]["messages"]] == [
        _info_text(sample["invoice_number"], sample["date"], sample["random_code"]), PENDING_TEXT]
    [(upload, reward)] = await _uploads(database_url)
    assert upload.status == "pending" and reward is None


def _png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (250, 250, 250)).save(out, "PNG")
    return out.getvalue()


async def test_the_users_own_photo_is_delivered_and_answered(start_sandbox, database_url):
    sandbox = await start_sandbox()
    user = new_user()
    await _card(sandbox, user)
    # a real invoice photo the user took, MOF seeded over the simulator's HTTP control API
    today = dt.datetime.now(TAIPEI).date()
    code = make_invoice_code(random.Random(7), items=2, today=today - dt.timedelta(days=2))
    day = today - dt.timedelta(days=2)
    code = replace(code, date=day, period=period_of(day))
    invoice = {"invNum": code.invoice_number, "invDate": day.isoformat(), "randomNumber": code.random_code,
               "sellerBan": code.seller_ban, "sellerName": "全聯福利中心", "amount": str(code.total_amount),
               "items": [{"description": i.name, "quantity": str(i.quantity), "unitPrice": str(i.unit_price)}
                         for i in code.items]}
    async with sandbox.client.post("/sandbox/mof/_sim/invoices", json={"invoices": [invoice]}) as resp:
        assert resp.status == 200
    photo = render_photo(code, seed=3, size=(1600, 1200))
    async with sandbox.client.post("/sandbox/api/photo", data=photo_form(user, photo, name="小明")) as resp:
        assert resp.status == 200, await resp.text()
        entry = (await resp.json())["entry"]
    sent = await sandbox.wait_messages(user, 2)
    assert "DEMO-" in "\n".join(texts_of(sent[1]["messages"]))
    async with sandbox.client.get(entry["photo_url"]) as resp:
        assert await resp.read() == photo

    # a PNG that holds no invoice: delivered, kept, answered 無法辨識
    async with sandbox.client.post("/sandbox/api/photo", data=photo_form(user, _png(), filename="blank.png")) as resp:
        assert resp.status == 200, await resp.text()
        entry = (await resp.json())["entry"]
    sent = await sandbox.wait_messages(user, 3)
    assert "無法辨識" in "\n".join(texts_of(sent[2]["messages"]))
    statuses = [u.status for u, _ in await _uploads(database_url)]
    assert statuses == ["passed", "unreadable"]
    async with sandbox.client.get(entry["photo_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"


async def test_a_new_invoice_on_the_demo_carrier_is_registered_by_the_next_import(start_sandbox):
    """載具新增發票 (the review's 共用載具 signal by hand): the demo carrier gets one more invoice,
    issued today; the next import through the carrier page registers it as new."""
    from bot.sandbox_chat.keys import MOF_SIM
    from bot.simulators.mof import DEMO_CARRIER

    sandbox = await start_sandbox()
    state = sandbox.server.app[MOF_SIM]
    before = list(state.carriers[DEMO_CARRIER[0]].invoice_numbers)
    status, added = await sandbox.post("/sandbox/api/carrier-invoice", {"user": new_user()})
    assert status == 200, added
    assert added["card_no"] == DEMO_CARRIER[0] and added["invoice_number"] not in before
    assert state.carriers[DEMO_CARRIER[0]].invoice_numbers == [*before, added["invoice_number"]]
    assert added["date"] == dt.datetime.now(TAIPEI).date().isoformat() and added["total_amount"] >= 100
    status, second = await sandbox.post("/sandbox/api/carrier-invoice", {})
    assert status == 200 and second["invoice_number"] != added["invoice_number"]
    async with sandbox.client.post("/sandbox/api/carrier-invoice", data="[1]",
                                   headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400 and "body" in (await resp.json())["error"]

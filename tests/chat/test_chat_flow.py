"""SPEC §4/§5 end to end: card → photo → answers, through the LINE and MOF simulators over
real HTTP, with the outgoing messages and their billable flags as LINE and the database see them."""
import asyncio
import datetime as dt

from sqlalchemy import select, text, update

from bot.simulators.line import new_user_id
from bot.storage.models import OutgoingMessage, VerificationJob, WebhookEvent
from bot.verification.worker import VERIFICATION_WORKER
from tests.chat.conftest import KEYWORD, invoice_code, photo_of

ALICE = "U" + "a" * 32
BOB = "U" + "b" * 32
PENDING_TEXT = "發票資訊驗證中，我們將於 3 天內通知驗證結果，請勿封鎖避免喪失權益！感謝您的耐心等待。"
CAP_TEXT = "很抱歉，您參與活動的次數已達上限，無法再進行參加，謝謝您的參與！"


def _texts(message: dict) -> list[str]:
    """Every text a LINE message shows (text messages and the text nodes of flex)."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    return found


def _all_text(messages: list[dict]) -> str:
    return "\n".join(t for m in messages for t in _texts(m))


def _info_text(code) -> str:
    number = f"{code.invoice_number[:2]}-{code.invoice_number[2:]}"
    return (f"您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：{number}\n"
            f"開立時間：{code.date.isoformat()}\n隨機碼：{code.random_code}")


async def _card(stack, user):
    assert await stack.say(user, KEYWORD) == 200
    sent = await stack.wait_messages(user, 1)
    card = sent[-1]
    assert card["kind"] == "reply"
    assert card["messages"][0]["type"] == "flex"
    shown = _all_text(card["messages"])
    assert "冬季發票登錄抽好禮" in shown
    return card


async def test_card_then_photo_passes_with_a_coupon_by_reply(make_stack):
    stack = await make_stack()
    code = invoice_code(1)
    await stack.seed_mof(code)
    card = await _card(stack, ALICE)
    buttons = [c["action"] for c in card["messages"][0]["contents"]["footer"]["contents"] if c.get("type") == "button"]
    assert [b["label"] for b in buttons] == ["拍照上傳", "手動上傳", "電子載具"]
    assert buttons[1]["uri"].startswith("https://liff.line.me/1234567890-AbCdEfGh/manual?campaign=")

    assert await stack.photo(ALICE, photo_of(code)) == 200
    sent = await stack.wait_messages(ALICE, 2)
    answer = sent[1]
    assert answer["kind"] == "reply"
    assert answer["messages"][0] == {"type": "text", "text": _info_text(code)}
    shown = _all_text(answer["messages"][1:])
    assert "WINTER-" in shown  # the coupon code, in the second (coupon) message
    assert len(answer["messages"]) == 3

    [upload] = await stack.uploads()
    assert (upload.status, upload.source, upload.invoice_number) == ("passed", "photo", code.invoice_number)
    assert upload.photo_path.startswith("photos/")
    assert upload.code_notes is None  # read as the spec prints it: nothing tolerated
    async with stack.db.session() as s:
        rows = list(await s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)))
    assert [(r.delivery, r.billable, r.state) for r in rows] == [("reply", False, "sent"), ("reply", False, "sent")]


async def test_not_yet_at_mof_answers_pending_then_pushes_the_result_once(make_stack):
    stack = await make_stack()
    code = invoice_code(2)
    await stack.seed_mof(code, available_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=30))
    await _card(stack, ALICE)
    await stack.photo(ALICE, photo_of(code))
    sent = await stack.wait_messages(ALICE, 2)
    assert [m["text"] for m in sent[1]["messages"]] == [_info_text(code), PENDING_TEXT]
    [upload] = await stack.uploads()
    assert upload.status == "pending"

    # MOF gets the invoice; the job's next attempt comes due.
    async with stack.mof_client.post("/_sim/clock", json={"now": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=31)).isoformat()}) as resp:
        assert resp.status == 200
    async with stack.db.session() as s, s.begin():
        await s.execute(update(VerificationJob).values(next_attempt_at=dt.datetime.now(dt.timezone.utc)))
    stack.service.app[VERIFICATION_WORKER].nudge()

    from flows.verification.policy import in_quiet_hours
    if in_quiet_hours(dt.datetime.now(dt.timezone.utc)):
        await asyncio.sleep(2)
        async with stack.db.session() as s:
            held = list(await s.scalars(select(OutgoingMessage).where(OutgoingMessage.delivery == "push")))
        assert len(held) == 1 and held[0].state == "queued"
        return
    sent = await stack.wait_messages(ALICE, 3)
    assert sent[2]["kind"] == "push"
    assert "WINTER-" in _all_text(sent[2]["messages"])
    await asyncio.sleep(1.5)  # nothing else follows: one result, one message
    assert len(await stack.fetch_messages(ALICE)) == 3
    [upload] = await stack.uploads()
    assert upload.status == "passed"
    async with stack.db.session() as s:
        pushes = list(await s.scalars(select(OutgoingMessage).where(OutgoingMessage.delivery == "push")))
    assert [(p.billable, p.state) for p in pushes] == [(True, "sent")]


async def test_photo_after_the_window_gets_no_response_and_is_not_processed(make_stack):
    stack = await make_stack()
    code = invoice_code(3)
    await stack.seed_mof(code)
    await _card(stack, ALICE)
    stack.clock.offset = 31 * 60  # the photo is sent 31 minutes after the card
    assert await stack.photo(ALICE, photo_of(code)) == 200
    await asyncio.sleep(1.5)
    assert len(await stack.fetch_messages(ALICE)) == 1  # just the card
    assert await stack.uploads() == []


async def test_duplicate_across_users_answers_the_system_text(make_stack):
    stack = await make_stack()
    code = invoice_code(4)
    await stack.seed_mof(code)
    await _card(stack, ALICE)
    await stack.photo(ALICE, photo_of(code))
    await stack.wait_messages(ALICE, 2)
    await _card(stack, BOB)
    await stack.photo(BOB, photo_of(code, seed=9))
    sent = await stack.wait_messages(BOB, 2)
    number = f"{code.invoice_number[:2]}-{code.invoice_number[2:]}"
    expected = ("此發票已重複登錄，請重新上傳或手動輸入其他發票。\n\n發票資訊如下\u2028\n發票類型：電子發票\n"
                f"發票號碼：{number}\n開立日期：{code.date.isoformat()}")
    assert expected in _all_text(sent[1]["messages"])
    statuses = sorted(u.status for u in await stack.uploads())
    assert statuses == ["duplicate", "passed"]


async def test_over_cap_in_one_batch_is_billable_from_the_second_invoice(make_stack):
    stack = await make_stack(cap=1)
    first, second = invoice_code(5), invoice_code(6)
    await stack.seed_mof(first)
    await stack.seed_mof(second)
    await _card(stack, ALICE)
    events = [stack.sim.image_event(ALICE, photo_of(first)), stack.sim.image_event(ALICE, photo_of(second, seed=2))]
    for index, event in enumerate(events, start=1):
        event["message"]["imageSet"] = {"id": "set-1", "index": index, "total": 2}
    assert await stack.deliver(*events) == 200
    sent = await stack.wait_messages(ALICE, 3)
    assert sent[1]["kind"] == "reply"
    assert sent[2]["kind"] == "push"
    assert CAP_TEXT in [m.get("text") for m in sent[2]["messages"]]
    async with stack.db.session() as s:
        rows = list(await s.scalars(select(OutgoingMessage).where(OutgoingMessage.upload_id.is_not(None))
                                    .order_by(OutgoingMessage.id)))
    assert [(r.delivery, r.billable) for r in rows] == [("reply", False), ("push", True)]
    assert sorted(u.status for u in await stack.uploads()) == ["invalid", "passed"]


async def test_unreadable_photo_answers_unreadable_and_is_recorded(make_stack):
    stack = await make_stack()
    await _card(stack, ALICE)
    await stack.photo(ALICE, b"\xff\xd8\xff\xe0 this is not really a jpeg")
    sent = await stack.wait_messages(ALICE, 2)
    assert sent[1]["kind"] == "reply"
    assert "無法辨識" in sent[1]["messages"][0]["altText"]
    [upload] = await stack.uploads()
    assert upload.status == "unreadable" and upload.photo_path


async def test_photo_over_the_size_limit_answers_unreadable_not_unexpected(make_stack):
    stack = await make_stack()
    await _card(stack, ALICE)
    await stack.photo(ALICE, b"\xff\xd8\xff\xe0" + bytes(10 * 1024 * 1024))  # just over LINE's 10 MB
    sent = await stack.wait_messages(ALICE, 2)
    assert sent[1]["kind"] == "reply"
    assert "無法辨識" in sent[1]["messages"][0]["altText"]
    [upload] = await stack.uploads()
    assert upload.status == "unreadable" and upload.photo_path is None
    assert "file too large" in (upload.reason or "")


async def test_forged_signature_is_refused_and_nothing_is_stored(make_stack):
    stack = await make_stack()
    event = stack.sim.text_event(ALICE, KEYWORD)
    assert await stack.sim.deliver(stack.callback, [event], secret="not-the-channel-secret") == 400
    await asyncio.sleep(0.5)
    assert await stack.fetch_messages(ALICE) == []
    async with stack.db.session() as s:
        assert await s.scalar(select(WebhookEvent.event_id)) is None


async def test_a_redelivered_event_is_processed_once(make_stack):
    stack = await make_stack()
    event = stack.sim.text_event(ALICE, KEYWORD)
    assert await stack.deliver(event) == 200
    await stack.wait_messages(ALICE, 1)
    async with stack.line_client.post("/_sim/redeliver", json={"url": stack.callback, "webhookEventId": event["webhookEventId"]}) as resp:
        assert resp.status == 200
    await asyncio.sleep(1.0)
    assert len(await stack.fetch_messages(ALICE)) == 1


async def test_rich_menu_postback_and_bot_module_send_the_card(make_stack):
    stack = await make_stack()
    async with stack.db.session() as s, s.begin():
        from bot.storage.models import Trigger

        channel_id = (await s.scalars(select(Trigger.channel_id))).first()
        s.add(Trigger(channel_id=channel_id, campaign_id=stack.campaign_id, kind="postback", value="action=card"))
        s.add(Trigger(channel_id=channel_id, campaign_id=stack.campaign_id, kind="bot_module", value="winter-module"))
    await stack.deliver(stack.sim.postback_event(ALICE, "action=card"))
    await stack.deliver(stack.sim.postback_event(BOB, "module=winter-module"))
    await stack.deliver(stack.sim.postback_event(BOB, "module=other-module"))
    for user in (ALICE, BOB):
        [card] = await stack.wait_messages(user, 1)
        assert card["messages"][0]["type"] == "flex" and "冬季發票登錄抽好禮" in _all_text(card["messages"])
    await asyncio.sleep(0.5)
    assert len(await stack.fetch_messages(BOB)) == 1  # an unknown module sends nothing


async def test_an_unfollow_is_recorded_and_drops_the_users_queued_pushes(make_stack):
    """The block is recorded (also for a user the bot never talked to) and queued pushes to
    the user are dropped; a follow clears the mark."""
    from sqlalchemy import insert as sql_insert

    from bot.storage.models import Customer

    stack = await make_stack()
    user, stranger = new_user_id(), new_user_id()
    await _card(stack, user)
    async with stack.db.session() as s, s.begin():
        customer = await s.scalar(select(Customer).where(Customer.line_user_id == user))
        await s.execute(sql_insert(OutgoingMessage).values(
            channel_id=customer.channel_id, customer_id=customer.id, to=user, kind="qualified", delivery="push",
            billable=True, messages={"messages": [{"type": "text", "text": "later"}]}, state="queued",
            not_before=dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc), attempts=0))
    assert await stack.deliver(stack.sim.unfollow_event(user), stack.sim.unfollow_event(stranger)) == 200

    async def blocked() -> dict[str, object]:
        async with stack.db.session() as s:
            rows = (await s.execute(select(Customer.line_user_id, Customer.blocked_at))).all()
        return {uid: at for uid, at in rows}

    for _ in range(100):
        marks = await blocked()
        if marks.get(user) and marks.get(stranger):
            break
        await asyncio.sleep(0.05)
    assert marks[user] is not None and marks[stranger] is not None
    async with stack.db.session() as s:
        [push] = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.delivery == "push"))).all()
    assert push.state == "failed" and "unfollow" in push.last_error
    assert await stack.deliver(stack.sim.follow_event(user)) == 200
    for _ in range(100):
        if (await blocked())[user] is None:
            break
        await asyncio.sleep(0.05)
    assert (await blocked())[user] is None


async def test_a_later_cap_refusal_names_its_invoice(make_stack):
    """Issue 28, item 4: a result pushed on its own (no 發票資訊 before it) names its invoice; the
    fixed 參與達上限 text stays as the seed has it, after the invoice's 發票資訊如下 block."""
    stack = await make_stack(cap=1)
    late, first = invoice_code(7), invoice_code(8)
    await stack.seed_mof(late, available_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=30))
    await stack.seed_mof(first)
    await _card(stack, ALICE)
    await stack.photo(ALICE, photo_of(late))
    await stack.wait_messages(ALICE, 2)  # 發票資訊 + 等待驗證
    await stack.photo(ALICE, photo_of(first, seed=2))
    await stack.wait_messages(ALICE, 3)  # 通過: the cap is reached
    async with stack.mof_client.post("/_sim/clock", json={"now": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=31)).isoformat()}) as resp:
        assert resp.status == 200
    async with stack.db.session() as s, s.begin():
        await s.execute(update(VerificationJob).values(next_attempt_at=dt.datetime.now(dt.timezone.utc)))
    stack.service.app[VERIFICATION_WORKER].nudge()
    number = f"{late.invoice_number[:2]}-{late.invoice_number[2:]}"
    for _ in range(200):  # the push is queued with the verdict (held in quiet hours, so read the outbox)
        async with stack.db.session() as s:
            pushed = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.kind == "upload.invalid"))).all()
        if pushed:
            break
        await asyncio.sleep(0.05)
    [push] = pushed
    assert [m.get("text") for m in push.messages["messages"]] == [
        f"發票資訊如下\n發票類型：電子發票\n發票號碼：{number}\n開立日期：{late.date.isoformat()}", CAP_TEXT]

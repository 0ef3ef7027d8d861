"""The LIFF endpoints over real HTTP against the LINE and MOF simulators (production-like
config: the channel's LIFF ID and LINE Login channel): tokens, limits, manual entry answered
by reply to the page's 發票資訊 text, carrier import, re-queries and code deletion."""
from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

import io

from bot.campaigns.exports import export_items, export_participants
from bot.campaigns.settle import ENDED_UNVERIFIED_REASON
from bot.campaigns.store import Actor
from bot.simulators.line import SIM_LOGIN_CHANNEL_ID
from bot.storage.models import Campaign, CampaignPhone, CarrierQuery, Channel, Customer, OutgoingMessage, Upload
from flows.campaigns.roles import Role
from flows.messages.system import NOT_EXIST_TEXT
from tests.chat.conftest import KEYWORD, LIFF_ID, Stack, invoice_code

USER = "U" + "a1" * 16
OTHER = "U" + "b2" * 16


async def _login_ready(stack: Stack) -> int:
    async with stack.db.session() as s, s.begin():
        channel = await s.scalar(select(Channel).where(Channel.name == "default"))
        channel.login_channel_id = SIM_LOGIN_CHANNEL_ID
        return channel.id


async def _post(stack: Stack, path: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    client = stack.line_client.session
    async with client.post(stack.service.make_url(f"/liff/api/{path}"), json=body, headers=headers) as resp:
        return resp.status, await resp.json()


def _manual(stack: Stack, code, **extra: Any) -> dict[str, Any]:  # noqa: ANN001
    fields = {"invoice_number": code.display_number.lower(), "date": code.date.isoformat(),
              "random_code": code.random_code, "total_amount": str(code.total_amount), **extra}
    return {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id), "fields": fields}


@pytest.fixture
async def stack(make_stack) -> Stack:
    stack = await make_stack()
    await _login_ready(stack)
    return stack


async def test_forged_expired_wrong_audience_and_missing_tokens_get_401(stack: Stack) -> None:
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}
    good = stack.sim.issue_id_token(USER)
    assert (await _post(stack, "campaign", body, good))[0] == 200
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = stack.sim.issue_id_token(USER, expires_in=1)
    stack.clock.offset += 5
    for token in (forged, expired, None, ""):
        status, answer = await _post(stack, "campaign", body, token)
        assert status == 401 and answer["error"] == "id_token"
    stack.sim.login_channel_id = "9999999999"  # tokens of another LINE Login channel
    status, _ = await _post(stack, "campaign", body, stack.sim.issue_id_token(USER))
    assert status == 401
    async with stack.db.session() as s:
        assert (await s.scalar(select(Customer).where(Customer.line_user_id == USER))) is not None  # the good call only
        assert not (await s.scalars(select(Upload))).all()


async def test_manual_entry_without_a_total_amount_is_judged_on_mofs_amount(stack: Stack) -> None:
    """SPEC §1: the total amount is optional in manual entry (issue 28, item 5); MOF's record
    gives the amount the campaign's rules judge."""
    code = invoice_code(8)
    await stack.seed_mof(code)
    body = _manual(stack, code)
    del body["fields"]["total_amount"]
    status, answer = await _post(stack, "manual", body, stack.sim.issue_id_token(USER))
    assert status == 200, answer
    [upload] = await stack.uploads()
    assert (upload.source, upload.status, upload.total_amount) == ("manual", "passed", code.total_amount)


async def test_manual_entry_is_answered_once_by_reply_to_the_pages_text(stack: Stack) -> None:
    code = invoice_code(7)
    await stack.seed_mof(code)
    token = stack.sim.issue_id_token(USER)
    status, answer = await _post(stack, "manual", _manual(stack, code, phone="0912-345-678", consent=True), token)
    assert status == 200, answer
    assert answer["texts"] == [f"您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：{code.display_number}\n"
                               f"開立時間：{code.date.isoformat()}\n隨機碼：{code.random_code}"]
    [upload] = await stack.uploads()
    assert (upload.source, upload.status, upload.invoice_number) == ("manual", "passed", code.invoice_number)
    async with stack.db.session() as s:  # kept with the campaign, in E.164 digits (the seed's form)
        [given] = (await s.scalars(select(CampaignPhone))).all()
        assert (given.campaign_id, given.phone) == (stack.campaign_id, "886912345678") and given.consent_at
    async with stack.db.session() as s:  # 電話 in the participant list and the items export
        for export in (export_participants, export_items):
            out = io.BytesIO()
            await export(s, stack.campaign_id, out, actor=Actor(None, "客服", Role.SUPPORT_AGENT))
            assert ",886912345678," in out.getvalue().decode("utf-8-sig")
    assert await stack.fetch_messages(USER) == []  # held: waiting for the user's text
    # The page sends the text as the user; the bot answers it by reply, twice sent = once answered.
    await stack.say(USER, answer["texts"][0])
    await stack.say(USER, answer["texts"][0])
    messages = await stack.wait_messages(USER, 1)
    await asyncio.sleep(0.5)
    messages = await stack.fetch_messages(USER)
    assert len(messages) == 1 and messages[0]["kind"] == "reply"
    assert "符合" in str(messages[0]["messages"])
    async with stack.db.session() as s:
        rows = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.to == USER))).all()
    assert [(r.delivery, r.billable, r.state) for r in rows] == [("reply", False, "sent")]


async def test_manual_entry_errors_name_the_fields_and_phone_needs_consent(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id),
            "fields": {"invoice_number": "A1234", "date": "2024-02-30", "random_code": "12", "total_amount": "-1",
                       "phone": "0912345678", "consent": False}}
    status, answer = await _post(stack, "manual", body, token)
    assert status == 422
    assert set(answer["errors"]) == {"invoice_number", "date", "random_code", "total_amount", "consent"}
    assert answer["errors"]["random_code"].startswith("隨機碼")
    status, answer = await _post(stack, "validate", {**body, "form": "manual"}, token)
    assert status == 200 and set(answer["errors"]) == {"invoice_number", "date", "random_code", "total_amount", "consent"}
    assert await stack.uploads() == []


async def test_submissions_are_rate_limited_per_user_and_bodies_bounded(stack: Stack) -> None:
    token, other = stack.sim.issue_id_token(USER), stack.sim.issue_id_token(OTHER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id), "fields": {"invoice_number": "x"}}
    statuses = [(await _post(stack, "manual", body, token))[0] for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    status, answer = await _post(stack, "manual", body, token)
    assert status == 429 and answer["message"] == "操作太頻繁，請稍後再試"
    assert (await _post(stack, "manual", body, other))[0] == 422  # someone else is not slowed down
    big = {**body, "fields": {"invoice_number": "x" * 5000}}
    assert (await _post(stack, "manual", big, token))[0] == 413


async def test_campaign_states_show_their_text_in_the_page(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).values(end_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)))
    status, answer = await _post(stack, "campaign", body, token)
    assert status == 410 and "活動已結束" in answer["message"]
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).values(end_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3),
                                                paused=True))
    status, answer = await _post(stack, "campaign", body, token)
    assert (status, answer["error"], answer["message"]) == (404, "gone", NOT_EXIST_TEXT)
    assert (await _post(stack, "campaign", {**body, "campaign": "999999"}, token))[0] == 404
    assert (await _post(stack, "campaign", {**body, "liff_id": "other-liff"}, token))[0] == 404
    async with stack.db.session() as s, s.begin():  # a card of another channel opened in this LIFF app
        other = Channel(name="other", liff_id="other-liff", login_channel_id=SIM_LOGIN_CHANNEL_ID, linked=True)
        s.add(other)
        await s.execute(update(Campaign).values(paused=False))
    status, answer = await _post(stack, "campaign", {**body, "liff_id": "other-liff"}, token)
    assert (status, answer["message"]) == (404, NOT_EXIST_TEXT)


async def test_a_card_on_a_channel_without_liff_id_answers_not_exist(stack: Stack) -> None:
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Channel).values(liff_id=None))
    await stack.say(USER, KEYWORD)
    [message] = await stack.wait_messages(USER, 1)
    assert message["messages"] == [{"type": "text", "text": NOT_EXIST_TEXT}]


def _carrier_seed(code_date: dt.date, numbers: list[str], available_at: dt.datetime | None = None,
                  detail_at: dt.datetime | None = None) -> dict[str, Any]:
    def invoice(n: str) -> dict[str, Any]:
        row = {"invNum": n, "invDate": code_date.isoformat(), "randomNumber": "1234", "sellerBan": "53212539",
               "sellerName": "測試商店", "amount": "150",
               "items": [{"description": "測試品項", "quantity": "1", "unitPrice": "150"}]}
        if available_at is not None:
            row["availableAt"] = available_at.isoformat()
        if detail_at is not None:  # listed on the carrier, detailed by MOF from then on
            row["detailAvailableAt"] = detail_at.isoformat()
        return row

    return {"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42", "invoices": [invoice(n) for n in numbers]}]}


async def test_carrier_import_requery_and_code_deletion(stack: Stack) -> None:
    from bot.mof import MofClient
    from liff_pages.carriers import CarrierRequeries
    from liff_pages.sealing import CodeSealer
    from tests.chat.conftest import MOF_APP_ID, MOF_KEY

    yesterday = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, ["CA00000001"])) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, ["CA00000002"], detail_at=soon)) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json={"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42",
                                                                          "invoices": ["CA00000001", "CA00000002"]}]}) as r:
        assert r.status == 200
    token = stack.sim.issue_id_token(USER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id),
            "fields": {"carrier_barcode": "/abc+123", "verification_code": "Secret-42"}}
    status, answer = await _post(stack, "carrier", body, token)
    assert status == 200, answer
    assert answer["counts"] == {"found": 2, "new": 1, "waiting": 1, "duplicates": 0, "not_eligible": 0,
                                "cap_reached": 0}
    assert [(u.source, u.status) for u in await stack.uploads()] == [("carrier", "passed"), ("carrier", "pending")]
    status, again = await _post(stack, "carrier", body, token)
    assert again["counts"] == {"found": 2, "new": 0, "waiting": 1, "duplicates": 1, "not_eligible": 0,
                               "cap_reached": 0} and again["texts"] == []
    status, wrong = await _post(stack, "carrier", {**body, "fields": {**body["fields"], "verification_code": "nope"}}, token)
    assert status == 422 and set(wrong["errors"]) == {"verification_code"}
    async with stack.db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
    assert row.sealed_code and "Secret-42" not in row.sealed_code and row.state == "active"
    # The page's text releases the held answer as one reply.
    await stack.say(USER, answer["texts"][0])
    [reply] = await stack.wait_messages(USER, 1)
    assert reply["kind"] == "reply"
    # A re-query settles the waiting invoice and pushes it; a later invoice on the carrier is not
    # registered (the user imports again); with nothing left waiting, the code goes.
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, ["CA00000003"])) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json={"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42",
                                                                          "invoices": ["CA00000001", "CA00000002", "CA00000003"]}]}) as r:
        assert r.status == 200
    notified: list[int] = []

    async def notify(upload_id: int, _now: dt.datetime) -> None:
        notified.append(upload_id)

    from bot.appkeys import CONFIG

    sealer = CodeSealer.for_config(stack.service.app[CONFIG])
    clock = {"now": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)}  # MOF has the detail by then
    async with stack.mof_client.post("/_sim/clock", json={"now": clock["now"].isoformat()}) as r:
        assert r.status == 200
    async with MofClient(None, str(stack.mof.make_url("")).rstrip("/"), MOF_APP_ID, MOF_KEY,
                         clock=lambda: clock["now"].timestamp()) as mof:
        requeries = CarrierRequeries(stack.db, mof, sealer, notify, clock=lambda: clock["now"])
        assert await requeries.run_due() == 1
        assert await requeries.run_due() == 0  # done: nothing is waiting any more
    uploads = await stack.uploads()
    assert [(u.invoice_number, u.status) for u in uploads] == [("CA00000001", "passed"), ("CA00000002", "passed")]
    assert notified == [uploads[1].id]
    async with stack.db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
    assert (row.state, row.sealed_code) == ("done", None)


async def test_a_carrier_entered_during_the_draft_is_not_queried_again_after_publishing(make_stack) -> None:
    """Issue 28, item 1: publishing deletes the draft's test uploads, and with them the carriers
    entered during the draft: a re-query must not register those invoices again as live ones."""
    from bot.campaigns.store import CampaignStore
    from bot.mof import MofClient
    from liff_pages.carriers import CarrierRequeries
    from liff_pages.sealing import CodeSealer
    from tests.chat.conftest import MOF_APP_ID, MOF_KEY
    from tests.campaign_store.data import add_actor
    from bot.appkeys import CONFIG

    stack = await make_stack(publish=False)
    await _login_ready(stack)
    yesterday = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, ["CA00000011"], detail_at=later)) as r:
        assert r.status == 200
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id),
            "fields": {"carrier_barcode": "/abc+123", "verification_code": "Secret-42"}}
    status, answer = await _post(stack, "carrier", body, stack.sim.issue_id_token(USER))
    assert status == 200, answer
    assert [u.is_draft for u in await stack.uploads()] == [True]
    async with stack.db.session() as s:
        assert len((await s.scalars(select(CarrierQuery))).all()) == 1  # kept to ask MOF again
    actor = await add_actor(stack.db, "publisher", Role.MARKETER)
    await CampaignStore(stack.db).publish(actor, stack.campaign_id, dt.datetime.now(dt.timezone.utc))
    assert await stack.uploads() == []
    async with stack.db.session() as s:
        assert (await s.scalars(select(CarrierQuery))).all() == []  # the draft's carrier went with its uploads
    sealer = CodeSealer.for_config(stack.service.app[CONFIG])
    async with MofClient(None, str(stack.mof.make_url("")).rstrip("/"), MOF_APP_ID, MOF_KEY) as mof:
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
        requeries = CarrierRequeries(stack.db, mof, sealer, lambda *_: asyncio.sleep(0), clock=lambda: later)
        assert await requeries.run_due() == 0
    assert await stack.uploads() == []


async def _carrier_then_one_more(stack: Stack, first: str, second: str) -> None:
    """Import a carrier holding `first` and `second` through the LIFF page, while MOF has not
    detailed `second` yet (等待驗證); then let MOF detail it."""
    yesterday = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, [first])) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, [second], detail_at=later)) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json={"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42",
                                                                          "invoices": [first, second]}]}) as r:
        assert r.status == 200
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id),
            "fields": {"carrier_barcode": "/abc+123", "verification_code": "Secret-42"}}
    status, answer = await _post(stack, "carrier", body, stack.sim.issue_id_token(USER))
    assert status == 200 and (answer["counts"]["new"], answer["counts"]["waiting"]) == (1, 1), answer
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, [second])) as r:
        assert r.status == 200
    async with stack.mof_client.post("/_sim/invoices", json={"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42",
                                                                          "invoices": [first, second]}]}) as r:
        assert r.status == 200


def _requeries(stack: Stack, mof, notified: list[int], clock: dict[str, dt.datetime]):  # noqa: ANN001,ANN202
    from bot.appkeys import CONFIG
    from liff_pages.carriers import CarrierRequeries
    from liff_pages.sealing import CodeSealer

    async def notify(upload_id: int, _now: dt.datetime) -> None:
        notified.append(upload_id)

    return CarrierRequeries(stack.db, mof, CodeSealer.for_config(stack.service.app[CONFIG]), notify,
                            clock=lambda: clock["now"])


async def _carrier_row(stack: Stack) -> CarrierQuery:
    async with stack.db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
    return row


async def test_a_paused_campaign_postpones_carrier_requeries_until_it_resumes(stack: Stack) -> None:
    """Issue 28, item 2: while paused (活動不存在) a re-query registers and pushes nothing; the
    carrier is kept and asked again later, so a resume within the window continues."""
    from bot.campaigns.store import CampaignStore
    from bot.mof import MofClient
    from tests.campaign_store.data import add_actor
    from tests.chat.conftest import MOF_APP_ID, MOF_KEY

    await _carrier_then_one_more(stack, "CA00000021", "CA00000022")
    store, actor = CampaignStore(stack.db), await add_actor(stack.db, "pauser", Role.MARKETER)
    await store.pause(actor, stack.campaign_id, dt.datetime.now(dt.timezone.utc))
    notified: list[int] = []
    clock = {"now": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)}
    async with MofClient(None, str(stack.mof.make_url("")).rstrip("/"), MOF_APP_ID, MOF_KEY) as mof:
        requeries = _requeries(stack, mof, notified, clock)
        assert await requeries.run_due() == 1
        assert notified == [] and [u.status for u in await stack.uploads()] == ["passed", "pending"]
        row = await _carrier_row(stack)
        assert row.state == "active" and row.sealed_code and row.next_query_at > clock["now"]
        assert row.lease_until is None
        await store.resume(actor, stack.campaign_id, dt.datetime.now(dt.timezone.utc))
        clock["now"] = row.next_query_at + dt.timedelta(seconds=1)
        assert await requeries.run_due() == 1
    uploads = await stack.uploads()
    assert sorted((u.invoice_number, u.status) for u in uploads) == [("CA00000021", "passed"), ("CA00000022", "passed")]
    assert len(notified) == 1 and (await _carrier_row(stack)).state == "done"  # nothing left to ask


async def test_an_ended_campaign_closes_its_carriers_without_registering(stack: Stack) -> None:
    """Issue 28, item 2: after the campaign ended (活動時間結束) a re-query settles and pushes
    nothing, and the carrier is closed with its sealed code deleted, as at the end of its window;
    its invoice still waiting for MOF is 無效 (nobody verifies it any more)."""
    from bot.mof import MofClient
    from tests.chat.conftest import MOF_APP_ID, MOF_KEY

    await _carrier_then_one_more(stack, "CA00000031", "CA00000032")
    ended = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).where(Campaign.id == stack.campaign_id).values(end_at=ended))
    notified: list[int] = []
    clock = {"now": ended + dt.timedelta(minutes=1)}
    async with MofClient(None, str(stack.mof.make_url("")).rstrip("/"), MOF_APP_ID, MOF_KEY) as mof:
        requeries = _requeries(stack, mof, notified, clock)
        assert clock["now"] < (await _carrier_row(stack)).query_until  # still inside the re-query window
        assert await requeries.run_due() == 1
        assert await requeries.run_due() == 0
    row = await _carrier_row(stack)
    assert (row.state, row.sealed_code, row.sealed_barcode) == ("done", None, None)
    assert notified == []
    assert [(u.invoice_number, u.status, u.reason) for u in await stack.uploads()] == [
        ("CA00000031", "passed", None), ("CA00000032", "invalid", ENDED_UNVERIFIED_REASON)]


def _text_key(stack: Stack) -> bytes:
    from bot.appkeys import CONFIG
    from bot.chat.liff_answers import text_key

    return text_key(stack.service.app[CONFIG])


async def _held(stack: Stack, texts: list[str], key: str, now: dt.datetime) -> int:
    from bot.chat.liff_answers import hold_answer

    async with stack.db.session() as s, s.begin():
        customer = await s.scalar(select(Customer).where(Customer.line_user_id == USER))
        if customer is None:
            customer = Customer(channel_id=await s.scalar(select(Channel.id)), line_user_id=USER)
            s.add(customer)
            await s.flush()
        [row_id] = await hold_answer(s, channel_id=customer.channel_id, to=USER, customer_id=customer.id,
                                     texts=texts, messages=[{"type": "text", "text": "結果"}], kind="upload.passed",
                                     key=key, upload_id=None, now=now, hash_key=_text_key(stack))
    return row_id


async def test_a_held_answer_is_replied_exactly_once_under_concurrency(stack: Stack) -> None:
    from bot.chat.liff_answers import answer_held
    from bot.line.outbox import OUTBOX_SENDER
    from bot.storage.models import utcnow

    await _held(stack, ["發票資訊如下\nA"], "k1", utcnow())
    channel_id = await _login_ready(stack)
    tokens = [stack.sim.issue_reply_token(USER) for _ in range(4)]
    results = await asyncio.gather(*(answer_held(stack.db, channel_id=channel_id, user_id=USER, text="發票資訊如下\nA",
                                                 reply_token=t, event_at=utcnow(), now=utcnow(),
                                                 hash_key=_text_key(stack)) for t in tokens))
    assert results == [True] * 4
    stack.service.app[OUTBOX_SENDER].nudge()
    messages = await stack.wait_messages(USER, 1)
    await asyncio.sleep(0.5)
    messages = await stack.fetch_messages(USER)
    assert [m["kind"] for m in messages] == ["reply"]
    assert not await answer_held(stack.db, channel_id=channel_id, user_id=USER, text="別的文字",
                                 reply_token=stack.sim.issue_reply_token(USER), event_at=utcnow(), now=utcnow(),
                                 hash_key=_text_key(stack))


async def test_a_held_answer_whose_text_never_comes_is_pushed(stack: Stack) -> None:
    from bot.chat.liff_answers import HOLD_FOR
    from bot.storage.models import utcnow

    row_id = await _held(stack, ["發票資訊如下\nB"], "k2", utcnow() - HOLD_FOR - dt.timedelta(seconds=1))
    [message] = await stack.wait_messages(USER, 1)
    assert message["kind"] == "push"
    for _ in range(50):  # the sender records the delivery right after LINE accepted it
        async with stack.db.session() as s:
            row = await s.get(OutgoingMessage, row_id)
        if row.state != "queued":
            break
        await asyncio.sleep(0.05)
    assert (row.state, row.delivery, row.billable) == ("sent", "push", True)
    await stack.say(USER, "發票資訊如下\nB")  # the text arriving late is not answered again
    await asyncio.sleep(0.5)
    assert len(await stack.fetch_messages(USER)) == 1


async def test_a_single_line_text_cannot_hold_an_answer(stack: Stack) -> None:
    """Texts without a line break never look up held answers (a keyword is one line), so a
    held answer waiting for one could never be released: refused when it is queued."""
    from bot.storage.models import utcnow

    with pytest.raises(ValueError, match="several lines"):
        await _held(stack, ["發票資訊 A"], "k9", utcnow())

"""Issue 28, items 3 and 4: a carrier import through the LIFF endpoint against the LINE and MOF
simulators. Invoices MOF has not detailed yet are registered 等待驗證 and told so, each naming its
invoice; only those are asked again, for 3 days from the entry; cap refusals are counted apart
and each names its invoice; a new invoice on the carrier later is not registered."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot.campaigns.settle import EXPIRED_REASON
from bot.storage.models import CarrierQuery, OutgoingMessage
from flows.messages.system import CAP_REACHED_TEXT, PENDING_TEXT
from tests.chat.conftest import LIFF_ID, MOF_APP_ID, MOF_KEY, Stack
from tests.chat.test_liff_entries import USER, _login_ready, _post

CARD = {"carrier_barcode": "/abc+123", "verification_code": "Secret-42"}
COUNT_KEYS = ("new", "waiting", "duplicates", "not_eligible", "cap_reached")


@pytest.fixture
async def stack(make_stack) -> Stack:
    stack = await make_stack()
    await _login_ready(stack)
    return stack


def _yesterday() -> dt.date:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)


def _invoice(number: str, detail_at: dt.datetime | None = None) -> dict[str, Any]:
    row = {"invNum": number, "invDate": _yesterday().isoformat(), "randomNumber": "1234", "sellerBan": "53212539",
           "sellerName": "測試商店", "amount": "150",
           "items": [{"description": "測試品項", "quantity": "1", "unitPrice": "150"}]}
    if detail_at is not None:
        row["detailAvailableAt"] = detail_at.isoformat()
    return row


async def _carrier_holds(stack: Stack, invoices: list[dict[str, Any] | str]) -> None:
    seed = {"carriers": [{"cardNo": "/ABC+123", "verifyCode": "Secret-42", "invoices": invoices}]}
    async with stack.mof_client.post("/_sim/invoices", json=seed) as r:
        assert r.status == 200, await r.text()


async def _import(stack: Stack) -> dict[str, Any]:
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id), "fields": CARD}
    status, answer = await _post(stack, "carrier", body, stack.sim.issue_id_token(USER))
    assert status == 200, answer
    counts = answer["counts"]
    assert counts["found"] == sum(counts[k] for k in COUNT_KEYS), counts  # the counts add up
    return answer


def _named(number: str) -> str:
    return f"發票號碼：{number[:2]}-{number[2:]}"


def _answers_to(texts: list[str | None], fixed: str) -> list[str]:
    """The invoice each copy of a fixed system text is about: the message right before it names it."""
    named = []
    for i, text in enumerate(texts):
        if text == fixed:
            assert i > 0 and texts[i - 1] and "發票號碼：" in texts[i - 1], texts
            named.append(texts[i - 1].split("發票號碼：")[1].split("\n")[0])
    return named


async def _queued_texts(stack: Stack) -> list[str | None]:
    """Every message queued for the user, in order (replies and pushes alike)."""
    async with stack.db.session() as s:
        rows = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.to == USER)
                                .order_by(OutgoingMessage.id))).all()
    return [m.get("text") for row in rows for m in row.messages["messages"]]


async def _sim_clock(stack: Stack, now: dt.datetime) -> None:
    async with stack.mof_client.post("/_sim/clock", json={"now": now.isoformat()}) as r:
        assert r.status == 200


async def _mof_actions(stack: Stack) -> list[str]:
    async with stack.mof_client.get("/_sim/requests") as r:
        return [q["action"] for q in (await r.json())["requests"]]


async def test_waiting_invoices_are_counted_told_and_asked_again_for_three_days_from_the_entry(stack: Stack) -> None:
    from bot.appkeys import CONFIG
    from bot.chat.results import ResultNotifier
    from bot.mof import MofClient
    from liff_pages.carriers import CarrierRequeries
    from liff_pages.sealing import CodeSealer

    entry = dt.datetime.now(dt.timezone.utc)
    await _carrier_holds(stack, [_invoice("CW00000001"), _invoice("CW00000002", entry + dt.timedelta(hours=1)),
                                 _invoice("CW00000003", entry + dt.timedelta(days=30))])
    answer = await _import(stack)
    assert answer["counts"] == {"found": 3, "new": 1, "waiting": 2, "duplicates": 0, "not_eligible": 0,
                                "cap_reached": 0}
    uploads = await stack.uploads()
    assert [(u.invoice_number, u.source, u.status) for u in uploads] == [
        ("CW00000001", "carrier", "passed"), ("CW00000002", "carrier", "pending"), ("CW00000003", "carrier", "pending")]
    # 等待驗證 for each invoice MOF has not detailed yet, each naming its invoice; the first five
    # messages answer the page's text by reply.
    await stack.say(USER, answer["texts"][0])
    [reply] = await stack.wait_messages(USER, 1)
    assert reply["kind"] == "reply" and len(reply["messages"]) == 5
    assert sorted(_answers_to(await _queued_texts(stack), PENDING_TEXT)) == ["CW-00000002", "CW-00000003"]
    # The code is kept for 3 days from the entry, not until 3 days after the issue-date window.
    async with stack.db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
    assert row.query_until == uploads[1].uploaded_at + dt.timedelta(days=3)
    actions_at_entry = len(await _mof_actions(stack))

    # A new invoice appears on the carrier after the entry: it is not the user's import.
    await _carrier_holds(stack, ["CW00000001", "CW00000002", "CW00000003", _invoice("CW00000004")])
    notified: list[int] = []
    notifier = ResultNotifier(sandbox_base_url=None)

    async def notify(upload_id: int, now: dt.datetime) -> None:
        notified.append(upload_id)
        async with stack.db.session() as s, s.begin():
            await notifier.notify(s, upload_id, now)

    clock = {"now": entry + dt.timedelta(minutes=2)}
    sealer = CodeSealer.for_config(stack.service.app[CONFIG])
    async with MofClient(None, str(stack.mof.make_url("")).rstrip("/"), MOF_APP_ID, MOF_KEY,
                         clock=lambda: clock["now"].timestamp()) as mof:
        requeries = CarrierRequeries(stack.db, mof, sealer, notify, clock=lambda: clock["now"])
        await _sim_clock(stack, clock["now"])
        assert await requeries.run_due() == 1
        assert notified == []  # still not detailed
        clock["now"] = entry + dt.timedelta(hours=2)  # MOF has the second invoice's detail now
        await _sim_clock(stack, clock["now"])
        assert await requeries.run_due() == 1
        assert notified == [uploads[1].id]
        clock["now"] = row.query_until  # the last query, 3 days after the entry
        await _sim_clock(stack, clock["now"])
        assert await requeries.run_due() == 1
        assert notified == [uploads[1].id, uploads[2].id]
        clock["now"] += dt.timedelta(days=1)
        await _sim_clock(stack, clock["now"])
        assert await requeries.run_due() == 0
    after = await stack.uploads()
    assert [(u.invoice_number, u.status, u.reason if u.status == "invalid" else None) for u in after] == [
        ("CW00000001", "passed", None), ("CW00000002", "passed", None), ("CW00000003", "invalid", EXPIRED_REASON)]
    # Only the waiting invoices were asked again: no carrier listing after the entry.
    assert set((await _mof_actions(stack))[actions_at_entry:]) == {"carrierInvDetail"}
    async with stack.db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
        later = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.upload_id.in_(
            [uploads[1].id, uploads[2].id])).order_by(OutgoingMessage.id))).all()
    assert (row.state, row.sealed_code, row.sealed_barcode) == ("done", None, None)
    # Each later answer names its invoice.
    assert [str(m.messages["messages"]).count(n) > 0 for m, n in zip(later, ["CW-00000002", "CW-00000003"])] \
        == [True, True], [m.messages for m in later]


async def test_a_carrier_with_nothing_waiting_keeps_no_code(stack: Stack) -> None:
    await _carrier_holds(stack, [_invoice("CW00000011"), _invoice("CW00000012")])
    answer = await _import(stack)
    assert answer["counts"] == {"found": 2, "new": 2, "waiting": 0, "duplicates": 0, "not_eligible": 0,
                                "cap_reached": 0}
    async with stack.db.session() as s:
        assert (await s.scalars(select(CarrierQuery))).all() == []  # nothing to ask again: the code is not kept


async def test_cap_refusals_are_counted_apart_and_each_answer_names_its_invoice(make_stack) -> None:
    stack = await make_stack(cap=1)
    await _login_ready(stack)
    await _carrier_holds(stack, [_invoice("CW00000021"), _invoice("CW00000022"), _invoice("CW00000023")])
    answer = await _import(stack)
    assert answer["counts"] == {"found": 3, "new": 1, "waiting": 0, "duplicates": 0, "not_eligible": 0,
                                "cap_reached": 2}
    assert [u.status for u in await stack.uploads()] == ["passed", "invalid", "invalid"]
    assert "參與達上限：2 張" in answer["texts"][0] and "不符合資格：0 張" in answer["texts"][0]
    texts = await _queued_texts(stack)
    assert sorted(_answers_to(texts, CAP_REACHED_TEXT)) == ["CW-00000022", "CW-00000023"]


async def test_the_carrier_page_says_to_import_again_after_three_days(stack: Stack) -> None:
    url = stack.service.make_url(f"/liff/carrier?campaign={stack.campaign_id}")
    async with stack.line_client.session.get(url) as r:
        page = await r.text()
    assert r.status == 200
    assert "3 天內持續驗證" in page and "請再次匯入" in page
    assert 'id="count-waiting"' in page and 'id="count-cap_reached"' in page

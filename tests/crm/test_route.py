"""POST /backme/{page_key}: 404 unknown page, 401 bad signature, 400 malformed — nothing stored —
and an accepted order stored before the 200."""
from __future__ import annotations

import json

from bot.simulators import backme as sim
from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    Contribution,
    EmailOutbox,
    ReceivedDelivery,
    RecurringOrder,
)

from flows.backme.signature import sign

STORED = (Contribution, RecurringOrder, Contact, ChangeLogEntry, ReceivedDelivery, EmailOutbox)


async def _nothing_stored(crm) -> None:  # noqa: ANN001
    for model in STORED:
        assert await crm.count(model) == 0, model.__tablename__


async def test_unknown_page_is_404(crm):
    status, _ = await crm.post(sim.single_credit_success(), url=f"{crm.base_url}/backme/nope")
    assert status == 404
    await _nothing_stored(crm)


async def test_missing_and_wrong_signatures_are_401_and_store_nothing(crm):
    body = sim.single_credit_success()
    assert (await crm.post(body, secret=None))[0] == 401
    assert (await crm.post(body, secret="not-the-secret"))[0] == 401
    raw = sim.encode(body)
    tampered = raw.replace(b'"500.0"', b'"5.0"')
    status, text = await crm.post(tampered, signature=sign(raw, "page-secret-7f3a"))
    assert status == 401
    assert json.loads(text)["field"] == "X-Backme-Signature"
    await _nothing_stored(crm)


async def test_signature_is_checked_before_parsing(crm):
    # Garbage with a bad signature is 401 (not 400): nothing is parsed before authentication.
    assert (await crm.post(b"{not json", secret="wrong"))[0] == 401
    await _nothing_stored(crm)


async def test_malformed_bodies_are_400_naming_the_field(crm):
    cases = []
    no_trade = sim.single_credit_success()
    del no_trade["transaction"]["trade_no"]
    cases.append((no_trade, "transaction.trade_no"))
    bad_money = sim.single_credit_success()
    bad_money["transaction"]["money"] = "lots"
    cases.append((bad_money, "transaction.money"))
    bad_email = sim.single_credit_success()
    bad_email["user"]["email"] = "nobody"
    cases.append((bad_email, "user.email"))
    cases.append((b"[1, 2", "body"))
    for body, field in cases:
        status, text = await crm.post(body)
        assert status == 400, field
        answer = json.loads(text)
        assert answer["error"] == "malformed"
        assert answer["field"] == field
        assert answer["reason"]
    await _nothing_stored(crm)


async def test_oversized_body_is_refused(crm):
    big = b"{" + b" " * (300 * 1024) + b"}"
    status, _ = await crm.post(big)
    assert status == 413
    await _nothing_stored(crm)


async def test_accepted_order_is_committed_before_the_200(crm):
    status, text = await crm.post(sim.single_credit_success(), delivery_id="d-1")
    assert status == 200
    answer = json.loads(text)
    assert answer == {"ok": True, "trade_no": "REG1000000000000001", "action": "create",
                      "status": "completed", "duplicate": False}
    # Read through a separate connection: the transaction is committed already.
    [row] = await crm.rows(Contribution)
    assert row.trade_no == "REG1000000000000001"
    [delivery] = await crm.rows(ReceivedDelivery)
    assert delivery.delivery_id == "d-1"
    assert delivery.outcome == "create"
    assert len(delivery.body_sha256) == 64


async def test_redelivery_is_idempotent(crm):
    body = sim.single_credit_success()
    first = json.loads((await crm.post(body))[1])
    second = json.loads((await crm.post(body))[1])
    assert first["action"] == "create"
    assert second["action"] == "ignore" and second["duplicate"] is True
    assert await crm.count(Contribution) == 1
    assert await crm.count(Contact) == 1
    assert await crm.count(ChangeLogEntry) == 1
    assert await crm.count(ReceivedDelivery) == 2


async def test_trade_no_of_another_kind_is_409(crm):
    assert (await crm.post(sim.single_credit_success("T1")))[0] == 200
    status, text = await crm.post(sim.recurring_parent("T1"))
    assert status == 409
    assert json.loads(text)["field"] == "transaction.type"
    assert await crm.count(RecurringOrder) == 0

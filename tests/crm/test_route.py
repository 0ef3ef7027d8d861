"""POST /backme/{page_key}: 401 for a bad signature and for an unknown page alike, 400 malformed — nothing stored —
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


async def test_unknown_page_answers_exactly_like_a_bad_signature(crm, monkeypatch):
    """Page keys cannot be probed: an unknown (or malformed) key gets the bad-signature answer,
    after an HMAC computed against a dummy secret (the same work as for a known page)."""
    import bot.backme.route as route

    secrets_used: list[str] = []
    real_verify = route.verify_signature

    def spy(raw: bytes, header: str | None, secret: str) -> bool:
        secrets_used.append(secret)
        return real_verify(raw, header, secret)

    monkeypatch.setattr(route, "verify_signature", spy)
    body = sim.single_credit_success()
    bad_signature = await crm.post(body, secret="not-the-secret")
    for key in ("nope", "Bad%20Key"):
        # Signed with the demo page's own secret: still nothing reveals that "nope" is no page.
        for secret in ("page-secret-7f3a", "not-the-secret", None):
            answer = await crm.post(body, secret=secret, url=f"{crm.base_url}/backme/{key}")
            assert answer == bad_signature == (401, answer[1])
    assert json.loads(bad_signature[1]) == {"error": "bad signature", "field": "X-Backme-Signature"}
    assert len(secrets_used) == 7  # every request computed an HMAC
    assert secrets_used[0] == "page-secret-7f3a"
    assert all(s == route._DUMMY_SECRET and s != "page-secret-7f3a" for s in secrets_used[1:])
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

"""Real concurrency on PostgreSQL: duplicate deliveries racing through two app instances end in
one contribution and one contact; receipt numbers stay gap-free under concurrent completions."""
from __future__ import annotations

import asyncio
import json

from bot.simulators import backme as sim
from bot.storage.crm_models import ChangeLogEntry, Contact, Contribution, EmailOutbox, ReceivedDelivery

from tests.crm.conftest import start_app


async def test_concurrent_duplicates_make_one_contribution(pg_crm, aiohttp_server, tmp_path):
    second = await start_app(aiohttp_server, pg_crm.db.url.render_as_string(hide_password=False), tmp_path)
    body = sim.single_credit_success("REGDUP", receipt=sim.make_receipt(option="single_e_receipt", email="r@example.org"))
    urls = [pg_crm.order_url, f"{second}/backme/demo"] * 8
    results = await asyncio.gather(*(pg_crm.post(body, url=u) for u in urls))
    assert [s for s, _ in results] == [200] * 16
    actions = sorted(json.loads(t)["action"] for _, t in results)
    assert actions == ["create"] + ["ignore"] * 15
    assert await pg_crm.count(Contribution) == 1
    assert await pg_crm.count(Contact) == 1
    assert await pg_crm.count(ChangeLogEntry) == 1
    assert await pg_crm.count(ReceivedDelivery) == 16
    [c] = await pg_crm.rows(Contribution)
    assert c.receipt_number == "OC-000001"
    assert await pg_crm.count(EmailOutbox) == 2


async def test_concurrent_new_buyer_orders_share_one_contact(pg_crm):
    bodies = [sim.single_credit_success(f"REGN{n}") for n in range(10)]
    results = await asyncio.gather(*(pg_crm.post(b) for b in bodies))
    assert [s for s, _ in results] == [200] * 10
    assert await pg_crm.count(Contribution) == 10
    [contact] = await pg_crm.rows(Contact)
    assert contact.external_identifier == "backer-270004"
    assert {c.contact_id for c in await pg_crm.rows(Contribution)} == {contact.id}


async def test_receipt_numbers_gap_free_under_concurrency(pg_crm):
    receipt = sim.make_receipt()
    completed = [sim.single_credit_success(f"REGG{n:02d}", receipt=receipt) for n in range(20)]
    failed = [sim.credit_failed(f"REGF{n:02d}", receipt=receipt) for n in range(5)]
    results = await asyncio.gather(*(pg_crm.post(b) for b in completed + failed))
    assert {s for s, _ in results} == {200}
    rows = await pg_crm.rows(Contribution)
    numbers = sorted(c.receipt_number for c in rows if c.receipt_number)
    assert numbers == [f"OC-{n:06d}" for n in range(1, 21)]
    assert all(c.receipt_number is None for c in rows if c.status == "failed")


async def test_receipt_numbers_gap_free_sequentially(crm):
    receipt = sim.make_receipt()
    await crm.post(sim.single_credit_success("A1", receipt=receipt))
    await crm.post(sim.credit_failed("A2", receipt=receipt))
    await crm.post(sim.atm_wait("A3", receipt=receipt, updated=sim.at(0)))
    await crm.post(sim.single_credit_success("A4", receipt=sim.make_receipt("不需要收據")))
    await crm.post(sim.evolve(sim.atm_wait("A3", receipt=receipt), render_status="success",
                              updated=sim.at(10), paid=sim.at(9)))
    numbers = {c.trade_no: c.receipt_number for c in await crm.rows(Contribution)}
    assert numbers == {"A1": "OC-000001", "A2": None, "A3": "OC-000002", "A4": None}

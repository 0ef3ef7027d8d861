"""The simulator's control API: seeding, faults and clock validation, request log."""
from __future__ import annotations

import datetime as dt

import aiohttp
from aiohttp.test_utils import TestServer

from bot.mof import wire
from tests.mof.simdata import APP_ID, sim_post, sim_requests


async def test_seed_errors_name_the_field(mof_server: TestServer) -> None:
    status, body = await sim_post(mof_server, "/_sim/invoices", {"invoices": [{"invNum": "bad"}]})
    assert status == 400 and body["error"] == "invoices[0].invNum: not an invoice number"
    status, body = await sim_post(
        mof_server, "/_sim/invoices",
        {"invoices": [{"invNum": "AB00000001", "invDate": "2024-02-30", "randomNumber": "1",
                       "sellerBan": "1", "sellerName": "s"}]},
    )
    assert status == 400 and body["error"] == "invoices[0].invDate: not a date (yyyy-MM-dd)"
    status, body = await sim_post(mof_server, "/_sim/invoices", {"carriers": [{"cardNo": "/ABC1234"}]})
    assert status == 400 and body["error"] == "carriers[0].verifyCode: missing"


async def test_fault_and_clock_validation(mof_server: TestServer) -> None:
    assert (await sim_post(mof_server, "/_sim/faults", {"explode": 1}))[0] == 400
    assert (await sim_post(mof_server, "/_sim/faults", {"hang": -1}))[0] == 400
    assert (await sim_post(mof_server, "/_sim/faults", {"server_error_status": 404}))[0] == 400
    assert (await sim_post(mof_server, "/_sim/clock", {"now": "yesterday"}))[0] == 400
    status, body = await sim_post(mof_server, "/_sim/clock", {"now": "2024-03-05T10:00:00"})
    assert status == 200 and body == {"now": "2024-03-05T10:00:00+08:00", "fixed": True}
    status, body = await sim_post(mof_server, "/_sim/clock", {"now": None})
    assert body["fixed"] is False
    assert abs(dt.datetime.fromisoformat(body["now"]) - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)


async def test_request_log_and_reset(mof_server: TestServer) -> None:
    params = {"version": "0.5", "action": "qryInvHeader", "type": "Barcode", "invNum": "AB12345678",
              "invDate": "2024/03/05", "generation": "V2", "UUID": "u", "appID": APP_ID}
    async with aiohttp.ClientSession() as s:
        async with s.post(mof_server.make_url(wire.INVAPP_PATH), data=params) as r:
            assert (await r.json(content_type=None))["invNum"] == "AB12345678"
        async with s.get(mof_server.make_url(wire.INVAPP_PATH)) as r:
            assert r.status == 405  # the real API accepts POST only since v1.7
        async with s.post(mof_server.make_url(wire.INVAPP_PATH), data={**params, "generation": "V1"}) as r:
            assert (await r.json(content_type=None))["code"] == "903"
    log = await sim_requests(mof_server)
    assert [entry["params"]["generation"] for entry in log] == ["V2", "V1"]
    await sim_post(mof_server, "/_sim/reset", {})
    assert await sim_requests(mof_server) == []

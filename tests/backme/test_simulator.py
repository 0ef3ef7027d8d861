"""The Backme simulator over real HTTP on 127.0.0.1: signed posts into a receiver built on the
flows (signature → parse → trade state), scenario scripts, and the project stats API."""
from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.simulators import backme as sim
from flows.backme.payload import BackmePayloadError, parse_order
from flows.backme.signature import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature
from flows.backme.trade_state import apply_order

SECRET = "page-secret-1234"
STATES = web.AppKey("states", dict)
DELIVERIES = web.AppKey("deliveries", list)


def receiver_app() -> web.Application:
    """A minimal webhook on top of the flows, recording what it received and the trade states."""
    app = web.Application()
    app[STATES] = {}
    app[DELIVERIES] = []

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), SECRET):
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            order = parse_order(raw)
        except BackmePayloadError as exc:
            return web.json_response({"error": str(exc), "field": exc.field}, status=400)
        app[DELIVERIES].append(request.headers.get(DELIVERY_HEADER))
        decision = apply_order(app[STATES].get(order.trade_no), order)
        app[STATES][order.trade_no] = decision.state
        return web.json_response({"action": decision.action.value, "status": decision.state.status.value})

    app.router.add_post("/backme/hook", hook)
    return app


@pytest.fixture
async def receiver(aiohttp_server):
    server = await aiohttp_server(receiver_app(), host="127.0.0.1")
    return server


async def test_post_signs_the_body_and_sends_a_delivery_id(receiver):
    url = str(receiver.make_url("/backme/hook"))
    status, text = await sim.post(url, sim.single_credit_success("REG1"), SECRET, delivery_id="d-1")
    assert status == 200 and '"action": "create"' in text
    assert receiver.app[DELIVERIES] == ["d-1"]
    assert receiver.app[STATES]["REG1"].status.value == "completed"


async def test_wrong_secret_and_missing_signature_are_401(receiver):
    url = str(receiver.make_url("/backme/hook"))
    assert (await sim.post(url, sim.single_credit_success("REG1"), "wrong-secret"))[0] == 401
    assert (await sim.post(url, sim.single_credit_success("REG1"), None))[0] == 401
    assert receiver.app[STATES] == {}


async def test_malformed_body_is_400_naming_the_field(receiver):
    body = sim.single_credit_success("REG1")
    body["transaction"]["money"] = 500
    status, text = await sim.post(str(receiver.make_url("/backme/hook")), body, SECRET)
    assert status == 400 and "transaction.money" in text


@pytest.mark.parametrize("name", sorted(sim.scenarios()))
async def test_scenarios_end_in_their_expected_states(receiver, name):
    scenario = sim.scenarios()[name]
    results = await sim.run_scenario(str(receiver.make_url("/backme/hook")), scenario, SECRET)
    assert all(status == 200 for status, _ in results)
    assert {t: s.status.value for t, s in receiver.app[STATES].items()} == dict(scenario.expected)


def test_scenarios_contain_duplicates_and_reorderings():
    scenarios = sim.scenarios()
    for name in ("atm_wait_then_success", "refund_before_order", "recurring_term_done"):
        bodies = [sim.encode(d.body) for d in scenarios[name].deliveries]
        assert len(set(bodies)) < len(bodies), name  # a redelivery
        times = [parse_order(b).updated_at for b in bodies]
        assert times != sorted(times), name  # not in time order
        ids = [d.delivery_id for d in scenarios[name].deliveries]
        assert len(set(ids)) == len(ids), name


def test_builders_make_valid_bodies_of_each_kind():
    bodies = [sim.single_credit_success(), sim.atm_wait(), sim.cvs_wait_code(), sim.credit_failed(),
              sim.refunded(sim.single_credit_success(), sim.at(5)), sim.recurring_parent(),
              sim.recurring_child("SUB2000000000000001", 3), sim.make_order("REG8", recipient=None),
              sim.with_custom_fields(sim.make_order("REG9"), [sim.make_custom_field(1, "尺寸", "L", "select_box")])]
    kinds = {parse_order(sim.encode(b)).type.value for b in bodies}
    assert kinds == {"normal", "parent", "child"}
    assert parse_order(sim.encode(bodies[-2])).recipient is None
    assert parse_order(sim.encode(bodies[-1])).transaction.items[0].custom_fields[0].value == "L"


# ---------------------------------------------------------------- stats API

PROJECT = sim.ProjectStats(id=1234, token="a56898195dff0b36b987e9e0602f2d1f", title="挖貝募資案",
                           url="https://demo.backme.tw/projects/1234", money_pledged=5000, backer_count=12)


@pytest.fixture
async def stats_server(aiohttp_server):
    project = sim.ProjectStats(**{**PROJECT.__dict__})
    return await aiohttp_server(sim.create_backme_stats_app([project]), host="127.0.0.1")


async def _get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return response.status, await response.json()


async def test_stats_api_serves_a_project_with_its_token(stats_server):
    status, body = await _get(str(stats_server.make_url(f"/api/projects/1234.json?token={PROJECT.token}")))
    assert status == 200
    assert (body["id"], body["title"], body["money_pledged"], body["backer_count"], body["money_goal"]) == (1234, "挖貝募資案", 5000, 12, 0)
    assert "token" not in body


@pytest.mark.parametrize("query", ["", "?token=", "?token=a56898195dff0b36b987e9e0602f2d1e", "?tok=x"])
async def test_stats_api_refuses_a_bad_token(stats_server, query):
    status, body = await _get(str(stats_server.make_url(f"/api/projects/1234.json{query}")))
    assert status == 401 and body == {"error": "unauthorized"}


async def test_stats_api_unknown_project_is_404(stats_server):
    status, _ = await _get(str(stats_server.make_url(f"/api/projects/999.json?token={PROJECT.token}")))
    assert status == 404


async def test_stats_follow_changes_to_the_live_projects(stats_server):
    stats_server.app[sim.PROJECTS_KEY]["1234"].money_pledged += 800
    stats_server.app[sim.PROJECTS_KEY]["1234"].backer_count += 1
    _, body = await _get(str(stats_server.make_url(f"/api/projects/1234.json?token={PROJECT.token}")))
    assert (body["money_pledged"], body["backer_count"]) == (5800, 13)


@pytest.mark.parametrize("command", [["bot.simulators.backme", "serve"], ["bot.simulators", "backme"]])
async def test_standalone_serve_command_answers_over_http(unused_tcp_port_factory, command):
    import asyncio
    import sys
    from pathlib import Path

    port = unused_tcp_port_factory()
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *command, "--port", str(port), cwd=str(root),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        demo = sim.demo_projects()[0]
        url = f"http://127.0.0.1:{port}/api/projects/{demo.id}.json?token={demo.token}"
        for _ in range(100):
            try:
                status, body = await _get(url)
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the simulator did not start")
        assert status == 200 and body["backer_count"] == demo.backer_count
    finally:
        proc.terminate()
        await proc.wait()

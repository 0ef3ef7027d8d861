"""Reverse sync: the CRM-side totals endpoint (token checked), the puller against the Backme
simulator's project stats API, and the public page with the combined total and the link."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.backme.reverse import StatsError, parse_stats, pull_all, split_stats_url
from bot.simulators import backme as sim
from bot.storage.crm_models import Contribution, DonationPage
from bot.storage.models import utcnow

from tests.crm.conftest import REVERSE_TOKEN


async def _crm_page_donation(crm, trade_no: str, amount: str, status: str = "completed",  # noqa: ANN001
                             is_test: bool = False) -> None:
    """A donation made on the CRM page itself (not through Backme)."""
    now = utcnow()
    async with crm.db.session() as session:
        session.add(Contribution(page_id=crm.page_id, processor="綠界", trade_no=trade_no, order_type="normal",
                                 amount=Decimal(amount), financial_type="捐款", status=status, is_test=is_test,
                                 order_updated_at=now, fingerprint="-", order_created_at=now))
        await session.commit()


async def _get(crm, path: str) -> tuple[int, str]:  # noqa: ANN001
    async with crm.http.get(f"{crm.base_url}{path}") as response:
        return response.status, await response.text()


async def test_stats_endpoint_counts_only_crm_side_completed(crm):
    await crm.post(sim.single_credit_success("REGB1"))  # Backme's own: excluded
    await _crm_page_donation(crm, "CRM1", "1000")
    await _crm_page_donation(crm, "CRM2", "250.5")
    await _crm_page_donation(crm, "CRM3", "999", status="failed")
    await _crm_page_donation(crm, "CRM4", "777", is_test=True)
    status, text = await _get(crm, f"/backme/demo/stats?token={REVERSE_TOKEN}")
    assert status == 200
    assert json.loads(text) == {"people": 2, "amount": 1250.5}


async def test_neticrm_stat_route_answers_backer_without_our_token_for_reverse_sync_pages(crm):
    await crm.post(sim.single_credit_success("REGB1"))
    await _crm_page_donation(crm, "CRM1", "1000")
    headers = {"X-CiviCRM-Access-From": "backer"}

    async def get(query: str, hdrs: dict | None = headers) -> tuple[int, dict]:
        async with crm.http.get(f"{crm.base_url}/civicrm/contribute/stat{query}", headers=hdrs) as response:
            return response.status, await response.json()

    # netiCRM's protocol as Backme speaks it: the header and the id, no token of ours (issue 28).
    assert await get("?id=demo") == (200, {"people": 1, "amount": 1000})
    assert await get("?id=demo&token=anything") == (200, {"people": 1, "amount": 1000})
    status, body = await get(f"?id=demo&token={REVERSE_TOKEN}", hdrs=None)
    assert (status, body["field"]) == (400, "X-CiviCRM-Access-From")
    status, body = await get(f"?id=demo&token={REVERSE_TOKEN}", hdrs={"X-CiviCRM-Access-From": "someone"})
    assert (status, body["field"]) == (400, "X-CiviCRM-Access-From")
    assert (await get(f"?token={REVERSE_TOKEN}"))[1]["field"] == "id"
    assert (await get("?id=other"))[0] == 404
    async with crm.db.session() as session:  # reverse sync off: the page is unknown to the protocol
        await session.execute(update(DonationPage).values(reverse_sync_enabled=False))
        await session.commit()
    assert (await get("?id=demo"))[0] == 404


async def test_stats_endpoint_refuses_bad_tokens(crm):
    assert (await _get(crm, "/backme/demo/stats"))[0] == 401
    assert (await _get(crm, "/backme/demo/stats?token=wrong"))[0] == 401
    assert (await _get(crm, f"/backme/other/stats?token={REVERSE_TOKEN}"))[0] == 404
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(reverse_sync_enabled=False))
        await session.commit()
    assert (await _get(crm, f"/backme/demo/stats?token={REVERSE_TOKEN}"))[0] == 404


async def test_puller_reads_the_simulator_and_page_shows_combined_total(crm, aiohttp_server):
    project = sim.ProjectStats(id=1234, token="a56898195dff0b36b987e9e0602f2d1f", title="海洋計畫",
                               url="https://ocean.backme.tw/projects/1234", money_pledged=123456, backer_count=321,
                               money_goal=500000)
    stats_app = sim.create_backme_stats_app([project])
    server = await aiohttp_server(stats_app, host="127.0.0.1")
    root = str(server.make_url("/")).rstrip("/")
    base, project_id, token = split_stats_url(f"{root}/api/projects/1234.json?token={project.token}")
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(backme_api_base=base, backme_project_id=project_id,
                                                          backme_api_token=token))
        await session.commit()
    assert await pull_all(crm.db, crm.http) == {"demo": "ok"}
    [page] = await crm.rows(DonationPage)
    assert (page.backme_money, page.backme_count, page.backme_goal, page.backme_pull_error) == (
        Decimal("123456"), 321, Decimal("500000"), None)
    await _crm_page_donation(crm, "CRM1", "544")
    status, html = await _get(crm, "/backme/demo/page")
    assert status == 200
    assert '<span id="amount">124000</span>' in html
    assert '<span id="count">322</span>' in html
    assert '<a href="https://ocean.backme.tw/projects/1234">本專案與 挖貝海洋計畫 共同募款</a>' in html
    assert '<span id="goal">500000</span>' in html
    # The simulator moves on: the next pull follows it.
    stats_app[sim.PROJECTS_KEY]["1234"].money_pledged = 200000
    await pull_all(crm.db, crm.http)
    assert '<span id="amount">200544</span>' in (await _get(crm, "/backme/demo/page"))[1]


async def test_puller_records_a_bad_token_without_losing_last_figures(crm, aiohttp_server):
    project = sim.ProjectStats(id=7, token="right", title="x", url="https://x.backme.tw/projects/7",
                               money_pledged=10, backer_count=1)
    server = await aiohttp_server(sim.create_backme_stats_app([project]), host="127.0.0.1")
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(
            backme_api_base=str(server.make_url("")).rstrip("/"), backme_project_id=7, backme_api_token="wrong",
            backme_money=Decimal(5), backme_count=1))
        await session.commit()
    outcome = await pull_all(crm.db, crm.http)
    assert outcome["demo"] == "status: Backme answered HTTP 401"
    [page] = await crm.rows(DonationPage)
    assert page.backme_money == Decimal(5) and page.backme_pull_error.startswith("status")


async def test_page_without_reverse_sync_has_no_link_and_escapes_names(crm):
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(reverse_sync_enabled=False, name="<b>海</b>"))
        await session.commit()
    await crm.post(sim.single_credit_success("REGB1"))
    status, html = await _get(crm, "/backme/demo/page")
    assert status == 200
    assert "共同募款" not in html
    assert "&lt;b&gt;海&lt;/b&gt;" in html
    assert '<span id="amount">500</span>' in html
    assert (await _get(crm, "/backme/missing/page"))[0] == 404


def test_parse_stats_reads_neticrms_field_names():
    totals = parse_stats({"id": 1, "title": "t", "money_pledged": 10, "backer_count": "3", "money_goal": 900,
                          "pledged_count": 4, "rewards": []})
    assert (totals.amount, totals.count, totals.goal) == (Decimal(10), 3, Decimal(900))
    assert parse_stats({"money_pledged": 10, "backer_count": 3}).goal is None  # money_goal only where present
    with pytest.raises(StatsError) as err:
        parse_stats({"money_pledged": 10, "backers_count": 3})  # the old, wrong field name
    assert err.value.field == "backer_count"
    with pytest.raises(StatsError) as err:
        parse_stats({"money_pledged": 10, "backer_count": 3, "goal_money": 5, "money_goal": "lots"})
    assert err.value.field == "money_goal"
    with pytest.raises(StatsError) as err:
        parse_stats({"money_pledged": -1, "backer_count": 1})
    assert err.value.field == "money_pledged"
    with pytest.raises(StatsError) as err:
        split_stats_url("https://x.backme.tw/projects/1")
    assert err.value.field == "stats_url"
    assert split_stats_url("https://t.backme.tw/api/projects/12.json?token=abc") == ("https://t.backme.tw", 12, "abc")

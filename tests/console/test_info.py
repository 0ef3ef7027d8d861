"""活動資訊 over HTTP on SQLite and PostgreSQL: the six figures and their percentages, the per-day
SVG chart, the participant list (filters, search, date range, sort, pages, links that keep the
other parameters), fresh signed thumbnails, streamed and audited downloads, and the winner draw."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape
from urllib.parse import parse_qs, unquote, urlsplit

import openpyxl
import pytest
import time_machine
from sqlalchemy import select

from bot.appkeys import CONFIG
from bot.campaigns.exports import BOM, ITEM_COLUMNS, PARTICIPANT_COLUMNS
from bot.campaigns.stats import ParticipantFilter, ParticipantSort, participants
from bot.storage.models import AuditEntry, utcnow
from flows.campaigns.roles import Role
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import InvoiceSource
from tests.console.campaigns_fixtures import Console, make_console
from tests.console.info_fixtures import JPEG, bare_campaign, seed_info


@pytest.fixture
async def console(aiohttp_server, aiohttp_client, database_url, tmp_path) -> Console:
    harness = await make_console(aiohttp_server, aiohttp_client, database_url, tmp_path)
    yield harness
    await harness.db.close()


async def page(client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return await response.text()


def figure(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{key}">(.*?)</dd>', html, re.S)
    assert found, key
    return re.sub(r"<[^>]+>", "", found.group(1)).split()[0] + " " + "".join(
        re.findall(r"（([\d.]+%)）", found.group(1)))


def listed_numbers(html: str) -> list[str]:
    return re.findall(r'<td class="number">([^<]*)</td>', html)


# --- figures and chart ---------------------------------------------------------------------------------

async def test_figures_and_percentages(console):
    world = await seed_info(console)
    html = await page(await console.sign_in(Role.SALES_AGENT), f"/console/campaigns/{world.campaign_id}/info")
    # 7 counted uploads (the duplicate and the unreadable one are not), 5 users (all of them)
    assert figure(html, "uploads").strip() == "7"
    assert figure(html, "participants").strip() == "5"
    assert figure(html, "passed") == "2 28.6%"
    assert figure(html, "invalid") == "1 14.3%"
    assert figure(html, "pending") == "3 42.9%"
    assert figure(html, "not_qualified") == "1 14.3%"
    assert "重複登錄 1 張、無法辨識 1 張" in html


async def test_chart_has_one_series_per_status_and_the_day_totals(console):
    world = await seed_info(console)
    html = await page(await console.sign_in(Role.MARKETER), f"/console/campaigns/{world.campaign_id}/info")
    svg = html[html.index("<svg class=\"day-chart\""):html.index("</svg>", html.index("<svg class=\"day-chart\""))]
    series = re.findall(r'<g class="series" data-status="(\w+)"', svg)
    assert series == ["passed", "invalid", "pending", "not_qualified"]
    totals: dict[str, int] = {}
    for day, count in re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', svg):
        totals[day] = totals.get(day, 0) + int(count)
    # Taipei days: 09-02 has 2 passed + 1 invalid (23:30); 00:30 on 09-03 is 09-03; 09-04 has none
    assert totals == {"2023-09-02": 3, "2023-09-03": 2, "2023-09-05": 2}
    table = dict(re.findall(r'<tr data-day="([\d-]+)">.*?<td class="total">(\d+)</td>', html))
    assert table == {"2023-09-02": "3", "2023-09-03": "2", "2023-09-04": "0", "2023-09-05": "2"}
    passed = re.search(r'data-status="passed".*?</g>', svg, re.S).group(0)
    assert re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', passed) == [("2023-09-02", "2")]


async def test_a_campaign_without_uploads_shows_zeros(console):
    cid = await bare_campaign(console)
    html = await page(await console.sign_in(Role.MARKETER), f"/console/campaigns/{cid}/info")
    assert figure(html, "uploads").strip() == "0" and figure(html, "passed") == "0 0.0%"
    assert "（尚無上傳）" in html and "沒有符合的上傳" in html and "尚未抽獎" in html
    assert (await (await console.sign_in(Role.MARKETER)).get(f"/console/campaigns/{cid + 99}/info")).status == 404


# --- participant list ---------------------------------------------------------------------------------

async def test_participant_filters_in_the_service_layer(console):
    world = await seed_info(console)
    cid = world.campaign_id

    async def numbers(**kw) -> list[str | None]:
        sort = kw.pop("sort", ParticipantSort.UPLOADED)
        descending = kw.pop("descending", True)
        async with console.db.session() as s:
            found = await participants(s, cid, where=ParticipantFilter(**kw), sort=sort, descending=descending)
        assert found.total == len(found.rows)
        return [r.invoice_number for r in found.rows]

    assert await numbers() == ["CD00000007", "CD00000006", "CD00000005", "AB00000004", "AB00000003",
                               "AB00000002", "AB00000001"]
    assert await numbers(status=UploadStatus.PENDING) == ["CD00000006", "CD00000005", "AB00000004"]
    assert await numbers(status=UploadStatus.DUPLICATE) == ["AB00000001"]
    assert await numbers(source=InvoiceSource.MANUAL) == ["CD00000006", "AB00000002"]
    assert await numbers(search="ab-00000003") == ["AB00000003"]
    assert await numbers(search="AB00000001") == ["AB00000001"]  # the duplicate is not counted
    assert await numbers(search=f"U{2:032d}") == ["CD00000006", "CD00000005"]
    assert await numbers(search="小明") == ["AB00000002", "AB00000001"]
    assert await numbers(search="_100%") == ["CD00000006", "CD00000005"]  # LIKE characters are literal
    assert await numbers(search="1%0") == []  # "%" is no wildcard: "Amy_100%" does not match
    assert await numbers(since=dt.date(2023, 9, 3), until=dt.date(2023, 9, 3)) == ["CD00000005", "AB00000004"]
    assert await numbers(until=dt.date(2023, 9, 2)) == ["AB00000003", "AB00000002", "AB00000001"]
    assert (await numbers(sort=ParticipantSort.INVOICE_NUMBER, descending=False))[:2] == ["AB00000001", "AB00000002"]
    # none verified yet: empty 驗證時間 ties go by upload id, in the sort's direction
    assert await numbers(sort=ParticipantSort.VERIFIED, descending=False) == [
        "AB00000001", "AB00000002", "AB00000003", "AB00000004", "CD00000005", "CD00000006", "CD00000007"]
    async with console.db.session() as s:
        capped = await participants(s, cid, limit=2, count_cap=3)
    assert capped.total == 4 and capped.more_than(3) and not capped.more_than(None) and len(capped.rows) == 2


async def test_participant_list_filters_pages_and_sorts_over_http(console):
    world = await seed_info(console)
    reader = await console.sign_in(Role.SUPPORT_AGENT)
    path = f"/console/campaigns/{world.campaign_id}/info"
    html = await page(reader, path)
    assert listed_numbers(html)[0] == "CD00000007" and "共 7 筆" in html
    html = await page(reader, path + "?status=pending&source=manual")
    assert listed_numbers(html) == ["CD00000006"]
    html = await page(reader, path + "?q=%E5%B0%8F%E6%98%8E&from=2023-09-02&to=2023-09-02")  # 小明
    assert listed_numbers(html) == ["AB00000002", "AB00000001"]
    # the sort links keep the filters and go back to page 1
    sort_link = unescape(re.search(r'<a href="([^"]*sort=invoice_number[^"]*)"', html).group(1))
    query = parse_qs(urlsplit(sort_link).query)
    assert query == {"q": ["小明"], "from": ["2023-09-02"], "to": ["2023-09-02"], "sort": ["invoice_number"]}
    html = await page(reader, sort_link.split("#")[0])
    assert listed_numbers(html) == ["AB00000002", "AB00000001"]  # descending first
    flipped = unescape(re.search(r'<a href="([^"]*sort=invoice_number[^"]*)"', html).group(1))
    assert "dir=asc" in flipped
    assert listed_numbers(await page(reader, flipped.split("#")[0])) == ["AB00000001", "AB00000002"]
    bad = await page(reader, path + "?from=2023-13-01&to=x&status=nope&page=-3")
    assert 'id="from-error">請輸入日期（年-月-日）' in bad and "共 7 筆" in bad


async def test_participant_list_pages_keep_the_filters(console):
    world = await seed_info(console)
    from tests.campaign_store.data import add_upload, taipei

    for n in range(60):
        await add_upload(console.db, world.campaign_id, world.customers[0], f"EF{n:08d}", status="pending",
                         source="manual", uploaded_at=taipei(2023, 9, 10, 8, n % 60))
    reader = await console.sign_in(Role.SALES_AGENT)
    path = f"/console/campaigns/{world.campaign_id}/info"
    first = await page(reader, path + "?status=pending&source=manual")
    assert "共 61 筆" in first and "第 1 / 2 頁" in first and len(listed_numbers(first)) == 50
    following = unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert parse_qs(urlsplit(following).query) == {"status": ["pending"], "source": ["manual"], "page": ["2"]}
    second = await page(reader, following.split("#")[0])
    assert len(listed_numbers(second)) == 11 and "第 2 / 2 頁" in second
    assert not set(listed_numbers(first)) & set(listed_numbers(second))


# --- thumbnails -----------------------------------------------------------------------------------

async def test_thumbnails_are_signed_links_made_fresh_for_each_view(console):
    world = await seed_info(console)
    reader = await console.sign_in(Role.SALES_AGENT)
    path = f"/console/campaigns/{world.campaign_id}/info?status=passed"
    now = utcnow()
    with time_machine.travel(now, tick=False):
        first = await page(reader, path)
    with time_machine.travel(now + dt.timedelta(minutes=5), tick=False):
        second = await page(reader, path)
    links = [unescape(x) for x in re.findall(r'<img class="thumb" src="([^"]+)"', first)]
    again = [unescape(x) for x in re.findall(r'<img class="thumb" src="([^"]+)"', second)]
    assert len(links) == 1 and len(again) == 1 and links != again  # the passed photo upload only
    assert links[0].startswith("/photos/9/a.jpg?e=") and "&t=" in links[0]  # same origin: img-src 'self'
    assert f'<a href="{links[0]}"'.replace("&", "&amp;") in first  # the thumbnail opens the full photo
    photo = await reader.client.get(links[0])
    assert photo.status == 200 and await photo.read() == JPEG
    expires = int(parse_qs(urlsplit(links[0]).query)["e"][0])
    assert expires == int(now.timestamp()) + 7 * 86400
    forged = links[0].replace("t=", "t=0")
    assert (await reader.client.get(forged)).status == 404


# --- downloads ----------------------------------------------------------------------------------------

async def download(client, cid: int, kind: str, fmt: str):
    response = await client.get(f"/console/campaigns/{cid}/export?kind={kind}&format={fmt}")
    return response, await response.read()


async def test_csv_downloads_stream_with_zh_tw_file_names(console):
    world = await seed_info(console)
    reader = await console.sign_in(Role.SUPPORT_AGENT)
    response, body = await download(reader, world.campaign_id, "participants", "csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers.get("Transfer-Encoding") == "chunked"  # streamed, no Content-Length
    assert response.headers["Cache-Control"] == "no-store" and "Content-Security-Policy" in response.headers
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="campaign-{world.campaign_id}-participants-')
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith(f"參加名單-活動{world.campaign_id}-")
    assert body.startswith(BOM)
    rows = list(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8"), newline="")))
    assert rows[0] == list(PARTICIPANT_COLUMNS) and len(rows) == 1 + 9  # every status
    photo = next(r[8] for r in rows[1:] if r[8])
    assert photo.startswith(console.server.app[CONFIG].base_url + "/photos/9/a.jpg?e=")
    items, body = await download(reader, world.campaign_id, "items", "csv")
    assert items.status == 200 and "%E7%99%BC%E7%A5%A8%E6%98%8E%E7%B4%B0" in items.headers["Content-Disposition"]
    assert next(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8")))) == list(ITEM_COLUMNS)


async def test_xlsx_downloads_open_with_openpyxl(console):
    world = await seed_info(console)
    reader = await console.sign_in(Role.SALES_MANAGER)
    for kind, columns, sheet, rows in (("participants", PARTICIPANT_COLUMNS, "參加名單", 9),
                                       ("items", ITEM_COLUMNS, "發票明細", 0)):
        response, body = await download(reader, world.campaign_id, kind, "xlsx")
        assert response.status == 200 and response.headers.get("Transfer-Encoding") == "chunked"
        assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert response.headers["Content-Disposition"].endswith(".xlsx")
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        assert book.sheetnames == [sheet]
        values = list(book[sheet].iter_rows(values_only=True))
        assert list(values[0]) == list(columns) and len(values) == 1 + rows


async def test_downloads_are_refused_without_the_right_and_audited(console):
    world = await seed_info(console)
    nobody = await console.sign_in(Role.NO_ACCESS)
    response, _ = await download(nobody, world.campaign_id, "participants", "csv")
    assert response.status == 403
    reader = await console.sign_in(Role.SUPPORT_AGENT, name="carol")
    assert (await download(reader, world.campaign_id, "items", "xlsx"))[0].status == 200
    assert (await download(reader, world.campaign_id, "nope", "xlsx"))[0].status == 404
    async with console.db.session() as s:
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.export"))).all()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor_id == reader.actor.id and entry.target == f"campaign:{world.campaign_id}"
    assert {k: entry.detail[k] for k in ("actor", "kind", "format", "rows", "via")} == {
        "actor": "carol", "kind": "items", "format": "xlsx", "rows": 0, "via": "console"}


# --- the winner draw ----------------------------------------------------------------------------------

def winners(html: str) -> list[list[str]]:
    draws = re.findall(r'<div class="draw" data-seed="(\d+)">(.*?)</div>', html, re.S)
    return [[seed, *re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", body)] for seed, body in draws]


async def test_lottery_is_reproducible_from_its_seed_and_kept(console):
    world = await seed_info(console)
    marketer = await console.sign_in(Role.MARKETER)
    path = f"/console/campaigns/{world.campaign_id}"
    drawn = await marketer.post(path + "/lottery", {"count": "1", "seed": "12345"})
    assert drawn.status == 303 and drawn.headers["Location"].endswith("/info?drawn=1#lottery")
    again = await marketer.post(path + "/lottery", {"count": "1", "seed": "12345"})
    assert again.status == 303
    fresh = await marketer.post(path + "/lottery", {"count": "5", "one_per_user": "1"})
    assert fresh.status == 303
    html = await page(marketer, path + "/info")
    kept = winners(html)
    assert len(kept) == 3
    newest, second, first = kept
    assert first[0] == second[0] == "12345" and first[1:] == second[1:]  # the same seed, the same winner
    passed = {str(world.uploads[0]), str(world.uploads[1])}
    assert {upload for _, upload in first[1:]} <= passed
    assert len(newest) == 2 and newest[1][1] in passed  # one win per user: customer 0 owns both passed
    async with console.db.session() as s:
        seeds = [e.detail["seed"] for e in (await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "campaign.lottery").order_by(AuditEntry.id))).all()]
    assert seeds[:2] == [12345, 12345] and str(seeds[2]) == newest[0]


async def test_lottery_errors_are_shown_beside_the_field(console):
    world = await seed_info(console)
    marketer = await console.sign_in(Role.MARKETER)
    path = f"/console/campaigns/{world.campaign_id}/lottery"
    bad = await marketer.post(path, {"count": "0", "seed": "x"})
    html = await bad.text()
    assert bad.status == 422 and 'id="count-error">請輸入 1～1000 的整數' in html and 'id="seed-error">種子須為' in html
    empty = await bare_campaign(console)
    nothing = await marketer.post(f"/console/campaigns/{empty}/lottery", {"count": "1"})
    assert nothing.status == 422 and "此活動還沒有「通過」的發票可以抽獎" in await nothing.text()
    immediate = await bare_campaign(console, timing="immediate")
    refused = await marketer.post(f"/console/campaigns/{immediate}/lottery", {"count": "1"})
    assert refused.status == 422 and "抽獎只適用於「僅搜集名單」的活動" in await refused.text()
    assert 'id="lottery"' not in await page(marketer, f"/console/campaigns/{immediate}/info")
    reader = await console.sign_in(Role.SUPPORT_AGENT)
    assert (await reader.post(path, {"count": "1"})).status == 403
    assert 'name="count"' not in await page(reader, f"/console/campaigns/{world.campaign_id}/info")


def test_the_chart_of_a_long_campaign_keeps_its_width_and_spaces_its_labels():
    from bot.campaigns.day_chart import day_chart
    from bot.campaigns.stats import DayCounts

    start = dt.date(2023, 1, 1)
    days = [DayCounts(start + dt.timedelta(days=n), (n % 3, 1, 0, n % 2)) for n in range(2000)]
    chart = day_chart(days)
    assert chart.peak == 4 and len(chart.totals) == 2000
    xs = [x for x, _ in chart.x_labels]
    assert min(b - a for a, b in zip(xs, xs[1:])) >= 48 and max(xs) <= chart.plot_right
    right = max(b.x + b.width for s in chart.series for b in s.bars)
    assert right <= chart.plot_right
    short = day_chart(days[:2])
    assert all(b.width <= 64 for s in short.series for b in s.bars)

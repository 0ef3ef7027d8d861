"""活動列表 and the campaign editor over HTTP on SQLite and PostgreSQL: search, paging, actions per
status and role, upload counts; create with every condition kind (equal to what the CLI makes
from the same campaign file); a validation error keeps what was typed; editing what the status
allows; publish with the draft-coupon warning, pause, copy, delete; escaping."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from admin_cli.campaign_file import parse_text, resolve_channel
from bot.campaigns.coupons import take_code
from bot.storage.models import AuditEntry, Campaign, Upload
from flows.campaigns.dates import TAIPEI
from flows.campaigns.lifecycle import CampaignStatus
from flows.campaigns.roles import Role
from tests.campaign_store.data import add_customer, add_upload
from tests.console.campaigns_fixtures import Console, error_beside, form_values, local, make_console

NOW = dt.datetime.now(TAIPEI).replace(second=0, microsecond=0)
TODAY = NOW.date()
START, END = local(NOW + dt.timedelta(days=1)), local(NOW + dt.timedelta(days=30))
ISSUE = ((TODAY - dt.timedelta(days=10)).isoformat(), (TODAY + dt.timedelta(days=30)).isoformat())
EVIL = "<script>alert(\"x\")</script>'&"


@pytest.fixture
async def console(aiohttp_server, aiohttp_client, database_url, tmp_path) -> Console:
    harness = await make_console(aiohttp_server, aiohttp_client, database_url, tmp_path)
    yield harness
    await harness.db.close()


def base_form(channel: int, **over: Any) -> list[tuple[str, str]]:
    fields = {"name": "冬季發票登錄", "start_at": START, "end_at": END, "rules_url": "https://brand.example.com/rules",
              "channel_id": str(channel), "cap_mode": "unlimited", "per_person_cap": "",
              "issue_start": ISSUE[0], "issue_end": ISSUE[1], "sellers_mode": "any", "sellers": "",
              "reward_timing": "immediate", "scope_kind": "whole_invoice", "whole_measure": "amount",
              "whole_threshold": "500", "combinator": "and",
              "reward-bot_name": "品牌機器人", "reward-module_name": "LINEPOINT", "reward-coupon_kind": "code_pool",
              "reward-coupon_url": "", "action": "save"}
    fields.update(over)
    return list(fields.items())


def base_file(**conditions: Any) -> dict[str, Any]:
    data = {"name": "冬季發票登錄", "start_at": START, "end_at": END, "rules_url": "https://brand.example.com/rules",
            "channel": "品牌官方帳號",
            "conditions": {"per_person_cap": None, "issue_dates": {"start": ISSUE[0], "end": ISSUE[1]},
                           "sellers": None, "reward_timing": "immediate",
                           "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": 500},
                           "reward": {"bot_name": "品牌機器人", "module_name": "LINEPOINT", "coupon": {"kind": "code_pool"}},
                           "higher_tiers": []}}
    data["conditions"].update(conditions)
    return data


def pool(module: str = "LINEPOINT") -> dict[str, Any]:
    return {"bot_name": "品牌機器人", "module_name": module, "coupon": {"kind": "code_pool"}}


def link(url: str, module: str = "LINEPOINT") -> dict[str, Any]:
    return {"bot_name": "品牌機器人", "module_name": module, "coupon": {"kind": "shared_link", "url": url}}


def tier_fields(i: int, amount: str, module: str, kind: str = "code_pool", url: str = "") -> dict[str, str]:
    return {f"tier-{i}-min_amount": amount, f"tier-{i}-bot_name": "品牌機器人", f"tier-{i}-module_name": module,
            f"tier-{i}-coupon_kind": kind, f"tier-{i}-coupon_url": url}


VARIANTS = {
    "whole amount, cap, sellers, tiers with a link": (
        {"cap_mode": "limited", "per_person_cap": "3", "sellers_mode": "listed", "sellers": "全通路股份有限公司\n好市多",
         **tier_fields(0, "1000", "金獎", "shared_link", "https://brand.example.com/gold"), **tier_fields(1, "2000", "白金")},
        {"per_person_cap": 3, "sellers": ["全通路股份有限公司", "好市多"],
         "higher_tiers": [{"min_amount": 1000, "reward": link("https://brand.example.com/gold", "金獎")},
                          {"min_amount": 2000, "reward": pool("白金")}]}),
    "whole count, list only": (
        {"whole_measure": "count", "whole_threshold": "3", "reward_timing": "list_only"},
        {"scope": {"kind": "whole_invoice", "measure": "count", "threshold": 3}, "reward_timing": "list_only",
         "reward": None}),
    "one item block (any) with a tier": (
        {"scope_kind": "items", "block-0-keyword": "紅茶", "block-0-match": "any", "block-0-measure": "amount",
         "block-0-threshold": "200", **tier_fields(0, "600", "大獎")},
        {"scope": {"kind": "items", "combinator": "and", "blocks": [
            {"keywords": ["紅茶"], "match": "any", "measure": "amount", "threshold": 200}]},
         "higher_tiers": [{"min_amount": 600, "reward": pool("大獎")}]}),
    "two item blocks (all, any) joined by OR, shared link": (
        {"scope_kind": "items", "combinator": "or", "block-0-match": "all", "block-0-measure": "count",
         "block-0-threshold": "2", "block-1-match": "any", "block-1-measure": "amount", "block-1-threshold": "300",
         "reward-coupon_kind": "shared_link", "reward-coupon_url": "https://brand.example.com/c?a=1&b=2"},
        {"scope": {"kind": "items", "combinator": "or", "blocks": [
            {"keywords": ["綠茶", "無糖"], "match": "all", "measure": "count", "threshold": 2},
            {"keywords": ["咖啡"], "match": "any", "measure": "amount", "threshold": 300}]},
         "reward": link("https://brand.example.com/c?a=1&b=2")}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_create_every_condition_kind_equals_the_campaign_file(console, variant):
    form_over, file_conditions = VARIANTS[variant]
    marketer = await console.sign_in(Role.MARKETER)
    form = base_form(console.channel, **form_over)
    if variant.startswith("two item blocks"):
        form += [("block-0-keyword", "綠茶"), ("block-0-keyword", "無糖"), ("block-0-keyword", ""),
                 ("block-1-keyword", "咖啡")]
    response = await marketer.post("/console/campaigns/new", form)
    assert response.status == 303, await response.text()
    campaign_id = int(response.headers["Location"].split("/")[3].split("?")[0])
    made = await console.store.get(campaign_id, NOW)
    async with console.db.session() as session:
        from_file = await resolve_channel(session, parse_text(__import__("json").dumps(base_file(**file_conditions)),
                                                              "c.json"))
    cli = await console.store.create(marketer.actor, from_file, NOW)
    assert made.settings == cli.settings
    assert made.status is CampaignStatus.DRAFT
    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    assert form_values(page)["name"] == ["冬季發票登錄"]


async def test_a_validation_mistake_keeps_what_was_typed(console):
    marketer = await console.sign_in(Role.MARKETER)
    form = base_form(console.channel, name="春季登錄", end_at=local(NOW - dt.timedelta(days=3)), rules_url="rules page",
                     scope_kind="items", combinator="or", **{"block-0-measure": "amount", "block-0-threshold": "150",
                                                             "block-0-match": "all"})
    form += [("block-0-keyword", "紅茶"), ("block-0-keyword", "拿鐵")]
    response = await marketer.post("/console/campaigns/new", form)
    assert response.status == 422
    page = await response.text()
    assert "活動結束時間需晚於開始時間" in error_beside(page, "end_at")
    assert "請輸入活動規則網頁 URL" in error_beside(page, "rules_url")
    assert error_beside(page, "name") == ""
    values = form_values(page)
    assert values["name"] == ["春季登錄"] and values["rules_url"] == ["rules page"]
    assert values["block-0-keyword"] == ["紅茶", "拿鐵"] and values["block-0-threshold"] == ["150"]
    assert values["block-0-match"] == ["all"] and values["combinator"] == ["or"] and values["scope_kind"] == ["items"]
    assert values["channel_id"] == [str(console.channel)]
    assert 'aria-describedby="end_at-error" aria-invalid="true"' in page
    assert await console.store.count() == 0


async def test_tiers_and_several_blocks_are_exclusive(console):
    marketer = await console.sign_in(Role.MARKETER)
    form = base_form(console.channel, scope_kind="items", **{"block-0-match": "any", "block-0-measure": "amount",
                                                              "block-0-threshold": "100", "block-1-match": "any",
                                                              "block-1-measure": "amount", "block-1-threshold": "100"},
                     **tier_fields(0, "900", "大獎"))
    form += [("block-0-keyword", "茶"), ("block-1-keyword", "咖啡")]
    response = await marketer.post("/console/campaigns/new", form)
    assert response.status == 422
    page = await response.text()
    assert "新增條件與新增級距僅可擇一" in error_beside(page, "tiers")
    assert form_values(page)["tier-0-min_amount"] == ["900"]


async def _published(console: Console, marketer, *, name: str = "進行中活動", when: dt.datetime | None = None) -> int:
    """A campaign created and published at `when` (default: now, running from an hour ago)."""
    moment = when or NOW
    data = base_file()
    data.update(name=name, start_at=local(moment - dt.timedelta(hours=1)), end_at=local(moment + dt.timedelta(days=5)))
    async with console.db.session() as session:
        settings = await resolve_channel(session, data)
    view = await console.store.create(marketer.actor, settings, moment)
    await console.store.publish(marketer.actor, view.id, moment)
    return view.id


async def test_editing_a_running_campaign_offers_only_what_its_status_allows(console):
    marketer = await console.sign_in(Role.MARKETER)
    campaign_id = await _published(console, marketer)
    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    offered = form_values(page)
    assert {"name", "start_at", "end_at", "rules_url"} <= set(offered)
    assert not {"channel_id", "scope_kind", "whole_threshold", "per_person_cap", "reward-bot_name"} & set(offered)
    assert "整張發票：消費金額 ≥ 500 元" in page and "品牌官方帳號" in page
    assert 'value="pause"' in page and 'value="publish"' in page and 'value="save"' not in page

    forged = [("name", "改名"), ("scope_kind", "whole_invoice"), ("whole_measure", "amount"), ("whole_threshold", "1"),
              ("channel_id", str(console.other_channel)), ("action", "publish")]
    response = await marketer.post(f"/console/campaigns/{campaign_id}", forged)
    assert response.status == 422
    refused = await response.text()
    assert "不可編輯" in refused and "改名" in refused, refused[refused.find("<main"):][:1500]
    assert (await console.store.get(campaign_id, NOW)).settings.name == "進行中活動"

    response = await marketer.post(f"/console/campaigns/{campaign_id}",
                                   [("name", "進行中活動（延長）"), ("action", "publish")])
    assert response.status == 303
    view = await console.store.get(campaign_id, NOW)
    assert view.settings.name == "進行中活動（延長）" and view.status is CampaignStatus.RUNNING
    async with console.db.session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.target == f"campaign:{campaign_id}")
                                 .order_by(AuditEntry.id.desc()))).scalars().first()
    assert entry.action == "campaign.publish" and entry.actor_id == marketer.actor.id


async def test_publish_warns_of_coupon_codes_taken_by_draft_uploads(console):
    marketer = await console.sign_in(Role.MARKETER)
    response = await marketer.post("/console/campaigns/new", base_form(console.channel))
    campaign_id = int(response.headers["Location"].split("/")[3].split("?")[0])
    await console.store.import_coupons(marketer.actor, campaign_id, "code\nA-1\nA-2\nA-3\n", NOW)
    customer = await add_customer(console.db, console.channel, "U" + "1" * 32)
    for n in range(2):
        upload = await add_upload(console.db, campaign_id, customer, f"AB1234567{n}", is_draft=True,
                                  day=TODAY, uploaded_at=NOW)
        async with console.db.session() as s, s.begin():
            assert await take_code(s, campaign_id, None, upload, NOW)
    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    assert "剩餘 1 組，已發出 2 組" in page

    form = base_form(console.channel, action="publish")
    response = await marketer.post(f"/console/campaigns/{campaign_id}", form)
    assert response.status == 200
    warning = await response.text()
    assert "草稿期間的測試上傳已領取 2 組優惠券序號" in warning and 'name="confirm" value="1"' in warning
    assert (await console.store.get(campaign_id, NOW)).status is CampaignStatus.DRAFT

    response = await marketer.post(f"/console/campaigns/{campaign_id}", form + [("confirm", "1")])
    assert response.status == 303
    view = await console.store.get(campaign_id, NOW)
    assert view.status is CampaignStatus.SCHEDULED and view.upload_count == 0


async def test_pause_resume_and_copy(console):
    marketer = await console.sign_in(Role.SUPERVISOR)
    campaign_id = await _published(console, marketer)
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", [("action", "pause")])).status == 303
    assert (await console.store.get(campaign_id, NOW)).status is CampaignStatus.PAUSED
    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    assert 'value="save"' in page and 'value="publish"' in page and 'value="pause"' not in page
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", [("action", "publish")])).status == 303
    assert (await console.store.get(campaign_id, NOW)).status is CampaignStatus.RUNNING

    response = await marketer.post(f"/console/campaigns/{campaign_id}/copy")
    assert response.status == 303
    copy_id = int(response.headers["Location"].split("/")[3].split("?")[0])
    copied = await console.store.get(copy_id, NOW)
    assert copied.status is CampaignStatus.DRAFT and copied.settings.name == "進行中活動（複本）"
    page = await (await marketer.get(response.headers["Location"])).text()
    assert "已複製為新的草稿" in page and form_values(page)["name"] == ["進行中活動（複本）"]


async def test_delete_asks_first_and_only_drafts(console):
    marketer = await console.sign_in(Role.ADMIN)
    response = await marketer.post("/console/campaigns/new", base_form(console.channel, name="試用草稿"))
    draft = int(response.headers["Location"].split("/")[3].split("?")[0])
    running = await _published(console, marketer)
    page = await (await marketer.get(f"/console/campaigns/{draft}/delete")).text()
    assert "確定要刪除「試用草稿」嗎？" in page
    assert await console.store.count() == 2  # asking deleted nothing
    assert (await marketer.post(f"/console/campaigns/{draft}/delete")).status == 303
    assert await console.store.count() == 1

    response = await marketer.get(f"/console/campaigns/{running}/delete")
    assert response.status == 409 and "確定要刪除" not in await response.text()
    response = await marketer.post(f"/console/campaigns/{running}/delete")
    assert response.status == 409 and "不可執行「刪除」" in await response.text()
    assert await console.store.count() == 1


async def test_read_only_roles_see_the_settings_but_change_nothing(console):
    marketer = await console.sign_in(Role.MARKETER)
    campaign_id = await _published(console, marketer)
    agent = await console.sign_in(Role.SUPPORT_MANAGER)
    page = await (await agent.get(f"/console/campaigns/{campaign_id}")).text()
    assert not set(form_values(page)) - {"csrf_token"}
    assert 'value="publish"' not in page and "取消" in page
    for path, data in ((f"/console/campaigns/{campaign_id}", [("action", "pause"), ("name", "x")]),
                       (f"/console/campaigns/{campaign_id}/copy", []), ("/console/campaigns/new", base_form(1))):
        assert (await agent.post(path, data)).status == 403
    assert (await agent.get(f"/console/campaigns/{campaign_id}/delete")).status == 403
    assert (await console.store.get(campaign_id, NOW)).status is CampaignStatus.RUNNING
    assert await console.store.count() == 1


async def test_list_searches_pages_and_counts_uploads(console):
    marketer = await console.sign_in(Role.MARKETER)
    data = base_file()
    async with console.db.session() as session:
        settings = await resolve_channel(session, data)
    for n in range(22):
        await console.store.create(marketer.actor, {**settings, "name": f"夏日活動 {n:02d}"}, NOW)
    other = {**settings, "name": "獨立活動", "channel_id": str(console.other_channel)}
    lone = await console.store.create(marketer.actor, other, NOW)
    customer = await add_customer(console.db, console.other_channel, "U" + "2" * 32)
    for n, status in enumerate(("pending", "passed", "duplicate", "unreadable", "not_qualified")):
        await add_upload(console.db, lone.id, customer, f"CD1234567{n}", status=status, day=TODAY, uploaded_at=NOW)

    first = await (await marketer.get("/console/campaigns")).text()
    assert first.count("<tr data-campaign=") == 20 and "第 1 / 2 頁" in first and "共 23 個活動" in first
    second = await (await marketer.get("/console/campaigns?page=2")).text()
    assert second.count("<tr data-campaign=") == 3 and "夏日活動 00" in second and "夏日活動 21" not in second

    by_channel = await (await marketer.get("/console/campaigns?q=second")).text()
    assert by_channel.count("<tr data-campaign=") == 1 and "獨立活動" in by_channel
    row = by_channel.split(f'<tr data-campaign="{lone.id}">')[1].split("</tr>")[0]
    assert '<td class="uploads">3</td>' in row and "Second Shop" in row  # duplicates and unreadable not counted
    by_name = await (await marketer.get("/console/campaigns?q=%E5%A4%8F%E6%97%A5%E6%B4%BB%E5%8B%95%2021")).text()
    assert by_name.count("<tr data-campaign=") == 1 and "夏日活動 21" in by_name


async def test_list_actions_follow_status_and_role(console):
    marketer = await console.sign_in(Role.MARKETER)
    response = await marketer.post("/console/campaigns/new", base_form(console.channel, name="草稿甲"))
    draft = int(response.headers["Location"].split("/")[3].split("?")[0])
    running = await _published(console, marketer)
    past = NOW - dt.timedelta(days=40)
    data = base_file()
    data.update(name="已結束活動", start_at=local(past), end_at=local(past + dt.timedelta(days=5)),
                conditions={**data["conditions"], "issue_dates": {"start": (past.date() - dt.timedelta(days=5)).isoformat(),
                                                                  "end": past.date().isoformat()}})
    async with console.db.session() as session:
        settings = await resolve_channel(session, data)
    ended = (await console.store.create(marketer.actor, settings, past - dt.timedelta(days=1))).id
    await console.store.publish(marketer.actor, ended, past - dt.timedelta(days=1))

    def actions(page: str, campaign_id: int) -> list[str]:
        import re

        row = page.split(f'<tr data-campaign="{campaign_id}">')[1].split("</tr>")[0]
        cell = row.split('<td class="actions">')[1]
        return re.findall(r">(編輯|檢視|資訊|複製|刪除)<", cell)

    page = await (await marketer.get("/console/campaigns")).text()
    assert actions(page, draft) == ["編輯", "資訊", "複製", "刪除"]
    assert actions(page, running) == ["編輯", "資訊", "複製"]
    assert actions(page, ended) == ["檢視", "資訊", "複製"]
    assert "新增發票活動" in page
    sales = await console.sign_in(Role.SALES_AGENT)
    page = await (await sales.get("/console/campaigns")).text()
    assert actions(page, draft) == ["資訊"] and actions(page, running) == ["資訊"]
    assert actions(page, ended) == ["檢視", "資訊"]
    assert "新增發票活動" not in page
    view_only = await (await marketer.get(f"/console/campaigns/{ended}")).text()
    assert not set(form_values(view_only)) - {"csrf_token"} and "返回" in view_only and "已結束活動" in view_only
    assert (await marketer.post(f"/console/campaigns/{ended}", [("name", "x"), ("action", "save")])).status == 422
    info = await (await sales.get(f"/console/campaigns/{running}/info")).text()
    assert "進行中" in info and "整張發票：消費金額 ≥ 500 元" in info


async def test_names_keywords_and_codes_render_escaped(console):
    marketer = await console.sign_in(Role.MARKETER)
    form = base_form(console.channel, name=EVIL, scope_kind="items",
                     **{"block-0-match": "any", "block-0-measure": "amount", "block-0-threshold": "1"},
                     sellers_mode="listed", sellers=EVIL)
    form += [("block-0-keyword", EVIL)]
    response = await marketer.post("/console/campaigns/new", form)
    assert response.status == 303, await response.text()
    campaign_id = int(response.headers["Location"].split("/")[3].split("?")[0])
    await console.store.import_coupons(marketer.actor, campaign_id, "code\n" + EVIL.replace("&", "") + "\n", NOW)
    bad = await marketer.post("/console/campaigns/new", [(k, "x" if k == "rules_url" else v) for k, v in form])
    assert bad.status == 422
    for page in (await (await marketer.get("/console/campaigns")).text(),
                 await (await marketer.get(f"/console/campaigns/{campaign_id}")).text(),
                 await (await marketer.get(f"/console/campaigns/{campaign_id}/info")).text(),
                 await (await marketer.get(f"/console/campaigns/{campaign_id}/delete")).text(),
                 await bad.text()):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;" in page
    editor = form_values(await (await marketer.get(f"/console/campaigns/{campaign_id}")).text())
    assert editor["name"] == [EVIL] and editor["block-0-keyword"] == [EVIL] and editor["sellers"] == [EVIL]


async def test_the_editor_shows_the_issue_date_limit_and_the_messages(console):
    marketer = await console.sign_in(Role.MARKETER)
    page = await (await marketer.get("/console/campaigns/new")).text()
    from flows.campaigns.dates import earliest_issue_date_start

    assert f"最早可設定為 {earliest_issue_date_start(TODAY).isoformat()}" in page
    assert "很抱歉，您參與活動的次數已達上限，無法再進行參加，謝謝您的參與！" in page
    assert "發票資訊驗證中，我們將於 3 天內通知驗證結果，請勿封鎖避免喪失權益！感謝您的耐心等待。" in page
    for label in ("符合資格訊息", "不符合資格訊息", "同一發票重複登錄訊息", "無法辨識訊息", "活動時間結束訊息"):
        assert label in page
    assert '<fieldset id="image">' in page and '<fieldset id="coupons">' in page
    assert '<script src="/console/static/editor.js"></script>' in page
    assert "style=" not in page and "onclick" not in page
    response = await marketer.post("/console/campaigns/new",
                                   base_form(console.channel, issue_start=(earliest_issue_date_start(TODAY)
                                                                           - dt.timedelta(days=1)).isoformat()))
    assert response.status == 422
    assert "發票開立日期最早可設定為" in error_beside(await response.text(), "issue_start")


async def test_upload_count_rows_are_from_the_store(console):
    """The list's 上傳發票數 is the store's count (draft test uploads included until publishing)."""
    marketer = await console.sign_in(Role.MARKETER)
    response = await marketer.post("/console/campaigns/new", base_form(console.channel))
    campaign_id = int(response.headers["Location"].split("/")[3].split("?")[0])
    customer = await add_customer(console.db, console.channel, "U" + "3" * 32)
    await add_upload(console.db, campaign_id, customer, "EF12345678", is_draft=True, day=TODAY, uploaded_at=NOW)
    page = await (await marketer.get("/console/campaigns")).text()
    assert '<td class="uploads">1</td>' in page
    async with console.db.session() as s:
        assert (await s.execute(select(Upload.id).where(Upload.campaign_id == campaign_id))).all()
        assert (await s.get(Campaign, campaign_id)).published_at is None

"""The triggers page over HTTP on both databases: keyword add/remove (editors only, CSRF), a
keyword of another campaign of the channel refused beside the field, the card link equal to
`admin-cli triggers link`, QR codes (the PNG decodes to the link, the SVG is segno's), the
rich-menu area, and keywords holding markup rendered escaped."""
from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy import select, update
from typer.testing import CliRunner

from admin_cli.app import app as cli_app
from bot.campaigns.store import Actor, CampaignStore
from bot.storage.models import AdminUser, AuditEntry, Channel, Trigger
from flows.campaigns.roles import Role
from flows.conversation.triggers import keyword_link
from tests.chat.conftest import KEYWORD, campaign_settings

BASIC_ID = "@brand123"
EVIL = "<script>alert('x')</script>\"&"


def page_path(campaign_id: int) -> str:
    return f"/console/campaigns/{campaign_id}/triggers"


async def set_basic_id(db, basic_id: str | None = BASIC_ID) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(Channel).where(Channel.name == "default").values(basic_id=basic_id))


async def trigger_rows(db, campaign_id: int) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = await s.execute(select(Trigger.kind, Trigger.value).where(Trigger.campaign_id == campaign_id)
                               .order_by(Trigger.id))
        return [tuple(r) for r in rows]


async def trigger_id(db, campaign_id: int, value: str) -> int:
    async with db.session() as s:
        return await s.scalar(select(Trigger.id).where(Trigger.campaign_id == campaign_id, Trigger.value == value))


def error_beside(html: str, field: str) -> str:
    found = re.search(rf'<div class="error" id="{field}-error">(.*?)</div>', html, re.S)
    assert found and f'aria-describedby="{field}-error' in html
    return found.group(1).strip()


def cli_link(database_url: str, campaign_id: int, keyword: str) -> str:
    """What `admin-cli triggers link` prints (run in its own thread: the CLI runs its own loop)."""
    def run():  # noqa: ANN202
        return CliRunner().invoke(cli_app, ["triggers", "link", str(campaign_id), keyword],
                                  env={"DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": None,
                                       "LINE_CHANNEL_ACCESS_TOKEN": None})
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(run).result()
    assert result.exit_code == 0, result.output
    return result.output.strip()


async def other_campaign(console_app, name: str = "春季活動") -> int:
    """A second campaign on the same channel, made by the seeded 管理員 (boss)."""
    async with console_app.db.session() as s:
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        boss = (await s.execute(select(AdminUser).where(AdminUser.name == "boss"))).scalar_one()
    settings = campaign_settings(channel_id) | {"name": name}
    view = await CampaignStore(console_app.db).create(Actor(boss.id, boss.name, Role.ADMIN), settings,
                                                      dt.datetime.now(dt.timezone.utc))
    return view.id


async def test_an_editor_adds_and_removes_a_keyword(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    campaign_id = console_app.campaign_id
    added = await editor.post(page_path(campaign_id), {"keyword": "冬季抽獎"})
    assert added.status == 303 and added.headers["Location"] == page_path(campaign_id) + "?done=added"
    assert await trigger_rows(console_app.db, campaign_id) == [("keyword_exact", KEYWORD),
                                                                ("keyword_exact", "冬季抽獎")]
    html = await (await editor.get(page_path(campaign_id) + "?done=added")).text()
    assert "已新增關鍵字。" in html and '<td class="keyword">冬季抽獎</td>' in html
    assert "活動「冬季發票登錄抽好禮」（ID %d）的發票卡片" % campaign_id in html  # which campaign it opens
    assert "關鍵字自動回覆（完全符合）" in html  # and through which module
    new_id = await trigger_id(console_app.db, campaign_id, "冬季抽獎")
    removed = await editor.post(f"{page_path(campaign_id)}/{new_id}/remove")
    assert removed.status == 303 and removed.headers["Location"].endswith("?done=removed")
    assert await trigger_rows(console_app.db, campaign_id) == [("keyword_exact", KEYWORD)]
    again = await editor.post(f"{page_path(campaign_id)}/{new_id}/remove")
    assert again.status == 404
    async with console_app.db.session() as s:
        actions = (await s.execute(select(AuditEntry.action, AuditEntry.detail)
                                   .where(AuditEntry.target == f"campaign:{campaign_id}",
                                          AuditEntry.action.like("trigger.%")).order_by(AuditEntry.id))).all()
    assert [a for a, _ in actions] == ["trigger.add", "trigger.remove"]
    assert actions[0][1]["value"] == "冬季抽獎" and actions[0][1]["actor"] == editor.user.name


async def test_a_keyword_of_another_campaign_is_refused_beside_the_field(console_app, console_client):
    editor = await console_client(Role.SUPERVISOR)
    second = await other_campaign(console_app)
    taken = await editor.post(page_path(second), {"keyword": KEYWORD})
    html = await taken.text()
    assert taken.status == 422
    assert error_beside(html, "keyword") == (
        f"關鍵字：已用於同一個 LINE 官方帳號的活動「冬季發票登錄抽好禮」（ID {console_app.campaign_id}）")
    assert f'value="{KEYWORD}"' in html  # the typed keyword stays in the field
    own = await editor.post(page_path(console_app.campaign_id), {"keyword": KEYWORD})
    assert own.status == 422 and error_beside(await own.text(), "keyword") == "關鍵字：此活動已有這個關鍵字"
    blank = await editor.post(page_path(second), {"keyword": " \u3000 "})
    assert blank.status == 422 and "請輸入關鍵字" in error_beside(await blank.text(), "keyword")
    long = await editor.post(page_path(second), {"keyword": "長" * 301})
    assert long.status == 422 and error_beside(await long.text(), "keyword") == "關鍵字：最多 300 個字元"
    assert await trigger_rows(console_app.db, second) == []


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.SUPPORT_MANAGER, Role.SALES_AGENT, Role.SALES_MANAGER])
async def test_viewers_see_the_page_but_may_not_change_it(console_app, console_client, role):
    viewer = await console_client(role)
    campaign_id = console_app.campaign_id
    html = await (await viewer.get(page_path(campaign_id))).text()
    assert KEYWORD in html and 'id="keyword"' not in html and "移除" not in html
    first = await trigger_id(console_app.db, campaign_id, KEYWORD)
    assert (await viewer.post(page_path(campaign_id), {"keyword": "新的"})).status == 403
    assert (await viewer.post(f"{page_path(campaign_id)}/{first}/remove")).status == 403
    assert await trigger_rows(console_app.db, campaign_id) == [("keyword_exact", KEYWORD)]


async def test_a_mutation_without_the_csrf_token_is_refused(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    forged = await editor.http.post(page_path(console_app.campaign_id), data={"keyword": "偷偷加"},
                                    allow_redirects=False)
    assert forged.status == 403
    assert await trigger_rows(console_app.db, console_app.campaign_id) == [("keyword_exact", KEYWORD)]


async def test_the_card_link_is_the_clis_and_the_qr_codes_encode_it(console_app, console_client, database_url):
    await set_basic_id(console_app.db)
    viewer = await console_client(Role.SALES_AGENT)  # downloads need only the 檢視 right
    campaign_id = console_app.campaign_id
    first = await trigger_id(console_app.db, campaign_id, KEYWORD)
    link = cli_link(database_url, campaign_id, KEYWORD)
    assert link == keyword_link(BASIC_ID, KEYWORD)
    html = await (await viewer.get(page_path(campaign_id))).text()
    shown = re.search(r'<td class="link"><code>([^<]+)</code></td>', html).group(1)
    assert shown == link

    png = await viewer.get(f"{page_path(campaign_id)}/{first}/qr.png")
    assert png.status == 200 and png.content_type == "image/png"
    assert png.headers["Content-Disposition"] == f'attachment; filename="keyword-{first}-qr.png"'
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(await png.read())))
    assert [code.text for code in decoded] == [link]

    svg = await viewer.get(f"{page_path(campaign_id)}/{first}/qr.svg")
    body = await svg.read()
    assert svg.status == 200 and svg.content_type == "image/svg+xml"
    assert ET.fromstring(body).tag == "{http://www.w3.org/2000/svg}svg"
    expected = io.BytesIO()
    segno.make(link, error="m").save(expected, kind="svg", scale=8, border=4, xmldecl=True)
    assert body == expected.getvalue()


async def test_without_a_basic_id_there_is_no_link_and_no_qr(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    campaign_id = console_app.campaign_id
    first = await trigger_id(console_app.db, campaign_id, KEYWORD)
    html = await (await editor.get(page_path(campaign_id))).text()
    assert "尚未設定 basic ID" in html and "line.me" not in html
    qr = await editor.get(f"{page_path(campaign_id)}/{first}/qr.png")
    assert qr.status == 409 and "basic ID" in await qr.text()


async def test_qr_codes_only_for_this_campaigns_keywords(console_app, console_client):
    await set_basic_id(console_app.db)
    editor = await console_client(Role.MARKETER)
    second = await other_campaign(console_app)
    first = await trigger_id(console_app.db, console_app.campaign_id, KEYWORD)
    assert (await editor.get(f"{page_path(second)}/{first}/qr.png")).status == 404  # another campaign's
    assert (await editor.post(f"{page_path(second)}/{first}/remove")).status == 404
    async with console_app.db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        s.add(Trigger(channel_id=channel_id, campaign_id=second, kind="postback", value="campaign:%d:card" % second))
    postback = await trigger_id(console_app.db, second, "campaign:%d:card" % second)
    assert (await editor.get(f"{page_path(second)}/{postback}/qr.svg")).status == 404  # not a keyword


async def test_the_rich_menu_area_shows_what_the_menu_sends(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    campaign_id = console_app.campaign_id
    async with console_app.db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        s.add_all([Trigger(channel_id=channel_id, campaign_id=campaign_id, kind="postback",
                           value=f"campaign:{campaign_id}:card"),
                   Trigger(channel_id=channel_id, campaign_id=campaign_id, kind="bot_module", value="invoice-card")])
    html = await (await editor.get(page_path(campaign_id))).text()
    section = html[html.index('id="richmenu-section"'):]
    assert "圖文選單區域（postback）" in section and f"<code>campaign:{campaign_id}:card</code>" in section
    assert "機器人模組" in section and "<code>invoice-card</code>" in section
    assert f"admin-cli richmenu create {campaign_id}" in section  # the image stays in the CLI, and says so


async def test_keywords_with_markup_render_escaped(console_app, console_client):
    await set_basic_id(console_app.db)
    editor = await console_client(Role.MARKETER)
    second = await other_campaign(console_app, name='<b>"活動"</b>')
    assert (await editor.post(page_path(second), {"keyword": EVIL})).status == 303
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&amp;"
    html = await (await editor.get(page_path(second))).text()
    assert "<script>alert" not in html and "<b>" not in html
    assert f'<td class="keyword">{escaped}</td>' in html and "&lt;b&gt;&#34;活動&#34;&lt;/b&gt;" in html
    refused = await editor.post(page_path(console_app.campaign_id), {"keyword": EVIL})
    html = await refused.text()
    assert refused.status == 422 and "<script>alert" not in html and "<b>" not in html
    assert error_beside(html, "keyword") == (
        f"關鍵字：已用於同一個 LINE 官方帳號的活動「&lt;b&gt;&#34;活動&#34;&lt;/b&gt;」（ID {second}）")
    assert f'value="{escaped}"' in html  # the typed keyword stays, escaped

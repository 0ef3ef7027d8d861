"""GET /sandbox: the chat page with its script and style from the package, the running facts,
and nothing of it (page, static files, API) in production mode."""
import uuid

from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Config
from bot.sandbox_chat.demo import DEMO_KEYWORD
from bot.storage.database import Database
from bot.storage.models import Campaign
from tests.sandbox.conftest import photo_form


async def test_the_page_is_served_with_its_script_and_style(start_sandbox):
    sandbox = await start_sandbox()
    async with sandbox.client.get("/sandbox") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
    assert '<script src="/sandbox/static/chat.js"' in page
    assert 'href="/sandbox/static/chat.css"' in page
    assert f'data-keyword="{DEMO_KEYWORD}"' in page
    for label in ("登錄發票", "上傳範例發票照片", "上傳照片…", "範例發票（財政部尚未上傳）", "不符合資格發票",
                  "統編發票", "財政部查無", "模糊照片", "重送上一張", "+31 分", "到 08:01"):
        assert f">{label}</button>" in page
    assert "<details" in page and "Sandbox mode" in page
    assert f"<dt>port</dt><dd><code>{sandbox.config.port}</code></dd>" in page
    assert "<dt>mode</dt><dd><code>sandbox</code></dd>" in page
    assert "{{" not in page  # every placeholder filled

    async with sandbox.client.get("/sandbox/static/chat.js") as resp:
        assert resp.status == 200 and resp.content_type == "text/javascript"
        script = await resp.text()
    assert "/sandbox/line/_sim/messages" in script and "new EventSource(" in script
    # the user list is shared by the tabs, the current user is each tab's own
    assert 'sessionStorage.setItem(CURRENT_KEY' in script and 'localStorage.setItem(CURRENT_KEY' not in script
    assert 'event.origin !== location.origin' in script  # the LIFF panel's close message
    async with sandbox.client.get("/sandbox/static/chat.css") as resp:
        assert resp.status == 200 and resp.content_type == "text/css"
    async with sandbox.client.get("/sandbox/static/page.html") as resp:
        assert resp.status == 404  # only the two assets are served
    async with sandbox.client.get("/sandbox/rules") as resp:
        assert resp.status == 200 and "示範活動" in await resp.text()
    async with sandbox.client.get("/", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/sandbox"


async def test_nothing_of_the_sandbox_exists_in_production_mode(aiohttp_client, database_url, tmp_path):
    production = Config(
        database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
        line_channel_secret="s" * 32, line_channel_access_token="t" * 40,
        mof_app_id="EINV0001", mof_api_key="k" * 16,
    )
    assert not production.sandbox
    client = await aiohttp_client(create_app(production))
    user = "U" + "c" * 32
    for method, path, kwargs in [
        ("GET", "/sandbox", {}),
        ("GET", "/sandbox/static/chat.js", {}),
        ("GET", "/sandbox/rules", {}),
        ("GET", f"/sandbox/api/said?user={user}", {}),
        ("POST", "/sandbox/api/say", {"json": {"user": user, "text": "登錄發票"}}),
        ("POST", "/sandbox/api/postback", {"json": {"user": user, "data": "x"}}),
        ("POST", "/sandbox/api/sample-photo", {"json": {"user": user}}),
        ("POST", "/sandbox/api/photo", {"data": photo_form(user, b"\xff\xd8\xff\xe0")}),
        ("GET", "/sandbox/line/_sim/messages", {}),
        ("GET", "/sandbox/api/clock", {}),
        ("POST", "/sandbox/api/clock", {"json": {"advance_minutes": 31}}),
        ("GET", f"/sandbox/api/events?user={user}", {}),
        ("GET", "/sandbox/api/campaigns", {}),
        ("POST", "/sandbox/api/resend-sample", {"json": {"user": user}}),
    ]:
        async with client.request(method, path, **kwargs) as resp:
            assert resp.status == 404, (method, path, resp.status)
    db = Database(database_url)
    try:
        async with db.session() as s:
            assert await s.scalar(select(func.count()).select_from(Campaign)) == 0  # no demo campaign
    finally:
        await db.close()

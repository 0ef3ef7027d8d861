"""Sandbox-only tools over real HTTP: the clock control (moves utcnow, refused elsewhere), the
live feed (server-sent events), the channel and campaign directory with its upcoming and ended
demo campaigns, talking as another channel, and the duplicate path (resending a sample)."""
import asyncio
import datetime as dt
import json

import pytest

from bot.campaigns.store import Actor, CampaignStore
from bot.sandbox_chat.demo import (
    DEMO_KEYWORD,
    DEMO_NAME,
    ENDED_KEYWORD,
    ENDED_NAME,
    UPCOMING_KEYWORD,
    UPCOMING_NAME,
    demo_settings,
)
from bot.storage.database import Database
from bot.storage.models import Channel, Trigger, clock_offset, set_clock_offset, utcnow
from flows.campaigns.roles import Role
from flows.messages.system import NOT_STARTED_TEXT
from tests.sandbox.conftest import PENDING_TEXT, new_user, texts_of


async def _card(sandbox, user: str, text: str = DEMO_KEYWORD, **extra) -> None:
    before = len(await sandbox.messages(user))
    status, body = await sandbox.post("/sandbox/api/say", {"user": user, "text": text, **extra})
    assert status == 200, body
    await sandbox.wait_messages(user, before + 1)


def test_the_clock_cannot_move_outside_sandbox_mode():
    with pytest.raises(RuntimeError, match="sandbox mode"):
        set_clock_offset(dt.timedelta(minutes=31))
    assert clock_offset() == dt.timedelta(0)
    assert abs(utcnow() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=1)


async def test_the_clock_closes_the_photo_window_and_goes_back_on_shutdown(start_sandbox):
    sandbox = await start_sandbox()
    user = new_user()
    await _card(sandbox, user)
    status, moved = await sandbox.post("/sandbox/api/clock", {"advance_minutes": 31})
    assert status == 200 and moved["offset_seconds"] == 31 * 60
    assert dt.datetime.fromisoformat(moved["now"]) - dt.datetime.now(dt.timezone.utc) > dt.timedelta(minutes=30)
    status, _ = await sandbox.post("/sandbox/api/sample-photo", {"user": user})
    assert status == 200
    await asyncio.sleep(3)
    assert len(await sandbox.messages(user)) == 1  # the window closed: the photo got no answer
    for bad, field in [({"advance_minutes": 0}, "advance_minutes"), ({"advance_minutes": "31"}, "advance_minutes"),
                       ({"advance_minutes": 10**6}, "advance_minutes"), ({"until": "09:00"}, "body"), ([], "body")]:
        status, body = await sandbox.post("/sandbox/api/clock", bad)
        assert status == 400 and body["field"] == field, (bad, body)
    await sandbox.server.close()
    assert clock_offset() == dt.timedelta(0)
    with pytest.raises(RuntimeError):
        set_clock_offset(dt.timedelta(minutes=1))


async def test_three_days_of_retries_end_invalid_and_the_push_waits_for_0801(start_sandbox):
    sandbox = await start_sandbox()
    user = new_user()
    status, daytime = await sandbox.post("/sandbox/api/clock", {"until": "08:01"})
    assert status == 200 and dt.datetime.fromisoformat(daytime["now"]).astimezone(
        dt.timezone(dt.timedelta(hours=8))).strftime("%H:%M") == "08:01"
    await _card(sandbox, user)
    status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": user, "kind": "never"})
    assert status == 200 and sample["kind"] == "never"
    sent = await sandbox.wait_messages(user, 2)
    assert PENDING_TEXT in texts_of(sent[1]["messages"])
    # Three days and 16½ hours later: 00:31 in Taipei, past the retries, inside quiet hours.
    status, _ = await sandbox.post("/sandbox/api/clock", {"advance_minutes": 3 * 1440 + 16 * 60 + 30})
    assert status == 200
    await asyncio.sleep(4)
    def invalid_notices(messages: list[dict]) -> list[dict]:
        return [m for m in messages if any("未符合活動資格" in t for t in texts_of(m["messages"]))]

    assert invalid_notices(await sandbox.messages(user)) == []  # decided, but held until the morning
    status, _ = await sandbox.post("/sandbox/api/clock", {"until": "08:01"})
    deadline = asyncio.get_running_loop().time() + 20
    while not (notices := invalid_notices(await sandbox.messages(user))):
        assert asyncio.get_running_loop().time() < deadline, "no 無效 notice after 08:01"
        await asyncio.sleep(0.1)
    [notice] = notices
    assert notice["kind"] == "push"
    assert any(sample["invoice_number"][2:] in text for text in texts_of(notice["messages"]))


async def _events(sandbox, user: str, until: int, timeout: float = 20) -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []
    async with sandbox.client.get("/sandbox/api/events", params={"user": user}) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        kind = None
        async with asyncio.timeout(timeout):
            while len(found) < until:
                line = (await resp.content.readline()).decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    found.append((kind, json.loads(line[6:])))
                    if kind == "hello":
                        await sandbox.post("/sandbox/api/say", {"user": user, "text": DEMO_KEYWORD})
    return found


async def test_the_live_feed_sends_what_the_user_said_and_the_bots_answer(start_sandbox):
    sandbox = await start_sandbox()
    user, other = new_user(), new_user()
    await _card(sandbox, other)  # someone else's conversation is not in this feed
    events = await _events(sandbox, user, 3)
    assert [kind for kind, _ in events] == ["hello", "said", "bot"]
    assert events[1][1]["text"] == DEMO_KEYWORD and events[1][1]["user"] == user
    assert events[2][1]["to"] == user and DEMO_NAME in texts_of(events[2][1]["messages"])
    async with sandbox.client.get("/sandbox/api/events", params={"user": "nobody"}) as resp:
        assert resp.status == 400 and (await resp.json())["field"] == "user"


async def test_the_directory_lists_the_demo_campaigns_and_their_triggers_answer(start_sandbox):
    sandbox = await start_sandbox()
    async with sandbox.client.get("/sandbox/api/campaigns") as resp:
        [channel] = (await resp.json())["channels"]
    assert channel["default"] and channel["reachable"]
    listed = {c["name"]: (c["status"], [t["value"] for t in c["triggers"]]) for c in channel["campaigns"]}
    assert listed[UPCOMING_NAME] == ("scheduled", [UPCOMING_KEYWORD])
    assert listed[ENDED_NAME] == ("ended", [ENDED_KEYWORD])
    assert listed[DEMO_NAME][0] == "running" and DEMO_KEYWORD in listed[DEMO_NAME][1]
    user = new_user()
    await _card(sandbox, user, UPCOMING_KEYWORD)
    assert NOT_STARTED_TEXT in texts_of((await sandbox.messages(user))[0]["messages"])
    await _card(sandbox, user, ENDED_KEYWORD)
    [ended] = (await sandbox.messages(user))[1]["messages"]
    assert ended["altText"] == f"「{ENDED_NAME}」活動已結束" and "無法再登錄發票" in "".join(texts_of(ended))


async def test_a_visitor_can_talk_to_another_channel_of_the_database(start_sandbox, database_url):
    sandbox = await start_sandbox()
    db = Database(database_url)
    try:
        async with db.session() as s, s.begin():
            brand = Channel(name="品牌官方帳號", channel_secret="0123456789abcdef0123456789abcdef", access_token="t" * 40)
            mute = Channel(name="沒有密鑰的帳號")
            s.add_all([brand, mute])
        now = utcnow()
        store = CampaignStore(db)
        actor = Actor(None, "test", Role.ADMIN)
        view = await store.create(actor, demo_settings(brand.id, "https://example.com/rules", now, name="冬季發票活動"), now)
        async with db.session() as s, s.begin():
            s.add(Trigger(channel_id=brand.id, campaign_id=view.id, kind="keyword_exact", value="冬季登錄"))
        await store.publish(actor, view.id, now)
    finally:
        await db.close()
    async with sandbox.client.get("/sandbox/api/campaigns") as resp:
        channels = {c["name"]: c for c in (await resp.json())["channels"]}
    assert channels["品牌官方帳號"]["reachable"] and not channels["沒有密鑰的帳號"]["reachable"]
    assert [c["name"] for c in channels["品牌官方帳號"]["campaigns"]] == ["冬季發票活動"]
    user = new_user()
    await _card(sandbox, user, "冬季登錄", channel=brand.id)
    assert "冬季發票活動" in texts_of((await sandbox.messages(user))[0]["messages"])
    for channel, reason in [(mute.id, "no channel secret"), (999999, "no channel"), ("1", "channel id")]:
        status, body = await sandbox.post("/sandbox/api/say", {"user": user, "text": "冬季登錄", "channel": channel})
        assert status == 400 and body["field"] == "channel" and reason in body["error"], body


async def test_resending_a_sample_takes_the_duplicate_paths(start_sandbox):
    sandbox = await start_sandbox()
    first, second = new_user(), new_user()
    status, body = await sandbox.post("/sandbox/api/resend-sample", {"user": first})
    assert status == 400 and body["field"] == "sample"
    await _card(sandbox, first)
    status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": first, "kind": "eligible"})
    assert status == 200 and sample["total_amount"] >= 100
    await sandbox.wait_messages(first, 2)
    await _card(sandbox, second)
    status, again = await sandbox.post("/sandbox/api/resend-sample", {"user": second})
    assert status == 200 and again["again"] and again["invoice_number"] == sample["invoice_number"]
    answer = (await sandbox.wait_messages(second, 2))[1]
    assert "重複" in "\n".join(texts_of(answer["messages"]))
    status, body = await sandbox.post("/sandbox/api/sample-photo", {"user": first, "kind": "huge"})
    assert status == 400 and body["field"] == "kind"


async def test_the_rich_menu_the_simulator_holds_is_what_the_page_draws(start_sandbox):
    from bot.sandbox_chat.keys import LINE_SIM

    sandbox = await start_sandbox()
    user = new_user()
    async with sandbox.client.get("/sandbox/api/richmenu", params={"user": user}) as resp:
        assert resp.status == 200 and (await resp.json()) == {"menu": None}  # the page draws its own
    sim = sandbox.server.app[LINE_SIM]
    menu_id = "richmenu-" + "0" * 32
    area = {"bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
            "action": {"type": "postback", "data": "action=invoice_card&campaign=demo"}}
    sim.rich_menus[menu_id] = {"richMenuId": menu_id, "size": {"width": 2500, "height": 843},
                               "chatBarText": "發票登錄", "areas": [area]}
    sim.rich_menu_images[menu_id] = (b"\x89PNG\r\n\x1a\n", "image/png")
    sim.default_rich_menu = menu_id
    async with sandbox.client.get("/sandbox/api/richmenu", params={"user": user}) as resp:
        menu = (await resp.json())["menu"]
    assert menu["chatBarText"] == "發票登錄" and menu["areas"] == [area]
    async with sandbox.client.get(menu["image"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
    # A tap on it: the postback, with no bubble on the user's side unless displayText is set.
    status, body = await sandbox.post("/sandbox/api/postback", {"user": user, "data": area["action"]["data"]})
    assert status == 200 and body["entry"]["display_text"] is None
    await sandbox.wait_messages(user, 1)

"""The LINE simulator over real HTTP: protocol paths, token rules, retry keys, faults,
recording, ID tokens and signed webhook delivery."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import aiohttp
from aiohttp import web

from bot.simulators.__main__ import build_parser
from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET, new_user_id

AUTH = {"Authorization": f"Bearer {SIM_ACCESS_TOKEN}"}
TEXT = [{"type": "text", "text": "哈囉"}]


async def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=body, headers={**AUTH, **(headers or {})}) as r:
            return r.status, await r.json(content_type=None), r.headers


async def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers=headers if headers is not None else AUTH) as r:
            return r.status, await r.json(content_type=None)


async def test_reply_token_is_single_use_and_recorded_for_its_user(sim, sim_url) -> None:
    user = new_user_id()
    token = sim.issue_reply_token(user)
    status, body, _ = await post(f"{sim_url}/v2/bot/message/reply", {"replyToken": token, "messages": TEXT})
    assert status == 200 and len(body["sentMessages"]) == 1
    status, body, _ = await post(f"{sim_url}/v2/bot/message/reply", {"replyToken": token, "messages": TEXT})
    assert (status, body) == (400, {"message": "Invalid reply token"})
    _, recorded = await get_json(f"{sim_url}/_sim/messages", {})
    assert [(m["kind"], m["to"], m["messages"]) for m in recorded] == [("reply", user, TEXT)]
    assert set(recorded[0]) == {"kind", "to", "messages", "at"}


async def test_unknown_and_expired_reply_tokens_are_refused(sim, sim_url, sim_clock) -> None:
    status, body, _ = await post(f"{sim_url}/v2/bot/message/reply", {"replyToken": "nope", "messages": TEXT})
    assert (status, body["message"]) == (400, "Invalid reply token")
    token = sim.issue_reply_token(new_user_id())
    sim_clock.now += 61
    status, body, _ = await post(f"{sim_url}/v2/bot/message/reply", {"replyToken": token, "messages": TEXT})
    assert (status, body["message"]) == (400, "Invalid reply token")
    assert sim.messages == []


async def test_bearer_token_is_required(sim, sim_url) -> None:
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{sim_url}/v2/bot/message/push", json={"to": "U1", "messages": TEXT}, headers=headers) as r:
                assert r.status == 401
    assert sim.messages == []


async def test_at_most_five_messages(sim, sim_url) -> None:
    status, body, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT * 6})
    assert status == 400 and body["details"][0]["property"] == "messages"
    status, _, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT * 5})
    assert status == 200


async def test_retry_key_accepted_once_then_409_with_the_request_id(sim, sim_url) -> None:
    key = "123e4567-e89b-12d3-a456-426614174000"
    status, _, headers = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT}, {"X-Line-Retry-Key": key})
    assert status == 200
    first_id = headers["X-Line-Request-Id"]
    status, _, headers = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT}, {"X-Line-Retry-Key": key})
    assert status == 409 and headers["X-Line-Accepted-Request-Id"] == first_id
    assert len(sim.messages) == 1
    status, _, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT}, {"X-Line-Retry-Key": "not-a-uuid"})
    assert status == 400


async def test_injected_faults_do_not_consume_the_retry_key(sim, sim_url) -> None:
    status, _, _ = await post(f"{sim_url}/_sim/faults", {"push": [429, 500]})
    assert status == 200
    key = "223e4567-e89b-12d3-a456-426614174000"
    statuses = []
    for _ in range(3):
        status, _, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "U1", "messages": TEXT}, {"X-Line-Retry-Key": key})
        statuses.append(status)
    assert statuses == [429, 500, 200]
    assert len(sim.messages) == 1


async def test_blocked_user_push_fails_and_unblock_restores(sim, sim_url) -> None:
    await post(f"{sim_url}/_sim/block", {"userId": "Ublocked"})
    status, body, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "Ublocked", "messages": TEXT})
    assert (status, body["message"]) == (400, "Failed to send messages")
    await post(f"{sim_url}/_sim/unblock", {"userId": "Ublocked"})
    status, _, _ = await post(f"{sim_url}/v2/bot/message/push", {"to": "Ublocked", "messages": TEXT})
    assert status == 200


async def test_content_profile_and_clear(sim, sim_url) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim_url}/_sim/content", data=b"\xff\xd8jpeg", headers={"Content-Type": "image/jpeg"}) as r:
            message_id = (await r.json())["messageId"]
        async with s.get(f"{sim_url}/v2/bot/message/{message_id}/content", headers=AUTH) as r:
            assert r.status == 200 and await r.read() == b"\xff\xd8jpeg" and r.content_type == "image/jpeg"
        async with s.get(f"{sim_url}/v2/bot/message/999/content", headers=AUTH) as r:
            assert r.status == 404
    await post(f"{sim_url}/_sim/profiles", {"userId": "U9", "displayName": "王小明"})
    assert await get_json(f"{sim_url}/v2/bot/profile/U9") == (200, {"userId": "U9", "displayName": "王小明", "language": "zh-TW"})
    assert (await get_json(f"{sim_url}/v2/bot/profile/Unobody"))[0] == 404
    await post(f"{sim_url}/_sim/clear", {})
    assert sim.contents == {} and sim.messages == []


async def test_id_token_verify(sim, sim_url, sim_clock) -> None:
    _, body, _ = await post(f"{sim_url}/_sim/id_tokens", {"userId": "U7", "name": "小美", "expiresIn": 60})
    token = body["idToken"]
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data={"id_token": token, "client_id": "1657000000"}) as r:
            claims = await r.json()
            assert r.status == 200
        assert claims["sub"] == "U7" and claims["aud"] == "1657000000" and claims["name"] == "小美"
        assert claims["iss"] == "https://access.line.me" and claims["exp"] - claims["iat"] == 60 and "picture" in claims
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data={"id_token": "forged", "client_id": "1657000000"}) as r:
            assert r.status == 400
            assert await r.json() == {"error": "invalid_request", "error_description": "Invalid IdToken."}
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data={"id_token": token, "client_id": "999"}) as r:
            assert r.status == 400
        sim_clock.now += 61
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data={"id_token": token, "client_id": "1657000000"}) as r:
            assert r.status == 400


async def test_verify_records_its_calls_answers_injected_429s_and_may_trust_any_claims(sim, sim_url, sim_clock) -> None:
    claims = {"iss": "https://issuer.example.com", "sub": "U" + "a" * 500, "exp": int(sim_clock.now) - 10}
    _, body, _ = await post(f"{sim_url}/_sim/id_tokens", {"userId": "U7", "claims": claims})
    token = body["idToken"]
    assert (await post(f"{sim_url}/_sim/faults", {"verify": [429], "retryAfter": 7}))[0] == 200
    form = {"id_token": token, "client_id": "1657000000"}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data=form) as r:
            assert (r.status, r.headers["Retry-After"]) == (429, "7")
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data=form) as r:
            assert r.status == 400  # expired, as LINE would say
        sim.verify_checks = False  # a verify answer the service must not trust blindly
        async with s.post(f"{sim_url}/oauth2/v2.1/verify", data={**form, "client_id": "999"}) as r:
            assert r.status == 200 and {k: (await r.json())[k] for k in claims} == claims
    assert [(c["endpoint"], c["clientId"], c["idToken"], c["status"]) for c in sim.api_calls] == [
        ("oauth2.verify", "1657000000", token, 429), ("oauth2.verify", "1657000000", token, 400),
        ("oauth2.verify", "999", token, 200)]
    sim.issuer = "https://other.example"
    assert sim.id_tokens[sim.issue_id_token("U8")].claims["iss"] == "https://other.example"


async def test_deliver_signs_the_raw_body_and_redelivers_the_same_event(sim, sim_url, aiohttp_server) -> None:
    received: list[tuple[bytes, str]] = []

    async def bot(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers["X-Line-Signature"]))
        return web.Response(text="ok")

    bot_app = web.Application()
    bot_app.router.add_post("/callback", bot)
    server = await aiohttp_server(bot_app)
    url = str(server.make_url("/callback"))
    user = new_user_id()
    status, body, _ = await post(
        f"{sim_url}/_sim/deliver",
        {"url": url, "events": [{"type": "text", "userId": user, "text": "發票"}, {"type": "postback", "userId": user, "data": "campaign=1"}, {"type": "follow", "userId": user}, {"type": "image", "userId": user, "contentBase64": base64.b64encode(b"img").decode()}]},
    )
    assert status == 200 and body["status"] == 200
    raw, signature = received[0]
    expected = base64.b64encode(hmac.new(SIM_CHANNEL_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(signature, expected)
    doc = json.loads(raw)
    assert doc["destination"] == sim.bot_user_id
    text, postback, follow, image = doc["events"]
    assert text["message"]["text"] == "發票" and text["source"] == {"type": "user", "userId": user}
    assert postback["postback"]["data"] == "campaign=1" and follow["type"] == "follow"
    assert sim.contents[image["message"]["id"]][0] == b"img"
    assert all(e["deliveryContext"]["isRedelivery"] is False and len(e["webhookEventId"]) == 26 for e in doc["events"])
    assert sim.reply_tokens[text["replyToken"]].user_id == user

    status, body, _ = await post(f"{sim_url}/_sim/redeliver", {"url": url, "webhookEventId": text["webhookEventId"]})
    assert status == 200
    again = json.loads(received[1][0])["events"][0]
    assert again["webhookEventId"] == text["webhookEventId"] and again["deliveryContext"]["isRedelivery"] is True


async def test_deliver_rejects_bad_specs(sim_url) -> None:
    status, body, _ = await post(f"{sim_url}/_sim/deliver", {"url": "http://127.0.0.1:1/x", "events": [{"type": "text"}]})
    assert status == 400 and "userId" in body["error"]


def test_cli_knows_the_line_simulator() -> None:
    parser, factories = build_parser()
    args = parser.parse_args(["line", "--port", "0", "--access-token", "tok"])
    app = factories["line"](args)
    assert isinstance(app, web.Application)

"""The structural check /callback makes before storing an event (bot.line.event_check):
what the SDK accepts is accepted, what it does not know is ignored, malformed shapes are a
400, and what the check leaves to the SDK is stored and failed by the inbox worker."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from linebot.v3.webhooks import Event
from sqlalchemy import select

from bot.line.event_check import BadEvent, UnknownEvent, check_event
from bot.line.webhook import parse_body
from bot.simulators.line import SIM_CHANNEL_SECRET, LineSimulator, new_user_id, sign
from bot.storage.models import WebhookEvent
from tests.line.test_webhook import Recorder, start_bot, stored_events, wait_for


def sample_events() -> list[dict[str, Any]]:
    sim = LineSimulator()
    user = new_user_id()
    text = sim.text_event(user, "hi")
    text["message"]["emojis"] = [{"index": 0, "length": 1, "productId": "p", "emojiId": "e"}]
    text["message"]["mention"] = {"mentionees": [{"index": 0, "length": 1, "type": "user", "userId": "U1"}]}
    group = sim.text_event(user, "hi")
    group["source"] = {"type": "group", "groupId": "C" + "1" * 32, "userId": user}
    return [sim.text_event(user, "hi"), text, group, sim.image_event(user, b"x"), sim.postback_event(user, "d"),
            sim.follow_event(user), {**sim.follow_event(user), "type": "unfollow"}]


def sdk_verdict(data: Any) -> str:
    """What parsing with the SDK made of an event before the check existed."""
    try:
        return "ok" if Event.from_dict(data) is not None else "bad"
    except ValueError as exc:
        return "unknown" if type(exc) is ValueError and "discriminator" in str(exc) else "bad"
    except Exception:
        return "bad"


def check_verdict(data: Any) -> str:
    try:
        check_event(data)
        return "ok"
    except UnknownEvent:
        return "unknown"
    except BadEvent:
        return "bad"


def mutations(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The event with each value (at every depth) replaced by each of a few others, or removed."""
    values: list[Any] = [None, 0, 1, True, 1.5, "", "x", "user", "text", "active", [], [1], {}, {"type": "user"}]

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))

    for path in list(paths(event)):
        for value in [*values, KeyError]:
            changed = copy.deepcopy(event)
            parent = changed
            for key in path[:-1]:
                parent = parent[key]
            if value is KeyError:
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            yield changed


def test_the_check_agrees_with_the_sdk_except_where_it_leaves_a_field_to_it() -> None:
    left_to_sdk = []
    for event in sample_events():
        assert check_verdict(event) == "ok" == sdk_verdict(event)
        for changed in mutations(event):
            ours, sdk = check_verdict(changed), sdk_verdict(changed)
            if ours != sdk:
                assert (ours, sdk) == ("ok", "bad"), changed  # never refuses or ignores what the SDK takes
                left_to_sdk.append(changed)
    # The only field the check leaves to the SDK here: a content provider's type (a model validator).
    assert left_to_sdk and all(e["message"]["contentProvider"] != {"type": "line"} for e in left_to_sdk)


@pytest.mark.parametrize("change", [
    {"type": ["message"]}, {"timestamp": "soon"}, {"timestamp": 1.5}, {"timestamp": True}, {"timestamp": None},
    {"webhookEventId": 7}, {"webhookEventId": None}, {"mode": "sleepy"}, {"deliveryContext": {"isRedelivery": "no"}},
    {"deliveryContext": []}, {"source": [1, 2]}, {"source": {"type": "user", "userId": 5}},
    {"source": {"type": "group"}}, {"replyToken": 1}, {"message": None}, {"message": "hi"},
    {"message": {"type": "text", "id": {"a": [[[]]]}, "text": "x", "quoteToken": "q"}},
    {"message": {"type": "text", "id": "1", "quoteToken": "q"}},
    {"message": {"type": "text", "id": "1", "text": "x", "quoteToken": "q", "emojis": [{"index": "0"}]}},
    {"message": {"type": "text", "id": "1", "text": "x", "quoteToken": "q", "mention": {"mentionees": "all"}}},
])
def test_malformed_events_make_the_body_a_bad_document(change: dict[str, Any]) -> None:
    event = {**sample_events()[0], **change}
    with pytest.raises(ValueError):
        parse_body(json.dumps({"events": [event]}))


@pytest.mark.parametrize("missing", ["timestamp", "mode", "webhookEventId", "deliveryContext", "message", "type"])
def test_a_missing_required_field_makes_the_body_a_bad_document(missing: str) -> None:
    event = sample_events()[0]
    del event[missing]
    with pytest.raises(ValueError):
        parse_body(json.dumps({"events": [event]}))


def test_unknown_types_are_left_out_and_known_ones_kept() -> None:
    known = sample_events()
    unknown = [{**known[0], "type": "teleport"}, {**known[0], "message": {"type": "hologram", "id": "1"}},
               {**known[0], "source": {"type": "planet", "planetId": "P"}}, {**known[0], "type": ""}]
    assert parse_body(json.dumps({"events": unknown + known})) == known


async def test_an_event_the_sdk_refuses_after_the_check_is_stored_and_failed(aiohttp_server, database) -> None:
    recorder = Recorder()
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    user = new_user_id()
    odd = sim.image_event(user, b"x")
    odd["message"]["contentProvider"] = {"type": "carrier-pigeon"}  # the SDK's validator refuses it
    body = sim.webhook_body([odd, sim.text_event(user, "after")])
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/callback"), data=body,
                          headers={"X-Line-Signature": sign(SIM_CHANNEL_SECRET, body)}) as r:
            assert r.status == 200
    await wait_for(lambda: len(recorder.seen) == 1)
    assert recorder.seen == [("main", user, "after")]  # the refused event does not hold up the next
    assert await stored_events(database) == 2
    async with database.session() as session:
        row = (await session.execute(select(WebhookEvent).where(WebhookEvent.event_id == odd["webhookEventId"]))).scalar_one()
    assert row.state == "failed" and row.last_error.startswith("payload: ")

"""The messaging adapter (line-bot-sdk v3) against the LINE simulator over real HTTP."""
from __future__ import annotations

import pytest
from linebot.v3.messaging import FlexMessage as SdkFlex
from linebot.v3.messaging import PushMessageRequest, ReplyMessageRequest
from linebot.v3.messaging import TextMessage as SdkText
from pydantic.v1 import validate_arguments

from bot.line.messaging import (
    ContentTooLarge,
    InvalidIdToken,
    InvalidReplyToken,
    LineMessaging,
    Permanent,
    RecipientUnreachable,
    Transient,
    to_sdk_message,
)
from bot.simulators.line import SIM_ACCESS_TOKEN, new_user_id
from flows.messages.buttons import liff_url_builder
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.model import TextMessage
from flows.messages.system import SystemKind, system_message


async def test_reply_then_spent_token(sim, line) -> None:
    user = new_user_id()
    token = sim.issue_reply_token(user)
    await line.reply(token, [TextMessage("你好")])
    assert sim.messages[0]["kind"] == "reply" and sim.messages[0]["to"] == user
    assert sim.messages[0]["messages"] == [{"type": "text", "text": "你好"}]
    with pytest.raises(InvalidReplyToken):
        await line.reply(token, [TextMessage("again")])


async def test_push_with_retry_key_is_sent_once(sim, line) -> None:
    key = "3f1c1f0e-5b2a-4d0e-9a57-3c1f6a0b7d21"
    first = await line.push("Uabc", [TextMessage("一")], retry_key=key)
    second = await line.push("Uabc", [TextMessage("一")], retry_key=key)
    assert not first.duplicate and first.request_id
    assert second.duplicate and second.request_id == first.request_id
    assert len(sim.messages) == 1


async def test_push_errors_are_classified(sim, line) -> None:
    sim.inject_faults("push", [429, 503])
    with pytest.raises(Transient) as rate:
        await line.push("Uabc", [TextMessage("x")])
    assert rate.value.status == 429 and rate.value.retry_after == 1.0
    with pytest.raises(Transient) as server:
        await line.push("Uabc", [TextMessage("x")])
    assert server.value.status == 503
    sim.block("Ublocked")
    with pytest.raises(RecipientUnreachable):
        await line.push("Ublocked", [TextMessage("x")])
    assert sim.messages == []


async def test_bad_token_is_permanent_and_unreachable_host_is_transient(sim_url) -> None:
    async with LineMessaging("wrong", api_base_url=sim_url, data_api_base_url=sim_url, timeout=3) as bad:
        with pytest.raises(Permanent) as exc:
            await bad.push("U1", [TextMessage("x")])
        assert exc.value.status == 401
    async with LineMessaging("t", api_base_url="http://127.0.0.1:1", data_api_base_url="http://127.0.0.1:1", timeout=2) as down:
        with pytest.raises(Transient):
            await down.push("U1", [TextMessage("x")])


async def test_content_is_bounded(sim, sim_url, line) -> None:
    message_id = sim.register_content(b"x" * 2048, "image/jpeg")
    assert await line.get_content(message_id) == b"x" * 2048
    async with LineMessaging(SIM_ACCESS_TOKEN, api_base_url=sim_url, data_api_base_url=sim_url, max_content_bytes=1000) as small:
        with pytest.raises(ContentTooLarge):
            await small.get_content(message_id)
    with pytest.raises(Permanent) as missing:
        await line.get_content("123")
    assert missing.value.status == 404


async def test_content_uses_the_data_api_host(sim, sim_url) -> None:
    # The API host is unreachable: content must come from the data host alone.
    message_id = sim.register_content(b"data-host", "image/png")
    async with LineMessaging(SIM_ACCESS_TOKEN, api_base_url="http://127.0.0.1:1", data_api_base_url=sim_url) as split:
        assert await split.get_content(message_id) == b"data-host"


async def test_profile(sim, line) -> None:
    sim.set_profile("Uprof", "陳大文", "https://example.com/p.png")
    profile = await line.get_profile("Uprof")
    assert (profile.user_id, profile.display_name, profile.picture_url) == ("Uprof", "陳大文", "https://example.com/p.png")
    with pytest.raises(Permanent):
        await line.get_profile("Unknown")


async def test_verify_id_token(sim, line, sim_clock) -> None:
    token = sim.issue_id_token("Uliff", name="林小姐", expires_in=30)
    claims = await line.verify_id_token(token, "1657000000")
    assert (claims.sub, claims.aud, claims.name) == ("Uliff", "1657000000", "林小姐")
    with pytest.raises(InvalidIdToken):
        await line.verify_id_token("forged.token.x", "1657000000")
    with pytest.raises(InvalidIdToken):
        await line.verify_id_token(token, "other-channel")
    sim_clock.now += 31
    with pytest.raises(InvalidIdToken):
        await line.verify_id_token(token, "1657000000")


async def test_system_message_with_buttons_is_sent_as_a_flex_bubble(sim, line) -> None:
    facts = InvoiceFacts("AB12345678", __import__("datetime").date(2024, 1, 1))
    message = system_message(
        SystemKind.DUPLICATE, invoice=facts, campaign_id="7", liff_url=liff_url_builder("1657000000-AbCd")
    )
    sdk = to_sdk_message(message)
    assert isinstance(sdk, SdkFlex)
    await line.push("Ubtn", [message])
    sent = sim.messages[0]["messages"][0]
    assert sent["type"] == "flex" and sent["altText"] == message.text
    labels = [b["action"]["label"] for b in sent["contents"]["footer"]["contents"]]
    assert labels == ["拍照上傳", "手動上傳", "電子載具"]
    assert sent["contents"]["body"]["contents"][0]["text"] == message.text


def test_to_sdk_message_validates() -> None:
    assert isinstance(to_sdk_message({"type": "text", "text": "a"}), SdkText)
    with pytest.raises(ValueError, match="text"):
        to_sdk_message({"type": "text", "text": ""})
    with pytest.raises(ValueError, match="contents"):
        to_sdk_message({"type": "flex", "altText": "a", "contents": {"type": "bubble", "body": {"type": "bogus"}}})
    with pytest.raises(ValueError, match="type"):
        to_sdk_message({"type": "video"})


async def test_more_than_five_messages_refused_before_sending(sim, line) -> None:
    with pytest.raises(ValueError, match="messages"):
        await line.push("U1", [TextMessage("x")] * 6)
    assert sim.messages == []


def _bubble(**hero: str) -> dict:
    body = {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "x"}]}
    bubble: dict = {"type": "bubble", "body": body}
    if hero:
        bubble["hero"] = {"type": "image", **hero}
    return bubble


async def test_validate_endpoint_accepts_what_line_accepts(sim, line) -> None:
    """`POST /v2/bot/message/validate/{kind}` through the adapter: nothing is sent, the call is
    recorded, LINE's checks run (altText in UTF-16 units, https images, carousel size)."""
    good = {"type": "flex", "altText": "🎉" * 750, "contents": _bubble(url="https://e.com/a.png")}
    for kind in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        await line.validate_messages([good], kind=kind)
    assert sim.messages == []
    assert [c["endpoint"] for c in sim.api_calls] == [
        "message.validate.reply", "message.validate.push", "message.validate.multicast",
        "message.validate.narrowcast", "message.validate.broadcast"]
    with pytest.raises(ValueError):
        await line.validate_messages([good], kind="nonsense")


async def test_validate_endpoint_refusals_name_the_property(sim, line) -> None:
    from bot.line.messaging import InvalidMessages

    too_long = {"type": "flex", "altText": "🎉" * 751, "contents": _bubble()}  # 1,502 UTF-16 units
    with pytest.raises(InvalidMessages) as refused:
        await line.validate_messages([too_long])
    assert refused.value.details == ["messages[0].altText: Length must be between 0 and 1500"]
    http = {"type": "flex", "altText": "a", "contents": _bubble(url="http://e.com/a.png")}
    with pytest.raises(InvalidMessages) as refused:
        await line.validate_messages([TextMessage("ok"), http])
    assert refused.value.details == [
        "messages[1].contents.hero.url: must be an https URL of at most 2000 characters"]
    carousel = {"type": "flex", "altText": "a",
                "contents": {"type": "carousel", "contents": [_bubble()] * 13}}
    with pytest.raises(InvalidMessages) as refused:
        await line.validate_messages([carousel])
    assert refused.value.details == ["messages[0].contents.contents: Size must be between 1 and 12"]
    big = {"type": "flex", "altText": "a", "contents": {
        "type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "長" * 2000}] * 6}}}
    with pytest.raises(InvalidMessages) as refused:
        await line.validate_messages([big])
    assert "size must be 30720 bytes or less" in refused.value.details[0]
    assert [c["ok"] for c in sim.api_calls] == [False] * 4


async def test_validate_needs_a_valid_token(sim_url) -> None:
    async with LineMessaging("wrong-token", api_base_url=sim_url, data_api_base_url=sim_url, timeout=5) as line:
        with pytest.raises(Permanent) as refused:
            await line.validate_messages([TextMessage("x")])
    assert refused.value.status == 401


def test_prepared_requests_send_exactly_what_the_sdk_would():
    """reply/push reuse the messages' JSON the SDK made once (bot.line.messaging._prepared):
    the request body must equal the SDK's own serialisation, also after the SDK's argument
    validation copied the request."""
    from bot.line.flex import CardCampaign, channel_card_json
    from bot.line.messaging import PreparedPush, PreparedReply, _prepared, _sdk_messages

    card = channel_card_json(CardCampaign("12", "夏季發票登錄", "https://example.com/rules", "https://example.com/a.png"),
                             liff_id="1234567890-abcdefgh", sandbox_base_url=None)
    messages = [card, {"type": "text", "text": "發票資訊如下\n發票號碼：AB12345678"}]

    @validate_arguments
    def as_sdk_validates(request: ReplyMessageRequest) -> ReplyMessageRequest:
        return request

    reply = as_sdk_validates(_prepared(PreparedReply, messages, reply_token="token-1"))
    assert reply.to_dict() == ReplyMessageRequest(reply_token="token-1", messages=_sdk_messages(messages)).to_dict()
    push = _prepared(PreparedPush, messages, to="U" + "a" * 32)
    assert push.to_dict() == PushMessageRequest(to="U" + "a" * 32, messages=_sdk_messages(messages)).to_dict()
    with pytest.raises(ValueError, match="messages"):
        _prepared(PreparedReply, [], reply_token="token-1")

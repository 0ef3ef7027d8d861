"""The LIFF API's guards over real HTTP against the LINE and MOF simulators: malformed bodies,
the address limit before LINE's verify, verified tokens kept until their exp, the claims
checked here as well as by LINE, LINE's 429 on verify, and issue dates a campaign cannot take."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.simulators.line import SIM_LOGIN_CHANNEL_ID
from bot.storage.models import Channel
from tests.chat.conftest import LIFF_ID, Stack

USER = "U" + "c3" * 16
ENDPOINTS = ("campaign", "validate", "manual", "carrier")


async def _login_ready(stack: Stack) -> None:
    async with stack.db.session() as s, s.begin():
        channel = await s.scalar(select(Channel).where(Channel.name == "default"))
        channel.login_channel_id = SIM_LOGIN_CHANNEL_ID


async def _send(stack: Stack, path: str, data: bytes, token: str | None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    client = stack.line_client.session
    async with client.post(stack.service.make_url(f"/liff/api/{path}"), data=data, headers=sent) as resp:
        text = await resp.text()
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"raw": text[:200]}
        return resp.status, answer, resp.headers


async def _post(stack: Stack, path: str, body: dict[str, Any], token: str | None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    return await _send(stack, path, json.dumps(body).encode(), token, headers)


def _base(stack: Stack) -> dict[str, Any]:
    return {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}


def _verify_calls(stack: Stack) -> list[dict[str, Any]]:
    return [c for c in stack.sim.api_calls if c["endpoint"] == "oauth2.verify"]


@pytest.fixture
async def stack(make_stack) -> Stack:
    stack = await make_stack()
    await _login_ready(stack)
    return stack


async def test_malformed_bodies_get_400_naming_why_on_every_endpoint(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    prefix = f'{{"liff_id": "{LIFF_ID}", "campaign": "{stack.campaign_id}", "form": "manual", '.encode()
    bodies = {
        "nested too deeply": b"[" * 1500 + b"]" * 1500,  # 3 KB: the parser's RecursionError
        "not UTF-8": prefix + b'"fields": {"invoice_number": "\xff\xfe"}}',
        "a text is not valid Unicode": b'{"liff_id": "\\ud800", "campaign": "1"}',
        "a text holds a NUL character": b'{"liff_id": "a\\u0000b", "campaign": "1"}',
        "NaN is not JSON": prefix + b'"fields": {"total_amount": NaN}}',
        "a number is too large": prefix + b'"fields": {"total_amount": 1e999}}',
    }
    for path in ENDPOINTS:
        for reason, raw in bodies.items():
            status, answer, _ = await _send(stack, path, raw, token)
            assert (status, answer.get("error"), answer.get("reason")) == (400, "body", reason), (path, reason, answer)
        # Wrong types and odd values are refused as such, never a 500.
        for body in ({**_base(stack), "campaign": "²"}, {**_base(stack), "campaign": 10**18},
                     {**_base(stack), "liff_id": ["x"]}, {**_base(stack), "liff_id": "中文"}):
            status, answer, _ = await _post(stack, path, body, token)
            assert (status, answer["error"]) == (404, "gone"), (path, body, answer)
        if path != "campaign":
            status, answer, _ = await _post(stack, path, {**_base(stack), "form": "manual", "fields": [1]}, token)
            assert (status, answer["error"]) == (400, "fields")
    strange = {"invoice_number": ["AB12345678"], "date": {"y": 2024}, "random_code": 1234, "total_amount": 10**17,
               "phone": 912345678, "consent": "true", "carrier_barcode": ["/ABC+123"], "verification_code": 42}
    for path in ("manual", "carrier"):
        status, answer, _ = await _post(stack, path, {**_base(stack), "fields": strange}, token)
        assert status == 422 and answer["errors"], answer
    assert await stack.uploads() == []

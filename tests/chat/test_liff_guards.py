"""The LIFF API's guards over real HTTP against the LINE and MOF simulators: malformed bodies,
the address limit before LINE's verify, verified tokens kept until their exp, the claims
checked here as well as by LINE, LINE's 429 on verify, and issue dates a campaign cannot take."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.models import Customer, Upload
from flows.campaigns.dates import TAIPEI
from tests.chat.conftest import LIFF_ID, Stack, invoice_code
from tests.chat.test_liff_entries import _login_ready, stack  # noqa: F401 - `stack`: the LIFF-ready fixture

USER = "U" + "c3" * 16
ENDPOINTS = ("campaign", "validate", "manual", "carrier")


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


async def test_a_page_with_an_odd_campaign_in_its_query_still_loads(stack: Stack) -> None:
    client = stack.line_client.session
    for campaign in ("²", "١٢", "9" * 19, "%00"):
        async with client.get(stack.service.make_url("/liff/manual"), params={"campaign": campaign}) as resp:
            assert resp.status == 200, (campaign, resp.status)


async def test_bogus_tokens_from_one_address_cost_line_at_most_the_address_budget(stack: Stack) -> None:
    from liff_pages import ADDRESS_LIMIT

    statuses = [(await _post(stack, "campaign", _base(stack), f"bogus.token.{i}"))[0] for i in range(400)]
    burst = ADDRESS_LIMIT[0]
    assert statuses == [401] * burst + [429] * (400 - burst)
    assert len(_verify_calls(stack)) == burst  # LINE was asked about the first ones only
    status, answer, headers = await _post(stack, "campaign", _base(stack), stack.sim.issue_id_token(USER))
    assert status == 429 and answer["message"] == "操作太頻繁，請稍後再試" and int(headers["Retry-After"]) > 0
    assert len(_verify_calls(stack)) == burst


@pytest.mark.parametrize("hops", [0, 1])
async def test_the_address_is_the_proxys_entry_of_x_forwarded_for_only_when_trusted(make_stack, hops: int) -> None:
    from liff_pages import ADDRESS_LIMIT

    burst = ADDRESS_LIMIT[0]
    stack = await make_stack(trusted_proxy_hops=hops)
    await _login_ready(stack)
    # A client writing its own X-Forwarded-For entries; the proxy appends the address it saw.
    spoofed = [(await _post(stack, "campaign", _base(stack), f"bogus.{i}",
                            {"X-Forwarded-For": f"10.0.{i // 250}.{i % 250}, 203.0.113.7"}))[0]
               for i in range(burst + 1)]
    assert spoofed == [401] * burst + [429]  # the left entries do not buy a new budget
    other = await _post(stack, "campaign", _base(stack), "bogus.other", {"X-Forwarded-For": "198.51.100.9"})
    # Behind a trusted proxy another client has its own budget; without one, the header is
    # the client's word and the peer (this test's loopback address) is out of budget.
    assert other[0] == (401 if hops == 1 else 429)


async def test_a_verified_token_is_asked_about_once(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    for path, extra in (("campaign", {}), ("campaign", {}), ("validate", {"form": "manual", "fields": {}})):
        status, answer, _ = await _post(stack, path, {**_base(stack), **extra}, token)
        assert status == 200, answer
    assert [c["idToken"] for c in _verify_calls(stack)] == [token]


@pytest.mark.parametrize("claims", [
    {"exp": 1_600_000_000},  # expired long ago
    {"iss": "https://issuer.example.com"},
    {"aud": "9999999999"},
    {"sub": "U" + "a" * 500},  # 501 characters
    {"sub": "U" + "A1" * 16},
])
async def test_claims_line_would_not_give_are_refused_even_when_verify_says_200(stack: Stack, claims) -> None:  # noqa: ANN001
    stack.sim.verify_checks = False  # verify answers 200 with whatever the token claims
    token = stack.sim.issue_id_token(USER, claims=claims)
    status, answer, _ = await _post(stack, "campaign", _base(stack), token)
    assert (status, answer["error"]) == (401, "id_token")
    assert [c["status"] for c in _verify_calls(stack)] == [200]
    async with stack.db.session() as s:
        assert (await s.scalars(select(Customer))).all() == []


async def test_line_429_on_verify_pauses_new_tokens_for_its_retry_after(stack: Stack) -> None:
    known = stack.sim.issue_id_token(USER)
    assert (await _post(stack, "campaign", _base(stack), known))[0] == 200
    stack.sim.inject_faults("verify", [429], retry_after=2)
    status, answer, headers = await _post(stack, "campaign", _base(stack), stack.sim.issue_id_token("U" + "d4" * 16))
    assert (status, answer["message"], headers["Retry-After"]) == (503, "系統忙碌中，請稍後再試", "2")
    calls = len(_verify_calls(stack))
    for i in range(20):  # other new users while LINE's Retry-After runs: answered here, LINE not asked
        status, _, headers = await _post(stack, "campaign", _base(stack), stack.sim.issue_id_token(f"U{i:032x}"))
        assert status == 503 and 1 <= int(headers["Retry-After"]) <= 2
    assert len(_verify_calls(stack)) == calls
    assert (await _post(stack, "campaign", _base(stack), known))[0] == 200  # a verified token keeps working
    await asyncio.sleep(2.1)
    assert (await _post(stack, "campaign", _base(stack), stack.sim.issue_id_token("U" + "e5" * 16)))[0] == 200
    assert len(_verify_calls(stack)) == calls + 1


async def test_issue_dates_after_today_or_outside_the_window_are_refused_naming_the_date(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    today = dt.datetime.now(TAIPEI).date()
    status, answer, _ = await _post(stack, "campaign", _base(stack), token)
    assert answer["issue_dates"] == {"min": (today - dt.timedelta(days=30)).isoformat(), "max": today.isoformat()}
    code = invoice_code(11)
    fields = {"invoice_number": code.display_number, "random_code": code.random_code,
              "total_amount": str(code.total_amount)}
    window = f"開立日期：本活動限 {(today - dt.timedelta(days=30)).isoformat()} ～ {today.isoformat()} 開立的發票"
    for day, message in (((today + dt.timedelta(days=1)).isoformat(), "開立日期：不可晚於今天"),
                         ("2099-01-01", "開立日期：不可晚於今天"),
                         ((today - dt.timedelta(days=31)).isoformat(), window)):
        body = {**_base(stack), "fields": {**fields, "date": day}}
        status, answer, _ = await _post(stack, "manual", body, token)
        assert (status, answer["error"], answer["errors"]) == (422, "fields", {"date": message}), answer
        status, answer, _ = await _post(stack, "validate", {**body, "form": "manual"}, token)
        assert (status, answer["errors"]) == (200, {"date": message})
    async with stack.db.session() as s:
        assert (await s.scalars(select(Upload))).all() == []

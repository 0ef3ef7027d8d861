"""The role × route matrix over HTTP: every route of console.routes.ROUTES (so every page added
later is covered too) against each of the 8 roles and no session, with the status the one
permission table (console.access) promises; every answer carries the security headers."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from yarl import URL

import console.pages  # noqa: F401 - declares every route
from console.access import Access, allowed
from bot.storage.models import Campaign
from console.routes import ROUTES, ConsoleRoute
from flows.campaigns.roles import Role
from tests.campaign_store.data import add_customer, add_upload
from tests.console.conftest import login_csrf

PRINCIPALS: list[Role | None] = [None, *Role]
PLACEHOLDER = re.compile(r"\{(\w+)(?::(?:[^{}]|\{[^{}]*\})*)?\}")  # {id} or {id:\d{1,18}}


def concrete(route: ConsoleRoute, campaign_id: int, upload_id: int = 0) -> str:
    """The route's path under /console with an existing campaign's id in every parameter (a token
    parameter gets a well-formed token nobody issued; an `upload` parameter an existing upload)."""
    def fill(match: re.Match[str]) -> str:
        if "token" in match.group(1):
            return "A" * 43
        return str(upload_id if match.group(1) == "upload" else campaign_id)

    return "/console" + PLACEHOLDER.sub(fill, route.path)


@pytest.fixture
async def upload_id(console_app) -> int:
    """An upload of the campaign (the review pages' `{upload}`)."""
    async with console_app.db.session() as s:
        channel = await s.scalar(select(Campaign.channel_id).where(Campaign.id == console_app.campaign_id))
    customer = await add_customer(console_app.db, channel, "U" + "d" * 32, "Dora")
    return await add_upload(console_app.db, console_app.campaign_id, customer, "MX00000001")


def assert_headers(response) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    script_src = next((part for part in csp.split(";") if part.strip().startswith("script-src")), "")
    assert script_src and "unsafe-inline" not in script_src, csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def expected_denial(route: ConsoleRoute, role: Role | None) -> int | None:
    """The status the permission table answers with, or None when it lets the request through."""
    if allowed(role, route.access):
        return None
    if role is None:
        return 303 if route.method == "GET" else 401
    return 403


def test_every_route_names_its_access():
    assert {r.name for r in ROUTES} >= {"home", "login", "login_submit", "logout", "audit", "sandbox_login"}
    assert all(isinstance(r.access, Access) for r in ROUTES)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "GET"], ids=lambda r: r.name)
async def test_get_matrix(route, console_app, console_client, upload_id):
    for role in PRINCIPALS:
        if role is None:
            http = await console_app.client()
            response = await http.get(concrete(route, console_app.campaign_id, upload_id), allow_redirects=False)
        else:
            client = await console_client(role)
            response = await client.get(concrete(route, console_app.campaign_id, upload_id))
        assert_headers(response)
        denial = expected_denial(route, role)
        where = f"{route.name} as {role.label if role else 'nobody'}: {response.status}"
        if denial == 303:
            assert response.status == 303, where
            location = URL(response.headers["Location"])
            assert location.path == "/console/login", where
            assert location.query["next"] == concrete(route, console_app.campaign_id, upload_id), where
        elif denial is not None:
            assert response.status == denial, where
            assert "沒有權限" in await response.text()
        else:
            # 409: the table lets it through, the campaign's status does not (a published one is not deleted)
            assert response.status in (200, 303, 409, 410), where
            if response.status == 303:
                assert not response.headers["Location"].startswith("/console/login"), where


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "POST"], ids=lambda r: r.name)
async def test_post_matrix(route, console_app, console_client, upload_id):
    """Denied principals first (a permitted POST may change what later requests find: a 404 or a
    validation answer is fine, a refusal is not)."""
    for role in sorted(PRINCIPALS, key=lambda r: expected_denial(route, r) is None):
        path = concrete(route, console_app.campaign_id, upload_id)
        if role is None:
            http = await console_app.client()
            data = {}
            if route.access is Access.PUBLIC:  # the sign-in forms: their pre-session token
                data["csrf_token"] = login_csrf(await (await http.get("/console/login")).text())
            response = await http.post(path, data=data, allow_redirects=False)
        else:
            client = await console_client(role)
            response = await client.post(path)
        assert_headers(response)
        denial = expected_denial(route, role)
        where = f"{route.name} as {role.label if role else 'nobody'}: {response.status}"
        if denial is not None:
            assert response.status == denial, where
        elif route.access is Access.PUBLIC:
            assert response.status in (200, 303, 401, 404, 410, 429), where  # sandbox-login: 404 here
        else:
            assert response.status not in (401, 403), where
            assert response.status < 500, where

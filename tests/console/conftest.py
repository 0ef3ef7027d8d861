"""The console over real HTTP: `console_app` (the whole service, as make_stack builds it, on
both databases, with one published campaign) and `console_client(role)`, an aiohttp test client
signed in as a fresh user of that role, with the session's CSRF token at hand."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from yarl import URL

from bot.accounts.sessions import ConsoleUser, open_session, resolve
from bot.appkeys import CONFIG
from bot.config import Config
from bot.storage.database import Database
from bot.storage.models import AdminUser
from console.sessions import COOKIE
from flows.campaigns.roles import Role
from tests.chat.conftest import Stack, make_stack  # noqa: F401 - make_stack is a fixture used below

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_names = itertools.count(1)


@dataclass
class ConsoleApp:
    """The service under test: its server, database, config and one published campaign."""

    stack: Stack
    client_factory: Callable[..., Any]

    @property
    def server(self) -> Any:
        return self.stack.service

    @property
    def db(self) -> Database:
        return self.stack.db

    @property
    def config(self) -> Config:
        return self.stack.service.app[CONFIG]

    @property
    def campaign_id(self) -> int:
        return self.stack.campaign_id

    async def client(self) -> Any:
        """A new browser: its own cookie jar, redirects not followed by default in requests."""
        return await self.client_factory(self.server)


@dataclass
class ConsoleClient:
    """A browser signed in as `user`; `csrf` is its session's CSRF token."""

    http: Any
    user: ConsoleUser
    token: str

    @property
    def csrf(self) -> str:
        return self.user.csrf_token

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.http.get(path, allow_redirects=False, **kwargs)

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return await self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, allow_redirects=False,
                                    **kwargs)


async def add_user(db: Database, role: Role, name: str | None = None) -> AdminUser:
    """A fresh admin user of `role` (named after the role unless `name` is given)."""
    async with db.session() as s, s.begin():
        user = AdminUser(name=name or f"{role.value}-{next(_names)}", role=role.value)
        s.add(user)
        await s.flush()
        return user


def login_csrf(html: str) -> str:
    """The CSRF token a console page's form carries."""
    found = CSRF_FIELD.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


@pytest.fixture
async def console_app(make_stack, aiohttp_client) -> ConsoleApp:  # noqa: F811 - the fixture imported above
    """The service (not sandbox mode) over `database_url`, both databases; `**config` overrides
    are available through `make_console_app`."""
    return ConsoleApp(await make_stack(), aiohttp_client)


@pytest.fixture
def make_console_app(make_stack, aiohttp_client) -> Callable[..., Any]:  # noqa: F811
    """`await make_console_app(public_base_url="https://…", …)`: a console app with Config overrides."""
    async def make(**config: Any) -> ConsoleApp:
        return ConsoleApp(await make_stack(**config), aiohttp_client)

    return make


@pytest.fixture
def console_client(console_app) -> Callable[..., Any]:
    """`await console_client(Role.MARKETER)`: a new browser signed in as a fresh user of that role
    (`name=` to choose the user's name)."""
    async def signed_in(role: Role, name: str | None = None) -> ConsoleClient:
        user = await add_user(console_app.db, role, name)
        token = await open_session(console_app.db, user.id)
        http = await console_app.client()
        http.session.cookie_jar.update_cookies({COOKIE: token}, URL(str(console_app.server.make_url("/console/"))))
        resolved = await resolve(console_app.db, token)
        assert resolved is not None
        return ConsoleClient(http, resolved, token)

    return signed_in

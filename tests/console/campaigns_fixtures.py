"""The campaign pages' test harness: the real app over HTTP on the test database, admin users of
each role signed in through a console session, and form helpers (until the auth part's shared
`console_client` fixture is merged)."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.app import create_app
from bot.campaigns.store import Actor, CampaignStore
from bot.config import Config
from bot.storage.database import Database
from console.sessions import COOKIE, open_session, resolve
from flows.campaigns.roles import Role
from tests.campaign_store.data import add_actor, add_channel


@dataclass
class Signed:
    """An aiohttp test client signed in as `actor`, with the session's CSRF token."""

    client: Any
    actor: Actor
    csrf: str

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.client.get(path, allow_redirects=False, **kw)

    async def post(self, path: str, data: Any = None, **kw: Any) -> Any:
        if data is None:
            data = []
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if not any(k == "csrf_token" for k, _ in items):
            items.append(("csrf_token", self.csrf))
        return await self.client.post(path, data=items, allow_redirects=False, **kw)


@dataclass
class Console:
    db: Database
    store: CampaignStore
    channel: int
    other_channel: int
    aiohttp_client: Any
    server: Any  # one server for the app; a client (cookie jar) per signed-in user

    async def sign_in(self, role: Role, name: str | None = None) -> Signed:
        return await sign_in(self.db, self.aiohttp_client, self.server, role, name)


async def sign_in(db: Database, aiohttp_client: Any, server: Any, role: Role, name: str | None = None) -> Signed:
    """A new admin user of `role` with a console session on the app served by `server`."""
    actor = await add_actor(db, name or f"{role.value}-{uuid.uuid4().hex[:6]}", role)
    token = await open_session(db, actor.id)
    user = await resolve(db, token)
    assert user is not None
    client = await aiohttp_client(server, cookies={COOKIE: token})
    return Signed(client, actor, user.csrf_token)


async def make_console(aiohttp_server: Any, aiohttp_client: Any, database_url: str, tmp_path: Path) -> Console:
    config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=f"c{uuid.uuid4().hex[:8]}",
                    sandbox=False, run_worker=False, handle_events=False,
                    line_channel_secret="s" * 32, line_channel_access_token="t" * 40,
                    mof_app_id="EINV0000000000", mof_api_key="k" * 24, app_secret="a" * 40)
    db = Database(database_url)
    channel = await add_channel(db, "品牌官方帳號")
    other = await add_channel(db, "Second Shop")
    server = await aiohttp_server(create_app(config))
    return Console(db, CampaignStore(db), channel, other, aiohttp_client, server)


def local(moment: dt.datetime) -> str:
    """A datetime-local value (Taipei wall time, to the minute)."""
    from flows.campaigns.dates import in_taipei

    return in_taipei(moment).strftime("%Y-%m-%dT%H:%M")


class FormReader(HTMLParser):
    """The named inputs, selects and textareas of a page with their current values, and which
    names are offered at all (to tell a field shown as text from one offered as an input)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self.in_template = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "template":
            self.in_template += 1
        if self.in_template:
            return
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                self.values.setdefault(name, [])
                return
            if a.get("type") in ("submit",):
                return
            self.values.setdefault(name, []).append(a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select].append(a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values.setdefault(name, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.in_template -= 1
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and not self.in_template:
            self.values[self._textarea][-1] += data


def form_values(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    return reader.values


def error_beside(html: str, field: str) -> str:
    """The text of the error element of `field` (empty when none)."""
    match = re.search(rf'<div class="error" id="{re.escape(field)}-error">(.*?)</div>', html, re.S)
    assert match, f"no error element for {field}"
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip()

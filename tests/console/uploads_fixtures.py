"""The upload tests' set-up: the whole service with a draft campaign, and signed-in accounts
(a session opened with the skeleton's `open_session`, its cookie and CSRF token)."""
from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import create_app
from bot.campaigns.store import Actor, CampaignStore
from bot.config import Config
from bot.storage.database import Database
from bot.storage.models import AdminUser, Channel
from console.sessions import COOKIE, open_session, resolve
from flows.campaigns.roles import Role
from tests.chat.conftest import campaign_settings


@dataclass(frozen=True)
class SignedIn:
    """An account's session: send `cookies` with every request and `csrf` in every form."""

    actor: Actor
    token: str
    csrf: str

    @property
    def cookies(self) -> dict[str, str]:
        return {COOKIE: self.token}


async def sign_in(db: Database, role: Role, name: str | None = None) -> SignedIn:
    """A new admin user with `role`, signed in to the console."""
    name = name or f"{role.value}-{uuid.uuid4().hex[:6]}"
    async with db.session() as s, s.begin():
        user = AdminUser(name=name, role=role.value)
        s.add(user)
        await s.flush()
        actor = Actor(user.id, user.name, role)
    token = await open_session(db, actor.id)
    user = await resolve(db, token)
    assert user is not None
    return SignedIn(actor, token, user.csrf_token)


@dataclass
class Console:
    client: Any
    db: Database
    config: Config
    campaign_id: int
    editor: SignedIn

    async def post(self, path: str, who: SignedIn | None, fields: dict[str, Any], *,
                   csrf: str | None = None) -> Any:
        """A multipart POST (the upload forms), with `who`'s cookie and CSRF token."""
        from aiohttp import FormData

        form = FormData()
        token = csrf if csrf is not None else (who.csrf if who else "")  # "": no token field
        if token:
            form.add_field("csrf_token", token)
        for name, value in fields.items():
            if isinstance(value, tuple):
                filename, data, kind = value
                form.add_field(name, data, filename=filename, content_type=kind)
            else:
                form.add_field(name, value)
        return await self.client.post(path, data=form, cookies=who.cookies if who else None,
                                      allow_redirects=False)

    async def get(self, path: str, who: SignedIn | None) -> Any:
        return await self.client.get(path, cookies=who.cookies if who else None, allow_redirects=False)


def jpeg(width: int, height: int, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
async def console(aiohttp_client, database_url, tmp_path) -> Console:
    """The service (https public URL, as LINE needs for card images) with one draft campaign."""
    config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=f"t{uuid.uuid4().hex[:8]}",
                    public_base_url="https://bot.example.com")
    client = await aiohttp_client(create_app(config))
    db = Database(database_url)
    async with db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        if channel_id is None:
            channel = Channel(name="default")
            s.add(channel)
            await s.flush()
            channel_id = channel.id
    editor = await sign_in(db, Role.MARKETER, "mia")
    view = await CampaignStore(db).create(editor.actor, campaign_settings(channel_id),
                                          dt.datetime.now(dt.timezone.utc))
    yield Console(client, db, config, view.id, editor)
    await db.close()

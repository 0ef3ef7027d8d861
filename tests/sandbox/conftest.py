"""The real service in sandbox mode on a loopback test server, on the exact port its config names
(sandbox_config aims the LINE/MOF clients at http://127.0.0.1:{port}/sandbox/…), with helpers to
read what the mounted LINE simulator recorded."""
from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
import pytest

from bot.app import create_app
from bot.config import Config

PENDING_TEXT = "發票資訊驗證中，我們將於 3 天內通知驗證結果，請勿封鎖避免喪失權益！感謝您的耐心等待。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def texts_of(node: Any) -> list[str]:
    """Every text a LINE message shows: text messages and the text nodes of flex."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found.extend(texts_of(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(texts_of(value))
    return found


def appeal_uri(node: Any) -> str | None:
    """The 回報問題 button's URI in a LINE message (or a list of them), if it has one."""
    if isinstance(node, dict):
        action = node.get("action")
        if isinstance(action, dict) and action.get("label") == "回報問題":
            return action.get("uri")
        return next((u for v in node.values() if (u := appeal_uri(v))), None)
    if isinstance(node, list):
        return next((u for v in node if (u := appeal_uri(v))), None)
    return None


def photo_form(user: str | None, data: bytes | None, *, filename: str = "photo.jpg",
               name: str | None = None, extra: dict[str, str] | None = None) -> aiohttp.FormData:
    """The multipart form the page's 上傳照片… sends."""
    form = aiohttp.FormData(default_to_multipart=True)
    if user is not None:
        form.add_field("user", user)
    if name is not None:
        form.add_field("name", name)
    for key, value in (extra or {}).items():
        form.add_field(key, value)
    if data is not None:
        form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


def new_user() -> str:
    return "U" + uuid.uuid4().hex


@dataclass
class Sandbox:
    server: Any
    client: Any
    config: Config

    async def post(self, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
        async with self.client.post(path, json=payload) as resp:
            return resp.status, await resp.json()

    async def messages(self, to: str) -> list[dict[str, Any]]:
        async with self.client.get("/sandbox/line/_sim/messages") as resp:
            assert resp.status == 200
            return [m for m in await resp.json() if m["to"] == to]

    async def wait_messages(self, to: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await self.messages(to)
            if len(found) >= count:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} messages to {to}, got {len(found)}: {found}")
            await asyncio.sleep(0.05)


@pytest.fixture
def start_sandbox(aiohttp_server, aiohttp_client, database_url, tmp_path) -> Callable[..., Any]:
    """Start (or, called again, restart) the service in sandbox mode on `database_url`."""
    prefix = f"t{uuid.uuid4().hex[:8]}"

    async def start() -> Sandbox:
        port = free_port()
        config = Config(database_url=database_url, data_dir=tmp_path, state_prefix=prefix, port=port)
        assert config.sandbox
        server = await aiohttp_server(create_app(config), port=port)
        client = await aiohttp_client(server)
        return Sandbox(server, client, config)

    return start

"""Uploaded invoice photos over HTTP: links that carry an HMAC token (so the participant list
and exports can link a photo without exposing the others), and the route that serves them."""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.appkeys import CONFIG, PHOTO_STORE
from bot.config import Config
from bot.photo_store import PhotoStoreError, is_photo_path

KEY_FILE = ".photo-link-key"
_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"GIF8": "image/gif",
               b"RIFF": "image/webp"}


def link_key(config: Config) -> bytes:
    """APP_SECRET when set, else a random key kept beside the photos (made on first use).
    Read once per data directory and secret, not on every photo request."""
    return _key(config.data_dir.resolve(), config.app_secret)


@functools.lru_cache(maxsize=8)
def _key(data_dir: Path, app_secret: str | None) -> bytes:
    if app_secret:
        return hashlib.sha256(b"photo-links:" + app_secret.encode()).digest()
    path = data_dir / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.hex().encode())
    finally:
        os.close(fd)
    return key


def token(key: bytes, path: str) -> str:
    return hmac.new(key, path.encode(), hashlib.sha256).hexdigest()[:32]


def photo_linker(config: Config) -> Callable[[str], str]:
    """Stored photo path (`photos/<campaign>/<file>`) → its URL under the service's base URL."""
    key = link_key(config)
    base = config.base_url

    def link(path: str) -> str:
        return f"{base}/{path}?t={token(key, path)}"

    return link


def _safe(path: str) -> bool:
    return is_photo_path(path)


async def handle_photo(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    path = "photos/" + request.match_info["rest"]
    given = request.query.get("t", "")
    if not _safe(path) or not hmac.compare_digest(token(link_key(config), path).encode(), given.encode()):
        raise web.HTTPNotFound()  # a wrong token tells nothing about which files exist
    try:
        content = await asyncio.to_thread(request.app[PHOTO_STORE].get, path)
    except PhotoStoreError:
        raise web.HTTPServiceUnavailable(text="photo store unavailable, try again later") from None
    if content is None:
        raise web.HTTPNotFound()
    kind = next((t for sig, t in _SIGNATURES.items() if content.startswith(sig)), "application/octet-stream")
    return web.Response(body=content, headers={"Content-Type": kind, "Cache-Control": "private, max-age=3600",
                                               "X-Content-Type-Options": "nosniff"})


def setup_photos(app: web.Application) -> None:
    app.router.add_get("/photos/{rest:.+}", handle_photo)

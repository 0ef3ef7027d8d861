"""Uploaded invoice photos over HTTP: links that carry an expiry and an HMAC token (so the
participant list and exports can link a photo without exposing the others; a page's link dies
after PHOTO_LINK_TTL_DAYS, an export's when the campaign's photos are purged, and all die when
the link generation is rotated), and the route that serves them."""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import CONFIG, DATABASE, PHOTO_STORE
from bot.config import Config
from bot.photo_store import CARD_IMAGES, PhotoStoreError, is_card_image_path, is_photo_path
from bot.privacy.keys import link_generation
from bot.privacy.purge import purge_due
from bot.storage.models import utcnow

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


# --- link tokens: expiring, and revoked all at once by moving the generation on -------------

def token(key: bytes, path: str, expires: int, generation: int) -> str:
    """The `t` of a link: HMAC of the link generation, the expiry (Unix seconds) and the path."""
    message = f"{generation}\n{expires}\n{path}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def token_is_valid(key: bytes, path: str, given_token: str, given_expires: str, generation: int,
                   now: dt.datetime) -> bool:
    """A link is good while its expiry is in the future and its token matches (constant time)."""
    if not given_expires.isdigit() or len(given_expires) > 12:
        return False
    expires = int(given_expires)
    expected = token(key, path, expires, generation)
    matches = hmac.compare_digest(expected.encode(), given_token.encode())
    return matches and now.timestamp() < expires


def photo_linker(config: Config, *, generation: int, now: dt.datetime,
                 keep_until: dt.datetime | None = None, base: str | None = None) -> Callable[[str], str]:
    """Stored photo path (`photos/<campaign>/<file>`) → its URL under the service's base URL
    (or `base`: "" gives a same-origin path, for the console's pages), good for
    PHOTO_LINK_TTL_DAYS from `now` (or until `keep_until` when later) under link generation
    `generation`."""
    key = link_key(config)
    base = config.base_url if base is None else base
    expires = int(now.timestamp()) + config.photo_link_ttl_days * 86400
    if keep_until is not None:
        expires = max(expires, int(keep_until.timestamp()))

    def link(path: str) -> str:
        return f"{base}/{path}?e={expires}&t={token(key, path, expires, generation)}"

    return link


async def export_photo_linker(session: AsyncSession, config: Config, campaign_id: int,
                              now: dt.datetime) -> Callable[[str], str]:
    """The 發票檔案 links of an export of the campaign: good for as long as its photos are kept
    (until the retention purge is due: its end plus its retention days; at least
    PHOTO_LINK_TTL_DAYS), or until `privacy rotate-links` moves the generation on. A draw or an
    audit made from the exported file months later still opens the photos."""
    return photo_linker(config, generation=await link_generation(session), now=now,
                        keep_until=await purge_due(session, campaign_id))


def _safe(path: str) -> bool:
    return is_photo_path(path)


async def handle_photo(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    path = "photos/" + request.match_info["rest"]
    given, expires = request.query.get("t", ""), request.query.get("e", "")
    if not _safe(path) or not token_is_valid(link_key(config), path, given, expires,
                                             await _link_generation(request), utcnow()):
        raise web.HTTPNotFound()  # a wrong or expired token tells nothing about which files exist
    return await _serve(request, path)


# Card images (bot.campaigns.images) are public marketing pictures, not personal data: their
# links are signed and expire like the photos', but under this fixed generation, so rotating the
# photo links' generation does not blank the hero image of every card already sent.
CARD_LINK_GENERATION = 0


async def handle_card_image(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    path = f"{CARD_IMAGES}/{request.match_info['name']}"
    given, expires = request.query.get("t", ""), request.query.get("e", "")
    if not is_card_image_path(path) or not token_is_valid(link_key(config), path, given, expires,
                                                          CARD_LINK_GENERATION, utcnow()):
        raise web.HTTPNotFound()
    return await _serve(request, path)


async def _serve(request: web.Request, path: str) -> web.StreamResponse:
    try:
        content = await asyncio.to_thread(request.app[PHOTO_STORE].get, path)
    except PhotoStoreError:
        raise web.HTTPServiceUnavailable(text="photo store unavailable, try again later") from None
    if content is None:
        raise web.HTTPNotFound()
    kind = next((t for sig, t in _SIGNATURES.items() if content.startswith(sig)), "application/octet-stream")
    return web.Response(body=content, headers={"Content-Type": kind, "Cache-Control": "private, max-age=3600",
                                               "X-Content-Type-Options": "nosniff"})


async def _link_generation(request: web.Request) -> int:
    async with request.app[DATABASE].session() as session, session.begin():
        return await link_generation(session)


def setup_photos(app: web.Application) -> None:
    app.router.add_get("/photos/{rest:.+}", handle_photo)
    app.router.add_get(f"/{CARD_IMAGES}/{{name}}", handle_card_image)

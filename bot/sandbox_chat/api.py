"""The sandbox chat page's JSON API (sandbox mode only): what a user does in the LINE app —
say a text, tap a postback, send a photo or a generated sample invoice photo — becomes a LINE
webhook event built by the LINE simulator and delivered, signed, to the service's own
/callback over HTTP, exactly as LINE would deliver it.

  POST /sandbox/api/say           {"user", "text", "name"?, "channel"?}
  POST /sandbox/api/postback      {"user", "data", "display_text"?, "name"?, "channel"?}
  POST /sandbox/api/photo         multipart: user, name?, channel?, file (an image, at most 10 MB)
  POST /sandbox/api/sample-photo  {"user", "kind"?, "like_last"?, "name"?, "channel"?, "campaign"?} →
                                  the invoice it made (kind: eligible | low | business | pending |
                                  never | unreadable; the older {"pending": true} still means
                                  pending), for the conditions of the campaign whose photo window
                                  the user has open on that channel, else of `campaign` (the page's
                                  pick); like_last: another invoice photographed like the last
                                  sample — a look-alike photo for the 相同照片 signal
  POST /sandbox/api/resend-sample {"user", "name"?, "channel"?} → the last sample photo anyone
                                  sent, sent again (the duplicate paths)
  POST /sandbox/api/carrier-invoice {…} → one more invoice, issued today, on the demo carrier
                                  (/DEMO+01): what the next import registers as new (the review's
                                  共用載具 signal by hand)

`name` (optional, ≤ 20 characters) becomes the user's LINE profile display name; `channel`
(optional, a channel id from GET /sandbox/api/campaigns) is the LINE account talked to.
A postback without `display_text` leaves no bubble on the user's side, as in LINE.
  GET  /sandbox/api/said?user=    the user's own side of the chat, oldest first
  GET  /sandbox/api/photos/{id}   a photo a user sent (for the thumbnails)
  GET  /sandbox/api/richmenu?user= the rich menu LINE shows that user (linked, else default) or null
  GET  /sandbox/api/richmenu/{id}/image

Every input is validated; a bad one gets 400 {"error": "<field>: <reason>", "field"}.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, web

from bot.appkeys import CONFIG
from bot.log import pseudonym
from bot.sandbox_chat import inputs
from bot.sandbox_chat.directory import channel_id, row_id, setup_directory, signing_secret
from bot.sandbox_chat.inputs import InputError
from bot.sandbox_chat.keys import LINE_SIM, MOF_SIM
from bot.sandbox_chat.sample_target import sample_conditions
from bot.sandbox_chat.samples import SampleInvoice, SampleKind, make_sample
from bot.sandbox_chat.transcript import Transcript
from bot.simulators.mof import DEMO_CARRIER, add_demo_carrier_invoice, apply_seed
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

API_PREFIX = "/sandbox/api"
PHOTOS_PATH = f"{API_PREFIX}/photos"
DELIVERY_TIMEOUT_S = 15
_MULTIPART_OVERHEAD = 64 * 1024  # headers, boundaries and the user field around the file
_MAX_USER_FIELD = 200

HTTP_SESSION = web.AppKey("sandbox_chat_http", aiohttp.ClientSession)
TRANSCRIPT = web.AppKey("sandbox_chat_transcript", Transcript)
LAST_SAMPLE = web.AppKey("sandbox_chat_last_sample", list)  # [SampleInvoice] once one was sent


def bad_request(exc: InputError) -> web.Response:
    return web.json_response({"error": str(exc), "field": exc.field}, status=400)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InputError("body", "expected Content-Type: application/json")
    try:
        body = await request.json()
    except ValueError:
        raise InputError("body", "not valid JSON") from None
    except web.HTTPRequestEntityTooLarge:
        raise InputError("body", "too large") from None
    return inputs.json_object(body)


def callback_url(app: web.Application) -> str:
    """Where LINE would deliver: this very service's webhook, over loopback."""
    return f"http://127.0.0.1:{app[CONFIG].port}/callback"


async def _deliver(app: web.Application, event: dict[str, Any], secret: str | None = None) -> web.Response | int:
    """Deliver one event to /callback, signed with `secret` (None: the simulator's); the
    webhook's status, or a 502 response saying why not."""
    try:
        status = await app[LINE_SIM].deliver(callback_url(app), [event], secret=secret, session=app[HTTP_SESSION])
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("sandbox delivery failed", extra={"fields": {"error": type(exc).__name__}})
        return web.json_response({"error": f"webhook: delivery to /callback failed ({type(exc).__name__})"},
                                 status=502)
    if status != 200:
        return web.json_response({"error": f"webhook: /callback answered HTTP {status}"}, status=502)
    return status


def _use_name(app: web.Application, user: str, name: str | None) -> None:
    sim = app[LINE_SIM]
    if name and sim.profiles.get(user, {}).get("displayName") != name:
        sim.set_profile(user, name)


def _photo_url(event: dict[str, Any]) -> str:
    return f"{PHOTOS_PATH}/{event['message']['id']}"


async def handle_say(request: web.Request) -> web.Response:
    try:
        body = await json_body(request)
        user = inputs.user_id(body.get("user"))
        text = inputs.message_text(body.get("text"))
        name = inputs.display_name(body.get("name"))
        secret = await signing_secret(request.app, channel_id(body.get("channel")))
    except InputError as exc:
        return bad_request(exc)
    _use_name(request.app, user, name)
    entry = request.app[TRANSCRIPT].add(user, "text", text=text)
    delivered = await _deliver(request.app, request.app[LINE_SIM].text_event(user, text), secret)
    if isinstance(delivered, web.Response):
        return delivered
    return web.json_response({"ok": True, "entry": entry})


async def handle_postback(request: web.Request) -> web.Response:
    try:
        body = await json_body(request)
        user = inputs.user_id(body.get("user"))
        data = inputs.postback_data(body.get("data"))
        shown = None if body.get("display_text") is None else inputs.message_text(body.get("display_text"))
        name = inputs.display_name(body.get("name"))
        secret = await signing_secret(request.app, channel_id(body.get("channel")))
    except InputError as exc:
        return bad_request(exc)
    _use_name(request.app, user, name)
    entry = request.app[TRANSCRIPT].add(user, "postback", data=data, display_text=shown)
    delivered = await _deliver(request.app, request.app[LINE_SIM].postback_event(user, data), secret)
    if isinstance(delivered, web.Response):
        return delivered
    return web.json_response({"ok": True, "entry": entry})


async def _read_part(part: BodyPartReader, limit: int, field: str, too_large: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data.extend(chunk)
        if len(data) > limit:
            raise InputError(field, too_large)
    return bytes(data)


async def _photo_form(request: web.Request) -> tuple[str, str | None, int | None, bytes, str]:
    """(user, name, channel, file bytes, MIME type) from the multipart form, within the limits."""
    if request.content_type != "multipart/form-data":
        raise InputError("body", "expected multipart/form-data with the fields user and file")
    limit_mb = inputs.MAX_PHOTO_BYTES // (1024 * 1024)
    if request.content_length is not None and request.content_length > inputs.MAX_PHOTO_BYTES + _MULTIPART_OVERHEAD:
        raise InputError("file", f"larger than {limit_mb} MB")
    try:
        reader = await request.multipart()
        user_raw: bytes | None = None
        name_raw: bytes | None = None
        channel_raw: bytes | None = None
        data: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InputError("body", "nested multipart is not accepted")
            if part.name == "user" and user_raw is None:
                user_raw = await _read_part(part, _MAX_USER_FIELD, "user", "too long")
            elif part.name == "name" and name_raw is None:
                name_raw = await _read_part(part, _MAX_USER_FIELD, "name", "too long")
            elif part.name == "channel" and channel_raw is None:
                channel_raw = await _read_part(part, _MAX_USER_FIELD, "channel", "too long")
            elif part.name == "file" and data is None:
                data = await _read_part(part, inputs.MAX_PHOTO_BYTES, "file", f"larger than {limit_mb} MB")
            else:
                raise InputError(part.name or "body",
                                 "unexpected form field (send user, file and optionally name and channel)")
    except InputError:
        raise
    except (ValueError, AssertionError):
        raise InputError("body", "malformed multipart/form-data") from None
    if user_raw is None:
        raise InputError("user", "required")
    user = inputs.user_id(_utf8(user_raw, "user"))
    name = None if name_raw is None else inputs.display_name(_utf8(name_raw, "name"))
    channel = None
    if channel_raw is not None:
        text = _utf8(channel_raw, "channel")
        if not text.isascii() or not text.isdigit():
            raise InputError("channel", "expected a channel id (a positive whole number)")
        channel = channel_id(int(text))
    if data is None:
        raise InputError("file", "required")
    return user, name, channel, data, inputs.image_type(data)


def _utf8(raw: bytes, field: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(field, "not UTF-8 text") from None


async def handle_photo(request: web.Request) -> web.Response:
    try:
        user, name, channel, data, content_type = await _photo_form(request)
        secret = await signing_secret(request.app, channel)
    except InputError as exc:
        return bad_request(exc)
    _use_name(request.app, user, name)
    event = request.app[LINE_SIM].image_event(user, data, content_type)
    entry = request.app[TRANSCRIPT].add(user, "photo", photo_url=_photo_url(event))
    delivered = await _deliver(request.app, event, secret)
    if isinstance(delivered, web.Response):
        return delivered
    return web.json_response({"ok": True, "entry": entry})


def _sample_kind(body: dict[str, Any]) -> SampleKind:
    kind = body.get("kind")
    if kind is None:
        return SampleKind.PENDING if inputs.flag(body.get("pending"), "pending") else SampleKind.ELIGIBLE
    try:
        return SampleKind(kind)
    except ValueError:
        raise InputError("kind", "expected one of " + ", ".join(k.value for k in SampleKind)) from None


async def _send_sample(request: web.Request, user: str, sample: SampleInvoice, secret: str | None,
                       *, again: bool) -> web.Response:
    event = request.app[LINE_SIM].image_event(user, sample.photo, "image/jpeg")
    summary = {**sample.summary(), "pending": sample.kind is SampleKind.PENDING, "again": again}
    entry = request.app[TRANSCRIPT].add(user, "photo", photo_url=_photo_url(event), sample=summary)
    log.info("sandbox sample invoice", extra={"fields": {"user": pseudonym(user), "kind": sample.kind.value,
                                                         "again": again}})
    delivered = await _deliver(request.app, event, secret)
    if isinstance(delivered, web.Response):
        return delivered
    return web.json_response({"ok": True, **summary, "photo_url": entry["photo_url"], "entry": entry})


async def handle_sample_photo(request: web.Request) -> web.Response:
    try:
        body = await json_body(request)
        user = inputs.user_id(body.get("user"))
        kind = _sample_kind(body)
        like_last = inputs.flag(body.get("like_last"), "like_last")
        if like_last and not request.app[LAST_SAMPLE]:
            raise InputError("like_last", "no sample photo was sent yet: send one first")
        name = inputs.display_name(body.get("name"))
        channel = channel_id(body.get("channel"))
        picked = row_id(body.get("campaign"), "campaign")
        secret = await signing_secret(request.app, channel)
    except InputError as exc:
        return bad_request(exc)
    _use_name(request.app, user, name)
    campaign = await sample_conditions(request.app, user, channel, picked)
    framing = request.app[LAST_SAMPLE][0].photo_seed if like_last else None
    sample = await asyncio.to_thread(make_sample, utcnow(), kind, campaign=campaign, photo_seed=framing)
    seed = sample.mof_seed()
    if seed is not None:
        apply_seed(request.app[MOF_SIM], seed)
    request.app[LAST_SAMPLE][:] = [sample]
    return await _send_sample(request, user, sample, secret, again=False)


async def handle_resend_sample(request: web.Request) -> web.Response:
    try:
        body = await json_body(request)
        user = inputs.user_id(body.get("user"))
        name = inputs.display_name(body.get("name"))
        secret = await signing_secret(request.app, channel_id(body.get("channel")))
        if not request.app[LAST_SAMPLE]:
            raise InputError("sample", "no sample photo was sent yet: send one first")
    except InputError as exc:
        return bad_request(exc)
    _use_name(request.app, user, name)
    return await _send_sample(request, user, request.app[LAST_SAMPLE][0], secret, again=True)


async def handle_carrier_invoice(request: web.Request) -> web.Response:
    try:
        await json_body(request)  # a JSON object; the page's usual user/channel fields are not needed
    except InputError as exc:
        return bad_request(exc)
    inv = add_demo_carrier_invoice(request.app[MOF_SIM], utcnow())
    return web.json_response({"card_no": DEMO_CARRIER[0], "invoice_number": inv.inv_num,
                              "date": inv.inv_date.isoformat(), "total_amount": int(inv.amount)})


async def handle_said(request: web.Request) -> web.Response:
    try:
        user = inputs.user_id(request.query.get("user"))
    except InputError as exc:
        return bad_request(exc)
    return web.json_response({"entries": request.app[TRANSCRIPT].of(user)})


async def handle_photo_content(request: web.Request) -> web.Response:
    message_id = request.match_info["message_id"]
    found = request.app[LINE_SIM].contents.get(message_id) if message_id.isdigit() else None
    if found is None:
        raise web.HTTPNotFound(text="photo: not found")
    data, _declared = found
    try:
        content_type = inputs.image_type(data)
    except InputError:
        raise web.HTTPNotFound(text="photo: not an image") from None
    return web.Response(body=data, content_type=content_type,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"})


async def handle_rich_menu(request: web.Request) -> web.Response:
    try:
        user = inputs.user_id(request.query.get("user"))
    except InputError as exc:
        return bad_request(exc)
    sim = request.app[LINE_SIM]
    menu_id = sim.user_rich_menus.get(user) or sim.default_rich_menu
    menu = sim.rich_menus.get(menu_id) if menu_id else None
    if menu is None or menu_id not in sim.rich_menu_images:
        return web.json_response({"menu": None})
    return web.json_response({"menu": {**menu, "image": f"{API_PREFIX}/richmenu/{menu_id}/image"}})


async def handle_rich_menu_image(request: web.Request) -> web.Response:
    found = request.app[LINE_SIM].rich_menu_images.get(request.match_info["menu_id"])
    if found is None:
        raise web.HTTPNotFound(text="rich menu: no image")
    data, content_type = found
    return web.Response(body=data, content_type=content_type if content_type in ("image/png", "image/jpeg")
                        else "application/octet-stream", headers={"X-Content-Type-Options": "nosniff"})


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))
    app[HTTP_SESSION] = session
    try:
        yield
    finally:
        await session.close()


def setup_api(app: web.Application) -> None:
    """Register the API routes and their HTTP client context (needs LINE_SIM and MOF_SIM set)."""
    app[TRANSCRIPT] = Transcript()
    app[LAST_SAMPLE] = []
    app.cleanup_ctx.append(_http_ctx)
    setup_directory(app)
    app.router.add_post(f"{API_PREFIX}/say", handle_say)
    app.router.add_post(f"{API_PREFIX}/postback", handle_postback)
    app.router.add_post(f"{API_PREFIX}/photo", handle_photo)
    app.router.add_post(f"{API_PREFIX}/sample-photo", handle_sample_photo)
    app.router.add_post(f"{API_PREFIX}/resend-sample", handle_resend_sample)
    app.router.add_post(f"{API_PREFIX}/carrier-invoice", handle_carrier_invoice)
    app.router.add_get(f"{API_PREFIX}/richmenu", handle_rich_menu)
    app.router.add_get(API_PREFIX + r"/richmenu/{menu_id:richmenu-[0-9a-f]{32}}/image", handle_rich_menu_image)
    app.router.add_get(f"{API_PREFIX}/said", handle_said)
    app.router.add_get(PHOTOS_PATH + r"/{message_id:\d{1,30}}", handle_photo_content)

"""Local LINE platform simulator: the Messaging API (reply, push, profile), the data API
(message content), LINE Login's ID-token verification, and webhook delivery to a bot.

Protocol paths and shapes follow LINE's reference: `POST /v2/bot/message/reply`,
`POST /v2/bot/message/push` (with `X-Line-Retry-Key`: a key already accepted → 409 and the
accepted request id in `X-Line-Accepted-Request-Id`), `GET /v2/bot/message/{id}/content`
(api-data host; this app serves both hosts), `GET /v2/bot/profile/{userId}` and
`POST /oauth2/v2.1/verify` (each call recorded in `api_calls` as {"endpoint": "oauth2.verify", "clientId",
"idToken", "status"}; `verify_checks = False` makes it answer 200 with any issued token's claims,
expired or for another channel: a verify answer the service must not trust blindly). Every
Messaging API call needs `Authorization: Bearer <token>`.
It keeps its own copy of the wire rules (never imported from bot/line) so a client bug is
not hidden by shared code.

Control API (JSON unless said):
  GET  /_sim/messages        every accepted reply and push, oldest first
  POST /_sim/clear           forget messages, tokens, contents, blocks, faults
  POST /_sim/content         raw bytes (Content-Type kept) → {"messageId"}
  POST /_sim/profiles        {"userId", "displayName", "pictureUrl"?}
  POST /_sim/id_tokens       {"userId", "name"?, "picture"?, "expiresIn"?, "claims"?} → {"idToken"}
                             ("claims" replace the issued ones, e.g. a foreign "iss" or a long "sub")
  POST /_sim/block           {"userId"}  (pushes to the user fail like LINE's undeliverable push)
  POST /_sim/unblock         {"userId"}
  POST /_sim/faults          {"push": [429, 500, ...], "reply": [...], "verify": [...], "validate": [...],
                              "retryAfter"?}
                             (next calls answer these; a 429 says Retry-After: retryAfter, default 1)
  POST /_sim/deliver         {"url", "events": [{"type": "text"|"image"|"postback"|"follow"|"unfollow",
                              "userId", "text"?, "data"?, "contentBase64"?}], "secret"?}
                             → {"status", "events": [the delivered event objects]}
  POST /_sim/redeliver       {"url", "webhookEventId"} → {"status", "event"}

Message validation: `POST /v2/bot/message/validate/{reply,push,multicast,narrowcast,broadcast}`
checks the `messages` as a send would (altText ≤ 1500 UTF-16 code units, flex containers: bubble
≤ 30 KB, carousel ≤ 12 bubbles and ≤ 50 KB, known component types, https image/icon/video URLs,
actions as flows.messages.line_limits checks them: URI schemes and length, label, text and data)
→ 200 `{}` or 400 with `details`; each call is recorded in `api_calls`.

Rich menus (LINE's shapes): `POST /v2/bot/richmenu` (validated: 800–2500 px wide, ≥ 250 px high,
ratio ≥ 1.45, name ≤ 300, chatBarText ≤ 14, 1–20 areas inside the menu, each with an action)
→ {"richMenuId"}; `DELETE /v2/bot/richmenu/{id}` (its image and links go too); `POST /v2/bot/richmenu/{id}/content` (the data host:
one JPEG/PNG ≤ 1 MB, once); `POST /v2/bot/user/all/richmenu/{id}` (default menu) and
`POST /v2/bot/user/{userId}/richmenu/{id}` (both need the image first); `GET
/v2/bot/richmenu/list` → {"richmenus": [...]}. Each call is recorded in `api_calls`.
"""
from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from flows.messages.line_limits import flex_action_problems

SIM_CHANNEL_SECRET = "sim-channel-secret"
SIM_ACCESS_TOKEN = "sim-access-token"
SIM_LOGIN_CHANNEL_ID = "1234567890"  # the LINE Login channel its ID tokens are issued for
REPLY_TOKEN_LIFETIME_S = 60.0
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 1500  # UTF-16 code units
MAX_BUBBLE_BYTES = 30 * 1024
MAX_CAROUSEL_BYTES = 50 * 1024
MAX_CAROUSEL_BUBBLES = 12
MAX_IMAGE_URL = 2000
_FLEX_COMPONENTS = {"box", "button", "image", "video", "icon", "text", "span", "separator", "filler"}
ID_TOKEN_ISSUER = "https://access.line.me"
UNDELIVERABLE = "Failed to send messages"  # LINE's message when a push cannot be delivered
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_user_id() -> str:
    """A LINE-shaped user ID: `U` + 32 hex digits."""
    return "U" + secrets.token_hex(16)


def _webhook_event_id() -> str:
    return "01" + "".join(secrets.choice(_ULID_ALPHABET) for _ in range(24))


def _numeric_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)


def sign(secret: str, body: bytes) -> str:
    """X-Line-Signature: base64(HMAC-SHA256(channel secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class _ReplyToken:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _IdToken:
    claims: dict[str, Any]


@dataclass
class LineSimulator:
    """The simulator's state and its Python API; `app()` serves it over HTTP."""

    channel_secret: str = SIM_CHANNEL_SECRET
    access_tokens: frozenset[str] = frozenset({SIM_ACCESS_TOKEN})
    login_channel_id: str = SIM_LOGIN_CHANNEL_ID
    bot_user_id: str = field(default_factory=new_user_id)
    clock: Callable[[], float] = time.time
    messages: list[dict[str, Any]] = field(default_factory=list)
    reply_tokens: dict[str, _ReplyToken] = field(default_factory=dict)
    retry_keys: dict[str, str] = field(default_factory=dict)
    contents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    id_tokens: dict[str, _IdToken] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    faults: dict[str, list[int]] = field(default_factory=lambda: {"push": [], "reply": [], "verify": [], "validate": []})
    retry_after_s: int = 1  # the Retry-After of an injected 429
    issuer: str = ID_TOKEN_ISSUER  # the "iss" of the ID tokens it issues
    verify_checks: bool = True  # False: verify answers 200 with any issued token's claims
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_calls: list[dict[str, Any]] = field(default_factory=list)
    rich_menus: dict[str, dict[str, Any]] = field(default_factory=dict)  # richMenuId → the menu object
    rich_menu_images: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    default_rich_menu: str | None = None
    user_rich_menus: dict[str, str] = field(default_factory=dict)  # userId → richMenuId
    # Called with each accepted reply/push record as it is recorded (e.g. a live feed).
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    # --- Python control API ---------------------------------------------------------------

    def clear(self) -> None:
        for store in (self.messages, self.api_calls):
            store.clear()
        for mapping in (self.reply_tokens, self.retry_keys, self.contents, self.id_tokens, self.delivered,
                        self.rich_menus, self.rich_menu_images, self.user_rich_menus):
            mapping.clear()
        self.default_rich_menu = None
        self.blocked.clear()
        self.faults = {"push": [], "reply": [], "verify": [], "validate": []}
        self.retry_after_s = 1

    def issue_reply_token(self, user_id: str) -> str:
        token = secrets.token_hex(16)
        self.reply_tokens[token] = _ReplyToken(user_id, self.clock())
        return token

    def register_content(self, data: bytes, content_type: str = "image/jpeg") -> str:
        message_id = _numeric_id()
        self.contents[message_id] = (bytes(data), content_type)
        return message_id

    def set_profile(self, user_id: str, display_name: str, picture_url: str | None = None) -> None:
        profile = {"userId": user_id, "displayName": display_name, "language": "zh-TW"}
        if picture_url:
            profile["pictureUrl"] = picture_url
        self.profiles[user_id] = profile

    def issue_id_token(
        self, user_id: str, *, name: str | None = None, picture: str | None = None, expires_in: int = 3600,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """An ID token of this simulator; `claims` replace the issued ones (a foreign "iss",
        another "aud", a past "exp", a malformed "sub") for tests of the verifying side."""
        now = int(self.clock())
        issued = {
            "iss": self.issuer,
            "sub": user_id,
            "aud": self.login_channel_id,
            "exp": now + expires_in,
            "iat": now,
            "amr": ["linesso"],
            "name": name if name is not None else self.profiles.get(user_id, {}).get("displayName", ""),
            "picture": picture or f"https://profile.line-scdn.net/{user_id[-8:]}",
            **(claims or {}),
        }
        header = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"HS256"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(issued).encode()).rstrip(b"=").decode()
        token = f"{header}.{body}.{secrets.token_urlsafe(32)}"
        self.id_tokens[token] = _IdToken(issued)
        return token

    def block(self, user_id: str) -> None:
        self.blocked.add(user_id)

    def unblock(self, user_id: str) -> None:
        self.blocked.discard(user_id)

    def inject_faults(self, endpoint: str, statuses: Iterable[int], *, retry_after: int | None = None) -> None:
        """The next calls of `endpoint` ("push", "reply", "verify" or "validate") answer these
        statuses, in order; `retry_after` sets the Retry-After seconds of every injected 429."""
        if endpoint not in self.faults:
            raise ValueError(f"endpoint: expected push, reply, verify or validate, got {endpoint!r}")
        if retry_after is not None:
            if not isinstance(retry_after, int) or isinstance(retry_after, bool) or not 0 <= retry_after <= 86400:
                raise ValueError("retryAfter: expected whole seconds 0..86400")
            self.retry_after_s = retry_after
        for status in statuses:
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError("statuses: expected HTTP error codes 400..599")
            self.faults[endpoint].append(status)

    # --- webhook events -------------------------------------------------------------------

    def _base_event(self, event_type: str, user_id: str, *, reply: bool = True) -> dict[str, Any]:
        if user_id not in self.profiles:
            self.set_profile(user_id, f"User {user_id[-4:]}")
        event: dict[str, Any] = {
            "type": event_type,
            "mode": "active",
            "timestamp": int(self.clock() * 1000),
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": _webhook_event_id(),
            "deliveryContext": {"isRedelivery": False},
        }
        if reply:
            event["replyToken"] = self.issue_reply_token(user_id)
        return event

    def text_event(self, user_id: str, text: str) -> dict[str, Any]:
        event = self._base_event("message", user_id)
        event["message"] = {"type": "text", "id": _numeric_id(), "quoteToken": secrets.token_urlsafe(16), "text": text}
        return event

    def image_event(self, user_id: str, data: bytes, content_type: str = "image/jpeg") -> dict[str, Any]:
        event = self._base_event("message", user_id)
        message_id = _numeric_id()
        self.contents[message_id] = (bytes(data), content_type)
        event["message"] = {
            "type": "image",
            "id": message_id,
            "quoteToken": secrets.token_urlsafe(16),
            "contentProvider": {"type": "line"},
        }
        return event

    def postback_event(self, user_id: str, data: str) -> dict[str, Any]:
        event = self._base_event("postback", user_id)
        event["postback"] = {"data": data}
        return event

    def follow_event(self, user_id: str, *, unblocked: bool = False) -> dict[str, Any]:
        event = self._base_event("follow", user_id)
        event["follow"] = {"isUnblocked": unblocked}
        return event

    def unfollow_event(self, user_id: str) -> dict[str, Any]:
        """The user blocked the account: no reply token (LINE sends none with an unfollow)."""
        self.blocked.add(user_id)
        return self._base_event("unfollow", user_id, reply=False)

    def event_from_spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Build an event from the control API's short form; errors name the field."""
        kind = spec.get("type")
        user_id = spec.get("userId")
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("userId: required")
        if kind == "text":
            text = spec.get("text")
            if not isinstance(text, str) or not text:
                raise ValueError("text: required for a text event")
            return self.text_event(user_id, text)
        if kind == "image":
            raw = spec.get("contentBase64", "")
            try:
                data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
            except binascii.Error:
                raise ValueError("contentBase64: not base64") from None
            return self.image_event(user_id, data, str(spec.get("contentType") or "image/jpeg"))
        if kind == "postback":
            data = spec.get("data")
            if not isinstance(data, str):
                raise ValueError("data: required for a postback event")
            return self.postback_event(user_id, data)
        if kind == "follow":
            return self.follow_event(user_id)
        if kind == "unfollow":
            return self.unfollow_event(user_id)
        if kind == "raw":
            raw_event = spec.get("event")
            if not isinstance(raw_event, dict):
                raise ValueError("event: an event object is required for a raw event")
            return dict(raw_event)
        raise ValueError(f"type: expected text, image, postback, follow, unfollow or raw, got {kind!r}")

    def webhook_body(self, events: list[dict[str, Any]]) -> bytes:
        return json.dumps(
            {"destination": self.bot_user_id, "events": events}, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")

    async def deliver(
        self,
        url: str,
        events: list[dict[str, Any]],
        *,
        secret: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> int:
        """POST the events, signed, to the bot's webhook URL as LINE does; the HTTP status."""
        body = self.webhook_body(events)
        for event in events:
            if "webhookEventId" in event:
                self.delivered[event["webhookEventId"]] = copy.deepcopy(event)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": sign(secret or self.channel_secret, body),
        }
        own = session is None
        client = session or aiohttp.ClientSession()
        try:
            async with client.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                await resp.read()
                return resp.status
        finally:
            if own:
                await client.close()

    async def redeliver(
        self, url: str, webhook_event_id: str, *, session: aiohttp.ClientSession | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Deliver an event again: same webhookEventId, `deliveryContext.isRedelivery` true."""
        original = self.delivered.get(webhook_event_id)
        if original is None:
            raise KeyError(webhook_event_id)
        event = copy.deepcopy(original)
        event["deliveryContext"] = {"isRedelivery": True}
        status = await self.deliver(url, [event], session=session)
        return status, event

    # --- HTTP app -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app[SIMULATOR] = self
        app.router.add_post("/v2/bot/message/reply", _reply)
        app.router.add_post("/v2/bot/message/push", _push)
        app.router.add_post("/v2/bot/message/validate/{kind}", _validate)
        app.router.add_get("/v2/bot/message/{message_id}/content", _content)
        app.router.add_get("/v2/bot/profile/{user_id}", _profile)
        app.router.add_post("/oauth2/v2.1/verify", _verify)
        app.router.add_post("/v2/bot/richmenu", _create_rich_menu)
        app.router.add_get("/v2/bot/richmenu/list", _list_rich_menus)
        app.router.add_delete("/v2/bot/richmenu/{rich_menu_id}", _delete_rich_menu)
        app.router.add_post("/v2/bot/richmenu/{rich_menu_id}/content", _rich_menu_image)
        app.router.add_post("/v2/bot/user/all/richmenu/{rich_menu_id}", _default_rich_menu)
        app.router.add_post("/v2/bot/user/{user_id}/richmenu/{rich_menu_id}", _link_rich_menu)
        app.router.add_get("/_sim/messages", _sim_messages)
        app.router.add_post("/_sim/clear", _sim_clear)
        app.router.add_post("/_sim/content", _sim_content)
        app.router.add_post("/_sim/profiles", _sim_profiles)
        app.router.add_post("/_sim/id_tokens", _sim_id_tokens)
        app.router.add_post("/_sim/block", _sim_block)
        app.router.add_post("/_sim/unblock", _sim_unblock)
        app.router.add_post("/_sim/faults", _sim_faults)
        app.router.add_post("/_sim/deliver", _sim_deliver)
        app.router.add_post("/_sim/redeliver", _sim_redeliver)
        return app

    def _record(self, kind: str, to: str, messages: list[dict[str, Any]]) -> None:
        at = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).isoformat(timespec="milliseconds")
        record = {"kind": kind, "to": to, "messages": messages, "at": at}
        self.messages.append(record)
        for listener in list(self.listeners):
            listener(record)


SIMULATOR: web.AppKey[LineSimulator] = web.AppKey("line_simulator", LineSimulator)


def create_line_simulator(
    *,
    channel_secret: str = SIM_CHANNEL_SECRET,
    access_tokens: Iterable[str] = (SIM_ACCESS_TOKEN,),
    login_channel_id: str = SIM_LOGIN_CHANNEL_ID,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The simulator app; its state (and Python API) is `app[SIMULATOR]`."""
    sim = LineSimulator(
        channel_secret=channel_secret,
        access_tokens=frozenset(access_tokens),
        login_channel_id=login_channel_id,
        clock=clock,
    )
    return sim.app()


# --- protocol handlers -------------------------------------------------------------------


def _error(status: int, message: str, details: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers={"X-Line-Request-Id": str(uuid.uuid4())})


def _authorized(request: web.Request) -> bool:
    sim = request.app[SIMULATOR]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    token = header[len("Bearer "):].encode()
    ok = False
    for known in sim.access_tokens:
        ok |= hmac.compare_digest(token, known.encode())
    return ok


_UNAUTHORIZED = "Authentication failed due to the following reason: invalid token. Confirm that the access token in the authorization header is valid."


def _validate_messages(value: Any) -> list[dict[str, str]]:
    """LINE-style error details for a `messages` array (empty list = valid)."""
    if not isinstance(value, list) or not value:
        return [{"message": "must be specified", "property": "messages"}]
    if len(value) > MAX_MESSAGES:
        return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"}]
    details: list[dict[str, str]] = []
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            details.append({"message": "must be an object", "property": where})
            continue
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text:
                details.append({"message": "must be specified", "property": f"{where}.text"})
            elif len(text) > MAX_TEXT:
                details.append({"message": f"Length must be between 0 and {MAX_TEXT}", "property": f"{where}.text"})
        elif kind == "flex":
            alt = message.get("altText")
            if not isinstance(alt, str) or not alt:
                details.append({"message": "must be specified", "property": f"{where}.altText"})
            elif len(alt.encode("utf-16-le")) // 2 > MAX_ALT_TEXT:
                details.append({"message": f"Length must be between 0 and {MAX_ALT_TEXT}", "property": f"{where}.altText"})
            contents = message.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                details.append({"message": "must be specified", "property": f"{where}.contents"})
            else:
                details.extend(_flex_problems(contents, f"{where}.contents"))
        elif kind in ("image", "sticker", "video", "audio", "location", "imagemap", "template"):
            pass
        else:
            details.append({"message": "invalid message type", "property": f"{where}.type"})
    return details


def _flex_problems(container: dict[str, Any], where: str) -> list[dict[str, str]]:
    """A flex container's size limits, component types and image URLs, as LINE checks them."""
    problems: list[dict[str, str]] = []
    size = len(json.dumps(container, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if container["type"] == "bubble" and size > MAX_BUBBLE_BYTES:
        problems.append({"message": f"size must be {MAX_BUBBLE_BYTES} bytes or less", "property": where})
    if container["type"] == "carousel":
        bubbles = container.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
            problems.append({"message": f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}",
                             "property": f"{where}.contents"})
        if size > MAX_CAROUSEL_BYTES:
            problems.append({"message": f"size must be {MAX_CAROUSEL_BYTES} bytes or less", "property": where})

    def walk(node: Any, path: str, in_block: bool) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]", in_block)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if in_block and kind not in _FLEX_COMPONENTS:
            problems.append({"message": "invalid component type", "property": f"{path}.type"})
        urls = {"image": ("url",), "icon": ("url",), "video": ("url", "previewUrl")}.get(kind, ())
        for key in urls:
            url = node.get(key)
            if not isinstance(url, str) or not url.startswith("https://") or len(url) > MAX_IMAGE_URL:
                problems.append({"message": "must be an https URL of at most 2000 characters",
                                 "property": f"{path}.{key}"})
        for key, value in node.items():
            if key in ("action", "background", "styles"):
                continue
            child_in_block = in_block or key in ("header", "hero", "body", "footer")
            if key == "contents" and kind == "carousel":
                child_in_block = False
            walk(value, f"{path}.{key}", child_in_block if isinstance(value, (dict, list)) else in_block)

    walk(container, where, False)
    problems.extend({"message": reason, "property": path} for path, reason in flex_action_problems(container, where))
    return problems


async def _validate(request: web.Request) -> web.Response:
    """`POST /v2/bot/message/validate/{kind}`: 200 `{}` when a send of these messages would be
    accepted, else 400 with LINE-style details; no message is sent."""
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    kind = request.match_info["kind"]
    if kind not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
        return _error(404, "Not found")
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _error(400, "The request body could not be parsed as JSON")
    if sim.faults["validate"]:
        return _error(sim.faults["validate"].pop(0), "Injected fault")
    details = _validate_messages(body.get("messages"))
    _call(sim, f"message.validate.{kind}", ok=not details, details=copy.deepcopy(details))
    if details:
        return _error(400, f"The request body has {len(details)} error(s)", details)
    return web.json_response({}, headers={"X-Line-Request-Id": str(uuid.uuid4())})


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _sent(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sentMessages": [{"id": _numeric_id(), "quoteToken": secrets.token_urlsafe(16)} for _ in messages]}


async def _reply(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _error(400, "The request body could not be parsed as JSON")
    details = _validate_messages(body.get("messages"))
    if details:
        return _error(400, f"The request body has {len(details)} error(s)", details)
    if sim.faults["reply"]:
        status = sim.faults["reply"].pop(0)
        return _error(status, "Injected fault")
    token = body.get("replyToken")
    entry = sim.reply_tokens.get(token) if isinstance(token, str) else None
    if entry is None or entry.used or sim.clock() - entry.issued_at > REPLY_TOKEN_LIFETIME_S:
        return _error(400, "Invalid reply token")
    entry.used = True
    sim._record("reply", entry.user_id, body["messages"])
    return web.json_response(_sent(body["messages"]), headers={"X-Line-Request-Id": str(uuid.uuid4())})


async def _push(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    retry_key = request.headers.get("X-Line-Retry-Key")
    if retry_key is not None and not _UUID.match(retry_key):
        return _error(400, "The value of the X-Line-Retry-Key header is invalid")
    if retry_key is not None and retry_key.lower() in sim.retry_keys:
        accepted = sim.retry_keys[retry_key.lower()]
        return web.json_response(
            {"message": "The retry key is already accepted"},
            status=409,
            headers={"X-Line-Accepted-Request-Id": accepted, "X-Line-Request-Id": str(uuid.uuid4())},
        )
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _error(400, "The request body could not be parsed as JSON")
    to = body.get("to")
    details = _validate_messages(body.get("messages"))
    if not isinstance(to, str) or not to:
        details.insert(0, {"message": "must be specified", "property": "to"})
    if details:
        return _error(400, f"The request body has {len(details)} error(s)", details)
    if sim.faults["push"]:
        status = sim.faults["push"].pop(0)
        headers = {"Retry-After": str(sim.retry_after_s)} if status == 429 else None
        response = _error(status, "Too many requests" if status == 429 else "Injected fault")
        if headers:
            response.headers.update(headers)
        return response
    if to in sim.blocked:
        return _error(400, UNDELIVERABLE)
    request_id = str(uuid.uuid4())
    if retry_key is not None:
        sim.retry_keys[retry_key.lower()] = request_id
    sim._record("push", to, body["messages"])
    return web.json_response(_sent(body["messages"]), headers={"X-Line-Request-Id": request_id})


async def _content(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    found = sim.contents.get(request.match_info["message_id"])
    if found is None:
        return _error(404, "Not found")
    data, content_type = found
    return web.Response(body=data, content_type=content_type)


async def _profile(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    profile = sim.profiles.get(request.match_info["user_id"])
    if profile is None or profile["userId"] in sim.blocked:
        return _error(404, "Not found")
    return web.json_response(profile)


async def _verify(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    form = await request.post()
    id_token, client_id = form.get("id_token"), form.get("client_id")
    response = _verify_answer(sim, id_token, client_id)
    _call(sim, "oauth2.verify", clientId=client_id if isinstance(client_id, str) else None,
          idToken=id_token if isinstance(id_token, str) else None, status=response.status)
    return response


def _verify_answer(sim: LineSimulator, id_token: Any, client_id: Any) -> web.Response:
    def invalid(description: str) -> web.Response:
        return web.json_response({"error": "invalid_request", "error_description": description}, status=400)

    if sim.faults["verify"]:
        status = sim.faults["verify"].pop(0)
        response = _error(status, "Too many requests" if status == 429 else "Injected fault")
        if status == 429:
            response.headers["Retry-After"] = str(sim.retry_after_s)
        return response
    if not isinstance(id_token, str) or not id_token:
        return invalid("id_token is required")
    if not isinstance(client_id, str) or not client_id:
        return invalid("client_id is required")
    entry = sim.id_tokens.get(id_token)
    if entry is None:
        return invalid("Invalid IdToken.")
    if sim.verify_checks and entry.claims["exp"] <= sim.clock():
        return invalid("IdToken expired.")
    if sim.verify_checks and not hmac.compare_digest(client_id.encode(), str(entry.claims["aud"]).encode()):
        return invalid("Invalid IdToken Audience.")
    return web.json_response(entry.claims)


# --- control handlers --------------------------------------------------------------------


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _control_body(request: web.Request) -> dict[str, Any] | None:
    body = await _json_body(request)
    return body if isinstance(body, dict) else None


async def _sim_messages(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].messages)


async def _sim_clear(request: web.Request) -> web.Response:
    request.app[SIMULATOR].clear()
    return web.json_response({"ok": True})


async def _sim_content(request: web.Request) -> web.Response:
    data = await request.read()
    if not data:
        return _bad("body: the content bytes are required")
    message_id = request.app[SIMULATOR].register_content(data, request.content_type or "application/octet-stream")
    return web.json_response({"messageId": message_id})


async def _sim_profiles(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None or not isinstance(body.get("userId"), str) or not body["userId"]:
        return _bad("userId: required")
    if not isinstance(body.get("displayName"), str):
        return _bad("displayName: required")
    request.app[SIMULATOR].set_profile(body["userId"], body["displayName"], body.get("pictureUrl"))
    return web.json_response({"ok": True})


async def _sim_id_tokens(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None or not isinstance(body.get("userId"), str) or not body["userId"]:
        return _bad("userId: required")
    expires_in = body.get("expiresIn", 3600)
    if not isinstance(expires_in, int):
        return _bad("expiresIn: an integer number of seconds")
    claims = body.get("claims")
    if claims is not None and not isinstance(claims, dict):
        return _bad("claims: an object of claims")
    token = request.app[SIMULATOR].issue_id_token(
        body["userId"], name=body.get("name"), picture=body.get("picture"), expires_in=expires_in, claims=claims
    )
    return web.json_response({"idToken": token})


async def _sim_block(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None or not isinstance(body.get("userId"), str):
        return _bad("userId: required")
    request.app[SIMULATOR].block(body["userId"])
    return web.json_response({"ok": True})


async def _sim_unblock(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None or not isinstance(body.get("userId"), str):
        return _bad("userId: required")
    request.app[SIMULATOR].unblock(body["userId"])
    return web.json_response({"ok": True})


async def _sim_faults(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None:
        return _bad("body: a JSON object is required")
    sim = request.app[SIMULATOR]
    retry_after = body.get("retryAfter")
    for endpoint in ("push", "reply", "verify"):
        statuses = body.get(endpoint, [])
        if not isinstance(statuses, list):
            return _bad(f"{endpoint}: a list of HTTP statuses")
        try:
            sim.inject_faults(endpoint, statuses, retry_after=retry_after)
        except ValueError as exc:
            return _bad(f"{endpoint}: {exc}")
    return web.json_response(sim.faults)


async def _sim_deliver(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None:
        return _bad("body: a JSON object is required")
    url, specs = body.get("url"), body.get("events")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _bad("url: the bot's webhook URL is required")
    if not isinstance(specs, list) or not specs:
        return _bad("events: a non-empty list is required")
    sim = request.app[SIMULATOR]
    try:
        events = [sim.event_from_spec(spec if isinstance(spec, dict) else {}) for spec in specs]
    except ValueError as exc:
        return _bad(f"events: {exc}")
    secret = body.get("secret")
    try:
        status = await sim.deliver(url, events, secret=secret if isinstance(secret, str) else None)
    except aiohttp.ClientError as exc:
        return web.json_response({"error": f"delivery failed: {type(exc).__name__}"}, status=502)
    return web.json_response({"status": status, "events": events})


async def _sim_redeliver(request: web.Request) -> web.Response:
    body = await _control_body(request)
    if body is None or not isinstance(body.get("url"), str):
        return _bad("url: required")
    event_id = body.get("webhookEventId")
    if not isinstance(event_id, str):
        return _bad("webhookEventId: required")
    try:
        status, event = await request.app[SIMULATOR].redeliver(body["url"], event_id)
    except KeyError:
        return _bad("webhookEventId: never delivered")
    except aiohttp.ClientError as exc:
        return web.json_response({"error": f"delivery failed: {type(exc).__name__}"}, status=502)
    return web.json_response({"status": status, "event": event})


# --- rich menus ------------------------------------------------------------------------------

RICH_MENU_IMAGE_MAX = 1024 * 1024
_RICH_MENU_KEYS = {"size", "selected", "name", "chatBarText", "areas"}
_ACTION_TYPES = {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location",
                 "richmenuswitch"}


def _call(sim: LineSimulator, endpoint: str, **detail: Any) -> None:
    at = dt.datetime.fromtimestamp(sim.clock(), dt.timezone.utc).isoformat(timespec="milliseconds")
    sim.api_calls.append({"endpoint": endpoint, "at": at, **detail})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rich_menu_problems(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"message": "must be an object", "property": ""}]
    problems = []

    def bad(prop: str, message: str) -> None:
        problems.append({"message": message, "property": prop})

    for key in sorted(_RICH_MENU_KEYS - set(body)):
        bad(key, "may not be null")
    for key in sorted(set(body) - _RICH_MENU_KEYS):
        bad(key, "unknown property")
    size = body.get("size")
    width = height = 0
    if isinstance(size, dict) and _is_int(size.get("width")) and _is_int(size.get("height")):
        width, height = size["width"], size["height"]
        if not (800 <= width <= 2500 and height >= 250 and width / height >= 1.45):
            bad("size", "invalid rich menu size")
    elif "size" in body:
        bad("size", "must have integer width and height")
    if "selected" in body and not isinstance(body["selected"], bool):
        bad("selected", "must be a boolean")
    name = body.get("name")
    if "name" in body and (not isinstance(name, str) or not 1 <= len(name) <= 300):
        bad("name", "size must be between 1 and 300")
    bar = body.get("chatBarText")
    if "chatBarText" in body and (not isinstance(bar, str) or not 1 <= len(bar) <= 14):
        bad("chatBarText", "size must be between 1 and 14")
    areas = body.get("areas")
    if "areas" in body and (not isinstance(areas, list) or not 1 <= len(areas) <= 20):
        bad("areas", "size must be between 1 and 20")
    for i, area in enumerate(areas if isinstance(areas, list) else []):
        bounds = area.get("bounds") if isinstance(area, dict) else None
        keys = ("x", "y", "width", "height")
        if not isinstance(bounds, dict) or not all(_is_int(bounds.get(k)) and bounds[k] >= 0 for k in keys):
            bad(f"areas[{i}].bounds", "must have non-negative integer x, y, width and height")
        elif width and (bounds["x"] + bounds["width"] > width or bounds["y"] + bounds["height"] > height):
            bad(f"areas[{i}].bounds", "must be inside the rich menu")
        action = area.get("action") if isinstance(area, dict) else None
        if not isinstance(action, dict) or action.get("type") not in _ACTION_TYPES:
            bad(f"areas[{i}].action", "must be an action object")
        elif action["type"] == "postback" and not (isinstance(action.get("data"), str)
                                                   and 1 <= len(action["data"]) <= 300):
            bad(f"areas[{i}].action.data", "size must be between 1 and 300")
    return problems


async def _create_rich_menu(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    body = await _json_body(request)
    problems = _rich_menu_problems(body)
    if problems:
        return _error(400, "The request body has 1 error(s)" if len(problems) == 1
                      else f"The request body has {len(problems)} error(s)", problems)
    rich_menu_id = f"richmenu-{uuid.uuid4().hex}"
    sim.rich_menus[rich_menu_id] = {"richMenuId": rich_menu_id, **copy.deepcopy(body)}
    _call(sim, "richmenu.create", richMenuId=rich_menu_id, body=copy.deepcopy(body))
    return web.json_response({"richMenuId": rich_menu_id}, headers={"X-Line-Request-Id": str(uuid.uuid4())})


async def _list_rich_menus(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    return web.json_response({"richmenus": [copy.deepcopy(m) for m in sim.rich_menus.values()]})


async def _delete_rich_menu(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    rich_menu_id = request.match_info["rich_menu_id"]
    if sim.rich_menus.pop(rich_menu_id, None) is None:
        return _error(404, "Not found")
    sim.rich_menu_images.pop(rich_menu_id, None)
    if sim.default_rich_menu == rich_menu_id:
        sim.default_rich_menu = None
    for user in [u for u, m in sim.user_rich_menus.items() if m == rich_menu_id]:
        del sim.user_rich_menus[user]
    _call(sim, "richmenu.delete", richMenuId=rich_menu_id)
    return web.json_response({})


async def _rich_menu_image(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    rich_menu_id = request.match_info["rich_menu_id"]
    if rich_menu_id not in sim.rich_menus:
        return _error(404, "Not found")
    if rich_menu_id in sim.rich_menu_images:
        return _error(400, "An image has already been uploaded to the richmenu")
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in ("image/jpeg", "image/png"):
        return _error(415, "Unsupported Media Type")
    data = await request.read()
    if not data or len(data) > RICH_MENU_IMAGE_MAX:
        return _error(400, "The image must be 1 MB or less")
    signature = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}[content_type]
    if not data.startswith(signature):
        return _error(400, "The image is not a valid " + content_type.split("/")[1].upper())
    sim.rich_menu_images[rich_menu_id] = (data, content_type)
    _call(sim, "richmenu.content", richMenuId=rich_menu_id, contentType=content_type, bytes=len(data))
    return web.json_response({})


def _linkable(sim: LineSimulator, rich_menu_id: str) -> web.Response | None:
    if rich_menu_id not in sim.rich_menus:
        return _error(404, "Not found")
    if rich_menu_id not in sim.rich_menu_images:
        return _error(400, "must upload richmenu image before applying it to user")
    return None


async def _default_rich_menu(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    rich_menu_id = request.match_info["rich_menu_id"]
    refused = _linkable(sim, rich_menu_id)
    if refused is not None:
        return refused
    sim.default_rich_menu = rich_menu_id
    _call(sim, "richmenu.default", richMenuId=rich_menu_id)
    return web.json_response({})


async def _link_rich_menu(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    if not _authorized(request):
        return _error(401, _UNAUTHORIZED)
    rich_menu_id, user_id = request.match_info["rich_menu_id"], request.match_info["user_id"]
    if not re.fullmatch(r"U[0-9a-f]{32}", user_id):
        return _error(400, "The value for the 'userId' parameter is invalid")
    refused = _linkable(sim, rich_menu_id)
    if refused is not None:
        return refused
    sim.user_rich_menus[user_id] = rich_menu_id
    _call(sim, "richmenu.link", richMenuId=rich_menu_id, userId=user_id)
    return web.json_response({})

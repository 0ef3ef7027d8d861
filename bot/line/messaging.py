"""The LINE Messaging API adapter: reply, push (with X-Line-Retry-Key), message content,
profiles and LIFF ID-token verification, over line-bot-sdk v3 with one SDK configuration per
LINE host, and LINE's answers mapped to three error kinds (invalid reply token, transient,
permanent). Also converts the plain messages of flows/messages into SDK models."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    FlexContainer,
    FlexMessage,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
    ValidateMessageRequest,
)
from linebot.v3.messaging.models.message import Message as SdkMessage
from pydantic.v1 import PrivateAttr

from flows.conversation.delivery import MAX_MESSAGES_PER_REQUEST
from flows.messages.line_json import to_line_json
from flows.messages.model import FlexMessage as PlainFlex
from flows.messages.model import TextMessage as PlainText

log = logging.getLogger(__name__)

MAX_CONTENT_BYTES = 10 * 1024 * 1024  # LINE images are at most 10 MB
DEFAULT_TIMEOUT_S = 10.0
_UNDELIVERABLE = "Failed to send messages"


class LineApiError(Exception):
    """A LINE call failed; `status` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class InvalidReplyToken(LineApiError):
    """The reply token is unknown, used or expired: answer by push instead."""


class Transient(LineApiError):
    """Worth retrying later: timeout, connection error, 429, 5xx."""


class Permanent(LineApiError):
    """Retrying cannot help: bad request, bad credentials, unknown user."""


class RecipientUnreachable(Permanent):
    """LINE refused to deliver to this user (blocked the account or is not a friend)."""


class InvalidMessages(Permanent):
    """LINE's validate endpoint refused the messages; `details` are its "property: message" lines."""

    def __init__(self, message: str, details: list[str], *, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.details = details


def _body_details(body: Any) -> list[str]:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError:
        return []
    details = parsed.get("details") if isinstance(parsed, dict) else None
    return [f"{d.get('property', '')}: {d.get('message', '')}" for d in details or [] if isinstance(d, dict)]


class InvalidIdToken(Permanent):
    """LINE Login refused the LIFF ID token (forged, expired or for another channel)."""


class ContentTooLarge(Permanent):
    """The message content is larger than the bound we accept."""


@dataclass(frozen=True)
class PushResult:
    """An accepted push; `duplicate` when LINE had already accepted this retry key (409)."""

    request_id: str | None
    duplicate: bool = False


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str | None = None


@dataclass(frozen=True)
class IdTokenClaims:
    """The verified claims of a LIFF ID token; `sub` is the LINE user ID."""

    sub: str
    aud: str
    exp: int
    iat: int
    iss: str
    name: str | None = None
    picture: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


OutgoingMessage = PlainText | PlainFlex | Mapping[str, Any]


def to_sdk_message(message: OutgoingMessage) -> SdkMessage:
    """A flows/messages message or a LINE message object (dict) as an SDK model.
    Raises ValueError naming the field when the message is not a valid text or flex message.

    The models of the last `SDK_CACHE_SIZE` distinct messages are kept (keyed by their JSON):
    a campaign's card is the same for every user, and building its flex models costs far more
    than the request that sends it (bench/webhook.py). The models are never modified here or
    by the SDK, which only reads them to serialise a request."""
    return _sdk_message_and_wire(message)[0]


def _sdk_message_and_wire(message: OutgoingMessage) -> tuple[SdkMessage, dict[str, Any]]:
    """The SDK model of a message and the JSON the SDK sends for it (its `to_dict()`)."""
    data = to_line_json(message) if isinstance(message, (PlainText, PlainFlex)) else dict(message)
    try:
        key = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        model = _build_sdk_message(data)  # not JSON at all: the builder names what is wrong
        return model, model.to_dict()
    return _cached_sdk_message(key)


SDK_CACHE_SIZE = 512


@functools.lru_cache(maxsize=SDK_CACHE_SIZE)
def _cached_sdk_message(key: str) -> tuple[SdkMessage, dict[str, Any]]:
    model = _build_sdk_message(json.loads(key))  # a ValueError is not cached: raised each time
    return model, model.to_dict()


class _PreparedMessages:
    """Mixin of a send request whose messages' JSON was made by the SDK once (`to_dict()` of
    the kept models): the request's own `to_dict()` reuses it instead of walking every flex
    component again on each send. The wire form is the SDK's own (tests compare them)."""

    _wire: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out = self.dict(by_alias=True, exclude={"messages"}, exclude_none=True)  # type: ignore[attr-defined]
        out["messages"] = self._wire
        return out


class PreparedReply(_PreparedMessages, ReplyMessageRequest):
    """ReplyMessageRequest with its messages' JSON made once."""

    _wire: list[dict[str, Any]] = PrivateAttr(default_factory=list)


class PreparedPush(_PreparedMessages, PushMessageRequest):
    """PushMessageRequest with its messages' JSON made once."""

    _wire: list[dict[str, Any]] = PrivateAttr(default_factory=list)


def _prepared(kind: type[Any], messages: Sequence[OutgoingMessage], **fields: Any) -> Any:
    pairs = _sdk_pairs(messages)
    request = kind(messages=[model for model, _ in pairs], **fields)
    request._wire = [wire for _, wire in pairs]
    return request


def _build_sdk_message(data: dict[str, Any]) -> SdkMessage:
    kind = data.get("type")
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, str) or not text:
            raise ValueError("text: required for a text message")
        return TextMessage(text=text)
    if kind == "flex":
        alt = data.get("altText")
        if not isinstance(alt, str) or not alt:
            raise ValueError("altText: required for a flex message")
        contents = data.get("contents")
        if not isinstance(contents, dict):
            raise ValueError("contents: a flex container object is required")
        try:
            container = FlexContainer.from_dict(contents)
        except Exception as exc:  # the SDK raises pydantic, Value, Type and Key errors
            raise ValueError(f"contents: not a valid flex container ({type(exc).__name__})") from None
        if container is None:
            raise ValueError("contents: not a valid flex container")
        return FlexMessage(alt_text=alt, contents=container)
    raise ValueError(f"type: unsupported message type {kind!r}")


def _sdk_pairs(messages: Sequence[OutgoingMessage]) -> list[tuple[SdkMessage, dict[str, Any]]]:
    """The (model, JSON) of the 1–5 messages of one request."""
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise ValueError(f"messages: 1..{MAX_MESSAGES_PER_REQUEST} per request")
    return [_sdk_message_and_wire(m) for m in messages]


def _sdk_messages(messages: Sequence[OutgoingMessage]) -> list[SdkMessage]:
    return [model for model, _ in _sdk_pairs(messages)]


def _body_message(body: Any) -> str:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            return ""
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            return parsed["message"]
    return ""


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _map_api_error(exc: ApiException, *, was_reply: bool = False) -> LineApiError:
    status = exc.status if isinstance(exc.status, int) else None
    message = _body_message(exc.body)
    text = f"LINE answered {status}" + (f": {message}" if message else "")
    if status is None or status == 429 or status >= 500:
        return Transient(text, status=status, retry_after=_retry_after(exc.headers))
    if was_reply and status == 400 and "reply token" in message.lower():
        return InvalidReplyToken(text, status=status)
    if status == 400 and message == _UNDELIVERABLE:
        return RecipientUnreachable(text, status=status)
    return Permanent(text, status=status)


def _api_client(access_token: str, host: str) -> AsyncApiClient:
    """The SDK's client for one LINE host, its proxy (HTTPS_PROXY / NO_PROXY) read from the
    environment once, here. The SDK's HTTP session trusts the environment, so aiohttp would
    look up the proxy and ~/.netrc in a worker thread on EVERY request (two thread hops per
    message sent, bench/webhook.py); LINE takes a bearer token, never netrc credentials."""
    configuration = Configuration(access_token=access_token, host=host)
    configuration.proxy, configuration.proxy_headers = _env_proxy(host)
    client = AsyncApiClient(configuration)
    rest = client.rest_client
    trusting = rest.pool_manager
    rest.pool_manager = aiohttp.ClientSession(connector=trusting.connector, connector_owner=True, trust_env=False)
    trusting.detach()  # the connector now belongs to the new session
    rest.proxy, rest.proxy_headers = configuration.proxy, configuration.proxy_headers
    return client


def _env_proxy(host: str) -> tuple[str | None, dict[str, str] | None]:
    """The proxy the environment names for `host` (as aiohttp's trust_env would) and its
    Proxy-Authorization header when the proxy URL carries credentials; (None, None) if none."""
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        proxy, auth = get_env_proxy_for_url(URL(host))
    except LookupError:
        return None, None
    return str(proxy), ({"Proxy-Authorization": auth.encode()} if auth is not None else None)


def _validated_already(method: Any) -> Any:
    """The SDK operation without its `validate_arguments` wrapper (`raw_function`, unbound: pass
    the API object first). For the calls made for every message, whose arguments are models
    this module built and the SDK validated when they were made; the wrapper would build a
    pydantic model of the arguments and copy the request again on each call (about a tenth of
    handling a card request, bench/webhook.py). The HTTP exchange is the SDK's own."""
    return method.raw_function


class LineMessaging:
    """One channel's Messaging API client. Use as `async with LineMessaging(...) as line:`
    or call `close()`; every call has a timeout and raises only LineApiError subclasses."""

    def __init__(
        self,
        access_token: str,
        *,
        api_base_url: str = "https://api.line.me",
        data_api_base_url: str = "https://api-data.line.me",
        timeout: float = DEFAULT_TIMEOUT_S,
        max_content_bytes: int = MAX_CONTENT_BYTES,
    ) -> None:
        if not access_token:
            raise ValueError("access_token: required")
        self._api_base = api_base_url.rstrip("/")
        self._data_base = data_api_base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_content = max_content_bytes
        # Configuration(host=…) replaces the host of every operation: one per LINE host.
        self._api_client = _api_client(access_token, self._api_base)
        self._data_client = _api_client(access_token, self._data_base)
        self._api = AsyncMessagingApi(self._api_client)
        self._blob = AsyncMessagingApiBlob(self._data_client)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the token
        return f"LineMessaging(api={self._api_base!r}, data={self._data_base!r})"

    async def __aenter__(self) -> "LineMessaging":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._api_client.close()
        await self._data_client.close()
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def reply(self, reply_token: str, messages: Sequence[OutgoingMessage]) -> None:
        """Answer with a reply token (free). InvalidReplyToken when it is spent or expired."""
        if not reply_token:
            raise ValueError("reply_token: required")
        request = _prepared(PreparedReply, messages, reply_token=reply_token)
        try:
            await _validated_already(self._api.reply_message_with_http_info)(
                self._api, request, _request_timeout=self._timeout)
        except ApiException as exc:
            raise _map_api_error(exc, was_reply=True) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"reply: {type(exc).__name__}") from None

    async def push(
        self, to: str, messages: Sequence[OutgoingMessage], *, retry_key: str | None = None
    ) -> PushResult:
        """Push (billable). With `retry_key` (a UUID) a repeat of an accepted push is a
        no-op that LINE answers 409: returned as PushResult(duplicate=True)."""
        if not to:
            raise ValueError("to: required")
        request = _prepared(PreparedPush, messages, to=to)
        try:
            response = await _validated_already(self._api.push_message_with_http_info)(
                self._api,
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 409 and retry_key is not None:
                accepted = exc.headers.get("X-Line-Accepted-Request-Id") if exc.headers else None
                return PushResult(accepted, duplicate=True)
            raise _map_api_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"push: {type(exc).__name__}") from None
        headers = response.headers or {}
        return PushResult(headers.get("X-Line-Request-Id"))

    async def get_content(self, message_id: str) -> bytes:
        """The bytes of an image (etc.) the user sent, at most `max_content_bytes`.

        Streams from the data-API host through the SDK's own HTTP client: the generated
        `get_message_content` buffers any size, so the bound is enforced here while reading.
        """
        if not message_id or not message_id.isdigit():
            raise ValueError("message_id: expected digits")
        url = f"{self._data_base}/v2/bot/message/{message_id}/content"
        headers = {"Authorization": f"Bearer {self._data_client.configuration.access_token}"}
        try:
            response = await self._data_client.rest_client.pool_manager.get(
                url, headers=headers, timeout=self._timeout
            )
            async with response:
                if response.status != 200:
                    body = await response.content.read(4096)
                    raise _map_api_error(
                        ApiException(status=response.status, reason=response.reason)
                        if not body
                        else _with_body(response.status, response.reason, body, response.headers)
                    )
                declared = response.content_length
                if declared is not None and declared > self._max_content:
                    raise ContentTooLarge(f"content: {declared} bytes > {self._max_content}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max_content:
                        raise ContentTooLarge(f"content: more than {self._max_content} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"content: {type(exc).__name__}") from None

    async def validate_messages(self, messages: Sequence[OutgoingMessage], *, kind: str = "reply") -> None:
        """Ask LINE whether it would accept these messages (`POST /v2/bot/message/validate/{kind}`,
        kind reply | push | multicast | narrowcast | broadcast). InvalidMessages when refused."""
        calls = {"reply": self._api.validate_reply, "push": self._api.validate_push,
                 "multicast": self._api.validate_multicast, "narrowcast": self._api.validate_narrowcast,
                 "broadcast": self._api.validate_broadcast}
        if kind not in calls:
            raise ValueError(f"kind: one of {', '.join(calls)}")
        request = ValidateMessageRequest(messages=_sdk_messages(messages))
        try:
            await calls[kind](request, _request_timeout=self._timeout)
        except ApiException as exc:
            error = _map_api_error(exc)
            if exc.status == 400:
                raise InvalidMessages(str(error), _body_details(exc.body), status=400) from None
            raise error from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"validate: {type(exc).__name__}") from None

    async def get_profile(self, user_id: str) -> Profile:
        if not user_id:
            raise ValueError("user_id: required")
        try:
            profile = (await _validated_already(self._api.get_profile_with_http_info)(
                self._api, user_id, _request_timeout=self._timeout)).data
        except ApiException as exc:
            raise _map_api_error(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"profile: {type(exc).__name__}") from None
        return Profile(profile.user_id, profile.display_name, profile.picture_url)

    async def verify_id_token(self, id_token: str, client_id: str) -> IdTokenClaims:
        """Verify a LIFF ID token with LINE Login (`POST /oauth2/v2.1/verify`)."""
        if not id_token:
            raise InvalidIdToken("id_token: required")
        if not client_id:
            raise ValueError("client_id: required")
        url = f"{self._api_base}/oauth2/v2.1/verify"
        try:
            async with self._http().post(url, data={"id_token": id_token, "client_id": client_id}) as resp:
                raw = await resp.content.read(64 * 1024)
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise Transient(f"verify: {type(exc).__name__}") from None
        if status == 400:
            raise InvalidIdToken("id_token: LINE refused it", status=status)
        if status == 429 or status >= 500:
            raise Transient(f"verify: LINE answered {status}", status=status, retry_after=_retry_after(headers))
        if status != 200:
            raise Permanent(f"verify: LINE answered {status}", status=status)
        try:
            claims = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Transient("verify: the answer is not JSON") from None
        return _claims(claims, client_id)


def _with_body(status: int, reason: str | None, body: bytes, headers: Any) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = body.decode("utf-8", "replace")
    exc.headers = headers
    return exc


def _claims(claims: Any, client_id: str) -> IdTokenClaims:
    if not isinstance(claims, dict):
        raise InvalidIdToken("claims: not an object")
    sub, aud = claims.get("sub"), claims.get("aud")
    if not isinstance(sub, str) or not sub:
        raise InvalidIdToken("sub: missing")
    if aud != client_id:
        raise InvalidIdToken("aud: not this channel")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise InvalidIdToken("exp/iat: missing")
    name, picture = claims.get("name"), claims.get("picture")
    return IdTokenClaims(
        sub=sub,
        aud=aud,
        exp=exp,
        iat=iat,
        iss=str(claims.get("iss", "")),
        name=name if isinstance(name, str) else None,
        picture=picture if isinstance(picture, str) else None,
        raw=claims,
    )

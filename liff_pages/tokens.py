"""LIFF ID tokens as the API accepts them: LINE's verify answer checked again here (exp, iss,
aud, sub), verified tokens kept until their exp (in this process, keyed by a hash of the
token), and no verify calls for new tokens while LINE's Retry-After of a 429 runs."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable

from bot.line.messaging import IdTokenClaims, InvalidIdToken, Transient

log = logging.getLogger(__name__)

ISSUER = "https://access.line.me"
USER_ID = re.compile(r"U[0-9a-f]{32}")
MAX_NAME = 200  # customers.display_name
DEFAULT_PAUSE_S = 30.0  # LINE answered 429 without a Retry-After
MAX_PAUSE_S = 300.0  # a longer Retry-After is not believed
MAX_CACHED = 20_000

Verify = Callable[[str, str], Awaitable[IdTokenClaims]]


class VerifyPaused(Exception):
    """LINE asked us to slow down: no verify call for a new token for `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"verify paused for {retry_after:.0f} s")
        self.retry_after = retry_after


def checked_claims(claims: IdTokenClaims, *, client_id: str, now: float) -> IdTokenClaims:
    """The claims when they are LINE's, for this LINE Login channel, not expired and about a
    LINE user ID; InvalidIdToken otherwise. A display name that could not be stored is dropped."""
    if claims.iss != ISSUER:
        raise InvalidIdToken("iss: not LINE")
    if not client_id or not hmac.compare_digest(str(claims.aud).encode(), client_id.encode()):
        raise InvalidIdToken("aud: not this channel")
    if isinstance(claims.exp, bool) or not isinstance(claims.exp, int) or claims.exp <= now:
        raise InvalidIdToken("exp: expired")
    if not isinstance(claims.sub, str) or not USER_ID.fullmatch(claims.sub):
        raise InvalidIdToken("sub: not a LINE user ID")
    if claims.name is not None and not _storable(claims.name):
        return dataclasses.replace(claims, name=None)
    return claims


def _storable(text: str) -> bool:
    if len(text) > MAX_NAME or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def token_key(token: str) -> str:
    """What a token is known by here: its SHA-256 (the token itself is never kept or logged)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class VerifiedTokens:
    """Tokens LINE verified, until their exp, and the pause after LINE's 429 on verify."""

    def __init__(self, *, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_CACHED) -> None:
        self._wall, self._monotonic, self._max = wall, monotonic, max_entries
        self._claims: dict[str, IdTokenClaims] = {}
        self._paused_until = 0.0

    def known(self, token: str) -> bool:
        """A token verified before and not expired yet: using it calls nobody."""
        return self._cached(token_key(token)) is not None

    def paused_for(self) -> float:
        """Seconds left of LINE's Retry-After (0: verify may be called)."""
        return max(0.0, self._paused_until - self._monotonic())

    async def verify(self, token: str, client_id: str, verify: Verify) -> IdTokenClaims:
        """The token's claims: from the cache, or from `verify` (LINE) and checked here too.
        InvalidIdToken when refused; VerifyPaused while LINE's 429 lasts; other LineApiErrors
        as `verify` raises them."""
        key = token_key(token)
        claims = self._cached(key)
        if claims is None:
            wait = self.paused_for()
            if wait > 0:
                raise VerifyPaused(wait)
            try:
                claims = await verify(token, client_id)
            except Transient as exc:
                if exc.status != 429:
                    raise
                raise VerifyPaused(self._pause(exc.retry_after)) from None
            claims = checked_claims(claims, client_id=client_id, now=self._wall())
            self._keep(key, claims)
        return checked_claims(claims, client_id=client_id, now=self._wall())

    def _cached(self, key: str) -> IdTokenClaims | None:
        claims = self._claims.get(key)
        if claims is not None and claims.exp <= self._wall():
            del self._claims[key]
            return None
        return claims

    def _keep(self, key: str, claims: IdTokenClaims) -> None:
        if key not in self._claims and len(self._claims) >= self._max:
            now = self._wall()
            for old in [k for k, c in self._claims.items() if c.exp <= now]:
                del self._claims[old]
            while len(self._claims) >= self._max:
                del self._claims[next(iter(self._claims))]  # the oldest entry
        self._claims[key] = claims

    def _pause(self, retry_after: float | None) -> float:
        seconds = DEFAULT_PAUSE_S if retry_after is None or not math.isfinite(retry_after) else retry_after
        seconds = min(max(seconds, 1.0), MAX_PAUSE_S)
        if self.paused_for() == 0:
            log.warning("LINE answered 429 to an ID-token verify: new tokens wait",
                        extra={"fields": {"retry_after_s": round(seconds)}})
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)
        return seconds

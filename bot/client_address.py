"""The address a request came from, for per-address limits: the TCP peer, or the entry of
X-Forwarded-For that the last `hops` trusted proxies saw (TRUSTED_PROXY_HOPS; 1 on Heroku)."""
from __future__ import annotations

from aiohttp import web

UNKNOWN = "unknown"


def client_address(request: web.Request, hops: int) -> str:
    """With `hops` trusted proxies in front (each appends the address it saw to
    X-Forwarded-For), the client is the `hops`-th entry from the right; entries further left
    are whatever the client wrote and are never used. With 0, or when the header has fewer
    entries than `hops`, the TCP peer."""
    peer = request.remote or UNKNOWN
    if hops <= 0:
        return peer
    entries = [part.strip() for header in request.headers.getall("X-Forwarded-For", [])
               for part in header.split(",")]
    if len(entries) < hops:
        return peer
    return entries[-hops][:64] or peer

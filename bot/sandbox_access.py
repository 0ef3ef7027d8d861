"""Sandbox-only routes answer loopback clients only (judged from the TCP peer) unless SANDBOX_PUBLIC=1."""
from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

SANDBOX_PREFIX = "/sandbox"  # the chat page, its API and clock, the mounted LINE and MOF simulators
# Outside it: the redirect to the chat page. (The LIFF SDK stand-in, /liff/sdk/shim.js, is a static
# script of the LIFF pages, which answer every client like the pages themselves.)
OTHER_SANDBOX_PATHS = frozenset({"/"})
FORBIDDEN = "sandbox routes answer loopback clients only (SANDBOX_PUBLIC=1 opens them)"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sandbox_only(canonical: str) -> bool:
    """Whether a route (by its resource's canonical path) exists for sandbox mode only. The LIFF
    pages, /callback, /photos/…, /healthz and /metrics are the service's own, in either mode."""
    return canonical in OTHER_SANDBOX_PATHS or canonical == SANDBOX_PREFIX \
        or canonical.startswith(SANDBOX_PREFIX + "/")


def loopback_peer(request: web.Request) -> bool:
    """Whether the TCP peer is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback).
    Headers such as X-Forwarded-For are never consulted: a client can write any of them."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return False  # a Unix socket or a closed connection: nothing says it is local
    try:
        address = ipaddress.ip_address(peer[0].partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a sandbox-only route (judged by the route that matched, so no spelling of the path
    gets around it) requested by a client that is not on this machine."""
    resource = request.match_info.route.resource
    if resource is not None and sandbox_only(resource.canonical) and not loopback_peer(request):
        raise web.HTTPForbidden(text=FORBIDDEN)
    return await handler(request)


def restrict_sandbox_routes(app: web.Application, *, public: bool) -> None:
    """At mount time: unless `public` (SANDBOX_PUBLIC=1), sandbox-only routes answer loopback
    clients only."""
    if not public:
        app.middlewares.append(loopback_only)

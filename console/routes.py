"""The console's route table: each page module declares its routes with `page(...)`, naming the
access it needs; console.site mounts them all and checks that access on every request."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from console.access import Access

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ConsoleRoute:
    method: str
    path: str  # relative to /console/, starting with "/"
    name: str  # the route's name (for `url_for` in templates and the role × route tests)
    access: Access
    handler: Handler
    max_body: int | None = None  # a larger request body than the app's default (uploads)


ROUTES: list[ConsoleRoute] = []


def page(method: str, path: str, *, name: str, access: Access,
         max_body: int | None = None) -> Callable[[Handler], Handler]:
    """Declare a console route and the access it needs (`max_body`: the largest request body
    it takes, in bytes, when not the app's client_max_size)."""
    def register(handler: Handler) -> Handler:
        if any(r.name == name for r in ROUTES):
            raise ValueError(f"console route {name!r} declared twice")
        ROUTES.append(ConsoleRoute(method, path, name, access, handler, max_body))
        return handler
    return register


ROUTE_ACCESS = web.AppKey("console_route_access", dict)  # route name → Access, for the middleware
ROUTE_MAX_BODY = web.AppKey("console_route_max_body", dict)  # route name → bytes, for the middleware

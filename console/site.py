"""The console sub-application: its routes (console.routes) and the middlewares every request
passes: security headers, the signed-in user, the permission table, upload body limits, CSRF on
every POST."""
from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot.appkeys import DATABASE
from console.access import Access, allowed
from console.routes import ROUTE_ACCESS, ROUTE_MAX_BODY, ROUTES, Handler
from console.sessions import COOKIE, USER, resolve

STATIC = Path(__file__).parent / "static"
# No inline script and no script from elsewhere; the console's own files only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response


def _access(request: web.Request) -> Access:
    resource = request.match_info.route.resource
    name = resource.name if resource is not None else None
    # A route outside the table (a 404, the static files) needs nothing more than public access.
    return request.app[ROUTE_ACCESS].get(name, Access.PUBLIC)


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the session cookie, then apply the route's access: no session → the sign-in page
    (or 401 for a POST); a role without the access → 403."""
    resource = request.match_info.route.resource
    if resource is not None and resource.name == "static":
        return await handler(request)
    user = await resolve(request.config_dict[DATABASE], request.cookies.get(COOKIE))
    request[USER] = user
    access = _access(request)
    if allowed(user.role if user is not None else None, access):
        return await handler(request)
    if user is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(f"/console/login?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="請先登入")
    from console.templating import render

    return render(request, "forbidden.html", status=403)


def _too_large(limit: int) -> web.HTTPRequestEntityTooLarge:
    megabytes = max(1, limit // (1024 * 1024))
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=limit + 1,
                                         text=f"上傳的檔案太大，上限為 {megabytes} MB")


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Upload routes take a larger body than the app's client_max_size, up to their own limit;
    a larger one is refused with 413 before it is read (or as soon as reading passes the limit)."""
    resource = request.match_info.route.resource
    limit = request.app[ROUTE_MAX_BODY].get(resource.name if resource is not None else None)
    if limit is None:
        return await handler(request)
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    try:
        return await handler(request.clone(client_max_size=limit))
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(limit) from None


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every POST carries the session's CSRF token (form field `csrf_token` or the
    `X-CSRF-Token` header); sign-in forms check their own pre-session token (console.pages.auth)."""
    if request.method != "POST" or _access(request) is Access.PUBLIC:
        return await handler(request)
    user = request[USER]
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = (await request.post()).get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise web.HTTPForbidden(text="CSRF 驗證失敗，請重新整理頁面後再試")
    return await handler(request)


def build_console() -> web.Application:
    import console.pages  # noqa: F401 - each page module declares its routes

    app = web.Application(middlewares=[security_headers, signed_in, body_limit, csrf])
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app[ROUTE_ACCESS] = {route.name: route.access for route in ROUTES}
    app[ROUTE_MAX_BODY] = {route.name: route.max_body for route in ROUTES if route.max_body is not None}
    app.router.add_static("/static/", STATIC, name="static")
    return app

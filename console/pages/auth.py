"""Sign-in and sign-out: the password form, the one-time link, the sandbox's one-click admin.
The pre-session CSRF token is a random cookie the form echoes; every success opens a NEW
session (whatever cookie the browser brought is ended, never reused)."""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from bot.accounts.login_links import LinkExpired, LinkUnusable, peek_login_link, redeem_login_link
from bot.accounts.signin import SignedIn, SignInFailed, TooManyAttempts, sign_in, sign_in_as, sign_out
from bot.appkeys import CONFIG, DATABASE
from bot.client_address import client_address
from bot.sandbox_access import loopback_peer
from bot.sandbox_chat.demo import DEMO_ADMIN
from console.access import Access
from console.routes import page
from console.sessions import LOGIN_CSRF, LOGIN_CSRF_COOKIE, USER, clear_cookie, close_session, set_cookie
from console.templating import render

HOME = "/console/"
FAILED = "帳號或密碼錯誤。"
LIMITED = "登入嘗試次數過多，請稍後再試（約 1 分鐘）。"
STALE = "頁面已過期，請重新登入。"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a same-site path under /console/ (else the home)."""
    if not value or "\\" in value or any(ord(c) < 0x20 for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(HOME) or value.startswith("//"):
        return HOME
    return value


def _login_token(request: web.Request) -> str:
    """This browser's pre-session CSRF token (kept if it looks like ours, else a new one)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(32)
    request[LOGIN_CSRF] = token
    return token


def _with_login_token(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    response.set_cookie(LOGIN_CSRF_COOKIE, request[LOGIN_CSRF], path=HOME, httponly=True, samesite="Strict",
                        secure=request.config_dict[CONFIG].base_url.startswith("https://"))
    return response


async def _login_csrf_ok(request: web.Request) -> bool:
    """The form's csrf_token equals the pre-session cookie, or for a browser already signed in
    the session's token (the one csrf_input() wrote); constant-time."""
    user = request.get(USER)
    expected = user.csrf_token if user is not None else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = (await request.post()).get("csrf_token")
    return bool(expected) and isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


def _login_page(request: web.Request, *, status: int = 200, error: str | None = None, username: str = "",
                next_path: str = HOME) -> web.StreamResponse:
    _login_token(request)
    sandbox = bool(request.config_dict[CONFIG].sandbox)
    return _with_login_token(request, render(request, "login.html", status=status, error=error, username=username,
                                             next_path=next_path, sandbox=sandbox))


async def _signed_in(request: web.Request, signed: SignedIn, next_path: str) -> web.StreamResponse:
    """Redirect with the new session's cookie; the session the browser brought (if any) ends."""
    previous = request.get(USER)
    if previous is not None:
        await close_session(request.config_dict[DATABASE], previous.session_id)
    response = _see_other(safe_next(next_path))
    set_cookie(request, response, signed.token)
    response.del_cookie(LOGIN_CSRF_COOKIE, path=HOME)
    return response


def _see_other(location: str) -> web.Response:
    """A 303 returned (not raised), so the cookies set on it are sent."""
    return web.Response(status=303, headers={"Location": location})


@page("GET", "/login", name="login", access=Access.PUBLIC)
async def login_form(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if request.get(USER) is not None:
        raise web.HTTPSeeOther(next_path)
    return _login_page(request, next_path=next_path)


@page("POST", "/login", name="login_submit", access=Access.PUBLIC)
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))[:100]
    next_path = safe_next(str(form.get("next", "")))
    if not await _login_csrf_ok(request):
        return _login_page(request, status=403, error=STALE, username=username, next_path=next_path)
    config = request.config_dict[CONFIG]
    try:
        signed = await sign_in(request.config_dict[DATABASE], username, str(form.get("password", "")),
                               client_address(request, config.trusted_proxy_hops))
    except TooManyAttempts:
        return _login_page(request, status=429, error=LIMITED, username=username, next_path=next_path)
    except SignInFailed:
        return _login_page(request, status=401, error=FAILED, username=username, next_path=next_path)
    return await _signed_in(request, signed, next_path)


@page("POST", "/logout", name="logout", access=Access.SIGNED_IN)
async def logout(request: web.Request) -> web.StreamResponse:
    await sign_out(request.config_dict[DATABASE], request[USER])
    response = _see_other(str(request.app.router["login"].url_for()))
    clear_cookie(response)
    return response


@page("GET", "/login-link/{token}", name="login_link", access=Access.PUBLIC)
async def login_link_page(request: web.Request) -> web.StreamResponse:
    """The link only shows a button: previews and link scanners that fetch it do not use it up."""
    state = await peek_login_link(request.config_dict[DATABASE], request.match_info["token"])
    _login_token(request)
    return _with_login_token(request, render(request, "login_link.html", status=200 if state.usable else 410,
                                             state=state))


@page("POST", "/login-link/{token}", name="login_link_use", access=Access.PUBLIC)
async def login_link_use(request: web.Request) -> web.StreamResponse:
    if not await _login_csrf_ok(request):
        return _login_page(request, status=403, error=STALE)
    try:
        signed = await redeem_login_link(request.config_dict[DATABASE], request.match_info["token"])
    except (LinkExpired, LinkUnusable):
        state = await peek_login_link(request.config_dict[DATABASE], request.match_info["token"])
        _login_token(request)
        return _with_login_token(request, render(request, "login_link.html", status=410, state=state))
    return await _signed_in(request, signed, HOME)


@page("POST", "/sandbox-login", name="sandbox_login", access=Access.PUBLIC)
async def sandbox_login(request: web.Request) -> web.StreamResponse:
    """Sandbox mode only (404 otherwise), loopback clients only unless SANDBOX_PUBLIC=1: one click
    signs in as the sandbox's 管理員."""
    config = request.config_dict[CONFIG]
    if not config.sandbox:
        raise web.HTTPNotFound()
    if not config.sandbox_public and not loopback_peer(request):
        raise web.HTTPForbidden(text="sandbox routes answer loopback clients only (SANDBOX_PUBLIC=1 opens them)")
    if not await _login_csrf_ok(request):
        return _login_page(request, status=403, error=STALE)
    signed = await sign_in_as(request.config_dict[DATABASE], DEMO_ADMIN, "sandbox")
    if signed is None:
        raise web.HTTPNotFound(text=f"沙盒管理員 {DEMO_ADMIN} 不存在")
    return await _signed_in(request, signed, safe_next(str((await request.post()).get("next", ""))))

"""The console's side of sessions: the request key of the signed-in user and the cookie. The
sessions themselves (database rows behind an opaque token) live in bot.accounts.sessions."""
from __future__ import annotations

from aiohttp import web

from bot.accounts.sessions import IDLE, LIFETIME, ConsoleUser, close_session, open_session, resolve

__all__ = ["COOKIE", "IDLE", "LIFETIME", "LOGIN_CSRF", "LOGIN_CSRF_COOKIE", "USER", "ConsoleUser", "clear_cookie", "close_session", "open_session",
           "resolve", "set_cookie"]

COOKIE = "console_session"
USER = web.RequestKey("console_user", ConsoleUser | None)  # the signed-in user of a request, or None
# The pre-session CSRF token of the sign-in forms (a cookie of the same name; csrf_input() writes it).
LOGIN_CSRF_COOKIE = "console_login_csrf"
LOGIN_CSRF = web.RequestKey(LOGIN_CSRF_COOKIE, str)


def _secure(request: web.Request) -> bool:
    from bot.appkeys import CONFIG

    return request.config_dict[CONFIG].base_url.startswith("https://")


def set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """HttpOnly, SameSite=Lax, scoped to /console/, Secure when the service is served over https.
    A session cookie (no Max-Age): the server ends the session anyway (idle, lifetime)."""
    response.set_cookie(COOKIE, token, path="/console/", httponly=True, samesite="Lax", secure=_secure(request))


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console/")

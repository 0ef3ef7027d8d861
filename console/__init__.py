"""The marketers' web console: server-rendered zh-TW pages under /console/, mounted by
`setup_console(app)` (the only name bot/ uses from this package). No business rule lives here:
the pages call the service layer that admin_cli uses too (bot.campaigns.store, …)."""
from __future__ import annotations

from aiohttp import web

__all__ = ["setup_console"]

PREFIX = "/console/"


def setup_console(app: web.Application) -> None:
    """Mount the console as a sub-application at /console/ (its own middlewares: security
    headers, the signed-in user, the one permission table, CSRF)."""
    from console.site import build_console

    app.add_subapp(PREFIX, build_console())

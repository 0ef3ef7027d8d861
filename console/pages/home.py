"""The console's front door: /console/ goes to the campaign list (or says there is nothing to see)."""
from __future__ import annotations

from aiohttp import web

from console.access import Access, allowed
from console.routes import page
from console.sessions import USER
from console.templating import render


@page("GET", "/", name="home", access=Access.SIGNED_IN)
async def home(request: web.Request) -> web.StreamResponse:
    user = request[USER]
    if allowed(user.role, Access.VIEW) and "campaigns" in request.app.router:
        raise web.HTTPSeeOther(str(request.app.router["campaigns"].url_for()))
    return render(request, "home.html")

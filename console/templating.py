"""The console's Jinja2 templates (autoescaped) and `render`, which gives every page the user,
the CSRF field and the navigation."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from console.access import Access, allowed
from console.sessions import LOGIN_CSRF, USER
from flows.einvoice.note_labels import label as note_label

TEMPLATES = Path(__file__).parent / "templates"
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["note_label"] = note_label


def plain_number(value: Any) -> str:
    """A quantity or price as people write it: 1.0000 → 1, 78.5000 → 78.5 (MOF sends 4 places)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{number.normalize():f}" if number else "0"


ENV.filters["plain_number"] = plain_number


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """An HTML page; `csrf_input()` in a form writes the hidden CSRF field."""
    user = request.get(USER)

    def csrf_input() -> Markup:
        token = user.csrf_token if user is not None else request.get(LOGIN_CSRF, "")
        return Markup(f'<input type="hidden" name="csrf_token" value="{escape(token)}">')

    def may(access: str) -> bool:
        return allowed(user.role if user is not None else None, Access[access.upper()])

    html = ENV.get_template(template).render(user=user, csrf_input=csrf_input, may=may,
                                              url=lambda name, **parts: url(request, name, **parts), **context)
    return web.Response(text=html, status=status, content_type="text/html")


def url(request: web.Request, name: str, **parts: Any) -> str:
    """The path of a named console route."""
    return str(request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()}))

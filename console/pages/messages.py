"""A campaign's messages: the seven system texts (read-only) and the five custom messages, each
edited in form mode (title, text, image, buttons, `{variable}` markers) or as the raw template,
with a live preview drawn by the sandbox's flex renderer (served here as /console/line-flex.js)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.appkeys import CONFIG, DATABASE
from bot.campaigns.messages import (
    CHECKED_TEXTS,
    UNCHECKED_LABEL,
    TemplateCheck,
    TemplateRefused,
    check_templates,
    preview_messages,
    preview_values,
    save_template,
    saved_template,
)
from bot.campaigns.store import CampaignNotFound, CampaignStore, CampaignView
from bot.storage.models import utcnow
from console.access import Access
from console.routes import page
from console.sessions import USER
from console.templating import render
from flows.campaigns.roles import PermissionDenied
from flows.messages.custom import CustomKind
from flows.messages.form import BUTTONS_MAX, FormButton, MessageForm, default_form, form_errors, form_of, generate
from flows.messages.form import url_variables
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.system import SystemKind, system_text

SAMPLE_INVOICE = InvoiceFacts("AB12345678", dt.date(2024, 1, 1), "1234")
SAMPLE_MAX = 200
UPLOAD_BUTTONS = ("拍照上傳", "手動上傳", "電子載具")


async def _campaign(request: web.Request) -> CampaignView:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text="找不到此活動")
    try:
        return await CampaignStore(request.config_dict[DATABASE]).get(int(raw), utcnow())
    except CampaignNotFound:
        raise web.HTTPNotFound(text="找不到此活動") from None


@page("GET", r"/campaigns/{id:\d{1,18}}/messages", name="campaign_messages", access=Access.VIEW)
async def messages(request: web.Request) -> web.StreamResponse:
    return await _list(request, await _campaign(request))


async def _list(request: web.Request, view: CampaignView, *, status: int = 200,
                checks: list[TemplateCheck] | None = None) -> web.Response:
    db = request.config_dict[DATABASE]
    custom = [(kind, await saved_template(db, view.id, kind)) for kind in CustomKind]
    system = [(kind.label, system_text(kind, SAMPLE_INVOICE), UPLOAD_BUTTONS if kind.has_upload_buttons else ())
              for kind in SystemKind]
    return render(request, "messages/list.html", status=status, campaign=view, system=system, custom=custom,
                  unchecked=UNCHECKED_LABEL, checks=[(c.kind.label, _check_text(c)) for c in checks or ()])


def _check_text(check: TemplateCheck) -> str:
    if check.outcome == "refused":
        return f"LINE 不接受：{check.reason}"
    return CHECKED_TEXTS[check.outcome]


@page("POST", r"/campaigns/{id:\d{1,18}}/messages/check", name="campaign_messages_check", access=Access.EDIT)
async def check_messages(request: web.Request) -> web.StreamResponse:
    """向 LINE 驗證: the campaign's messages saved while LINE could not be reached, asked again."""
    view = await _campaign(request)
    checks = await check_templates(request.config_dict[DATABASE], request.config_dict[CONFIG],
                                   request[USER].actor, utcnow(), campaign_id=view.id)
    return await _list(request, view, checks=checks)


# --- one custom message ------------------------------------------------------------------------


def _form_from(data: MultiDictProxy[Any]) -> MessageForm:
    buttons = []
    for i in range(1, BUTTONS_MAX + 1):
        label, url = str(data.get(f"button-{i}-label", "")), str(data.get(f"button-{i}-url", ""))
        if label.strip() or url.strip():
            buttons.append(FormButton(label, url))
    return MessageForm(str(data.get("title", "")), str(data.get("body", "")).replace("\r\n", "\n"),
                       str(data.get("image_url", "")).strip(), tuple(buttons))


def _samples(kind: CustomKind, data: MultiDictProxy[Any]) -> dict[str, Any]:
    """The marketer's sample values (sample-NAME fields): numbers stay numbers."""
    values: dict[str, Any] = {}
    for variable in kind.variables:
        raw = data.get(f"sample-{variable.name}")
        if raw is None:
            continue
        text = str(raw)[:SAMPLE_MAX]
        values[variable.name] = int(text) if isinstance(variable.sample, int) and text.isdigit() else text
    return values


def _draft(kind: CustomKind, data: MultiDictProxy[Any]) -> dict[str, Any]:
    """What the page was sent, to show again as it was typed."""
    return {"mode": "advanced" if data.get("mode") == "advanced" else "form", "form": _form_from(data),
            "source": str(data.get("source", "")).replace("\r\n", "\n"),
            "alt_text": str(data.get("alt_text", "")), "samples": _samples(kind, data)}


async def _editor(request: web.Request, kind: CustomKind, view: CampaignView, draft: dict[str, Any], *,
                  status: int = 200, errors: dict[str, str] | None = None, saved: str | None = None,
                  hand_edited: bool = False) -> web.Response:
    samples = await preview_values(request.config_dict[DATABASE], view.id, kind, draft["samples"])
    return render(request, "messages/edit.html", status=status, campaign=view, kind=kind, draft=draft,
                  errors=errors or {}, saved=saved, samples=samples, buttons_max=BUTTONS_MAX,
                  links=url_variables(kind), hand_edited=hand_edited)


def _edit_page(kind: CustomKind) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def show(request: web.Request) -> web.StreamResponse:
        view = await _campaign(request)
        row = await saved_template(request.config_dict[DATABASE], view.id, kind)
        form = form_of(kind, row.source) if row else default_form(kind)
        draft = {"mode": "form" if form else "advanced", "form": form or default_form(kind),
                 "source": row.source if row else kind.defaults[0].bubble,
                 "alt_text": (row.alt_text or "") if row else "", "samples": {}}
        checked = request.query.get("saved")
        return await _editor(request, kind, view, draft, saved=CHECKED_TEXTS.get(checked or ""),
                             hand_edited=row is not None and form is None)

    return show


def _refusal_errors(mode: str, refused: TemplateRefused) -> dict[str, str]:
    """The reasons, beside the field they belong to."""
    if refused.field != "template":
        return {refused.field: "；".join(refused.errors)}
    if mode == "form":
        return {"form": "；".join(refused.errors)}
    errors: dict[str, list[str]] = {}
    for error in refused.errors:
        errors.setdefault("alt_text" if error.startswith("alt_text:") else "source", []).append(error)
    return {field: "；".join(texts) for field, texts in errors.items()}


def _save_page(kind: CustomKind) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def save(request: web.Request) -> web.StreamResponse:
        view = await _campaign(request)
        draft = _draft(kind, await request.post())
        if draft["mode"] == "form":
            errors = form_errors(kind, draft["form"])
            if errors:
                return await _editor(request, kind, view, draft, status=422, errors=errors)
            generated = generate(kind, draft["form"])
            source, alt_text = generated.source, generated.alt_text
        else:
            source, alt_text = draft["source"], draft["alt_text"].strip() or None
        try:
            checked = await save_template(request.config_dict[DATABASE], request.config_dict[CONFIG],
                                          request[USER].actor, view.id, kind, source, alt_text, utcnow())
        except TemplateRefused as refused:
            return await _editor(request, kind, view, draft, status=422, errors=_refusal_errors(draft["mode"], refused))
        except PermissionDenied as denied:
            return await _editor(request, kind, view, draft, status=403, errors={"status": str(denied)})
        location = request.app.router[f"message_{kind.value}"].url_for(id=str(view.id))
        raise web.HTTPSeeOther(f"{location}?saved={checked}")

    return save


def _preview_page(kind: CustomKind) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def preview(request: web.Request) -> web.StreamResponse:
        view = await _campaign(request)
        draft = _draft(kind, await request.post())
        values = await preview_values(request.config_dict[DATABASE], view.id, kind, draft["samples"])
        if draft["mode"] == "form":
            errors = form_errors(kind, draft["form"])
            if errors:
                return web.json_response({"errors": errors}, status=422)
            generated = generate(kind, draft["form"])
            source, alt_text = generated.source, generated.alt_text
        else:
            source, alt_text = draft["source"], draft["alt_text"].strip() or None
        messages, problems = preview_messages(kind, source, alt_text, values)
        if problems:
            return web.json_response({"errors": {"source" if draft["mode"] == "advanced" else "form": "；".join(problems)}},
                                     status=422)
        return web.json_response({"messages": messages, "source": source, "alt_text": alt_text or ""},
                                 dumps=lambda value: json.dumps(value, ensure_ascii=False))

    return preview


for _kind in CustomKind:
    _path = rf"/campaigns/{{id:\d{{1,18}}}}/messages/{_kind.value}"
    page("GET", _path, name=f"message_{_kind.value}", access=Access.VIEW)(_edit_page(_kind))
    page("POST", _path, name=f"message_{_kind.value}_save", access=Access.EDIT)(_save_page(_kind))
    page("POST", _path + "/preview", name=f"message_{_kind.value}_preview", access=Access.VIEW)(_preview_page(_kind))


# --- the shared flex renderer ------------------------------------------------------------------


def _flex_asset(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def asset(_request: web.Request) -> web.StreamResponse:
        text = resources.files("bot.sandbox_chat").joinpath(name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=content_type, charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    return asset


# The sandbox chat's flex renderer (bot/sandbox_chat/flex.js and flex.css): the same files, served
# here too because the sandbox's routes answer only in sandbox mode and only on loopback.
page("GET", "/line-flex.js", name="line_flex_js", access=Access.PUBLIC)(_flex_asset("flex.js", "text/javascript"))
page("GET", "/line-flex.css", name="line_flex_css", access=Access.PUBLIC)(_flex_asset("flex.css", "text/css"))

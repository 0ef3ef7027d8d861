"""A campaign's triggers page: keyword triggers (add, remove), their card links and QR codes
(PNG, SVG), and what the channel's rich menu and bot modules send for the campaign."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import DATABASE
from bot.campaigns import triggers as stored
from bot.campaigns.store import CampaignView
from bot.storage.models import utcnow
from console.access import Access
from console.pages.campaign_uploads import campaign_of
from console.routes import page
from console.sessions import USER
from console.templating import render, url
from flows.campaigns.roles import PermissionDenied
from flows.conversation.triggers import TriggerKind, keyword_link

_DONE = {"added": "已新增關鍵字。", "removed": "已移除觸發方式。"}


async def _page(request: web.Request, view: CampaignView, *, status: int = 200,
                errors: dict[str, str] | None = None, keyword: str = "") -> web.Response:
    async with request.config_dict[DATABASE].session() as session:
        rows = await stored.list_triggers(session, view.id)
        basic_id = await stored.channel_basic_id(session, view.id)
    keywords = [(row, _link(basic_id, row.value)) for row in rows if row.is_keyword]
    return render(request, "campaign_triggers.html", status=status, campaign=view, errors=errors or {},
                  keyword=keyword, keywords=keywords, basic_id=basic_id,
                  postbacks=[r for r in rows if r.kind is TriggerKind.POSTBACK],
                  modules=[r for r in rows if r.kind is TriggerKind.BOT_MODULE],
                  notice=_DONE.get(request.query.get("done", "")))


def _link(basic_id: str | None, keyword: str) -> str | None:
    """The keyword's card link, or None without a (well-formed) basic ID on the channel."""
    try:
        return keyword_link(basic_id, keyword) if basic_id else None
    except ValueError:
        return None


def _clash_message(clash: stored.TriggerClash, campaign_id: int) -> str:
    if clash.campaign_id == campaign_id:
        return "關鍵字：此活動已有這個關鍵字"
    return f"關鍵字：已用於同一個 LINE 官方帳號的活動「{clash.campaign_name}」（ID {clash.campaign_id}）"


@page("GET", r"/campaigns/{id:\d{1,18}}/triggers", name="campaign_triggers", access=Access.VIEW)
async def triggers(request: web.Request) -> web.StreamResponse:
    return await _page(request, await campaign_of(request))


@page("POST", r"/campaigns/{id:\d{1,18}}/triggers", name="campaign_trigger_add", access=Access.EDIT)
async def add_keyword(request: web.Request) -> web.StreamResponse:
    view = await campaign_of(request)
    keyword = str((await request.post()).get("keyword", ""))
    error = None
    try:
        async with request.config_dict[DATABASE].session() as session, session.begin():
            await stored.add_trigger(session, request[USER].actor, view.id, TriggerKind.KEYWORD_EXACT, keyword,
                                     utcnow())
    except stored.TriggerClash as clash:
        error = _clash_message(clash, view.id)
    except PermissionDenied as refused:
        error = str(refused)
    except stored.CampaignMissing:
        raise web.HTTPNotFound(text="找不到此活動") from None
    except ValueError as invalid:
        error = ("關鍵字：最多 300 個字元" if "longer" in str(invalid) else "關鍵字：請輸入關鍵字（需含可見的字元）")
    if error:
        return await _page(request, view, status=422, errors={"keyword": error}, keyword=keyword)
    raise web.HTTPSeeOther(url(request, "campaign_triggers", id=view.id) + "?done=added")


@page("POST", r"/campaigns/{id:\d{1,18}}/triggers/{trigger_id:\d{1,18}}/remove", name="campaign_trigger_remove",
      access=Access.EDIT)
async def remove(request: web.Request) -> web.StreamResponse:
    view = await campaign_of(request)
    try:
        async with request.config_dict[DATABASE].session() as session, session.begin():
            await stored.remove_trigger(session, request[USER].actor, int(request.match_info["trigger_id"]),
                                 campaign_id=view.id, now=utcnow())
    except stored.TriggerMissing:
        raise web.HTTPNotFound(text="找不到此觸發方式") from None
    raise web.HTTPSeeOther(url(request, "campaign_triggers", id=view.id) + "?done=removed")


async def _keyword_link(request: web.Request) -> tuple[stored.TriggerRow, str]:
    view = await campaign_of(request)
    wanted = int(request.match_info["trigger_id"])
    async with request.config_dict[DATABASE].session() as session:
        rows = await stored.list_triggers(session, view.id)
        row = next((r for r in rows if r.id == wanted and r.is_keyword), None)
        if row is None:
            raise web.HTTPNotFound(text="找不到此關鍵字")
        try:
            return row, await stored.campaign_keyword_link(session, view.id, row.value)
        except stored.NoKeywordLink:  # no basic ID on the channel yet: 409, the request is fine, the channel is not
            raise web.HTTPConflict(text="此 LINE 官方帳號尚未設定 basic ID，無法產生關鍵字連結與 QR code") from None


def _download(body: bytes, content_type: str, row: stored.TriggerRow, ext: str) -> web.Response:
    headers: dict[str, Any] = {"Content-Disposition": f'attachment; filename="keyword-{row.id}-qr.{ext}"',
                               "Cache-Control": "no-store"}
    return web.Response(body=body, content_type=content_type, headers=headers)


@page("GET", r"/campaigns/{id:\d{1,18}}/triggers/{trigger_id:\d{1,18}}/qr.png", name="campaign_trigger_qr_png",
      access=Access.VIEW)
async def qr_code_png(request: web.Request) -> web.StreamResponse:
    row, link = await _keyword_link(request)
    return _download(stored.qr_png(link), "image/png", row, "png")


@page("GET", r"/campaigns/{id:\d{1,18}}/triggers/{trigger_id:\d{1,18}}/qr.svg", name="campaign_trigger_qr_svg",
      access=Access.VIEW)
async def qr_code_svg(request: web.Request) -> web.StreamResponse:
    row, link = await _keyword_link(request)
    return _download(stored.qr_svg(link), "image/svg+xml", row, "svg")

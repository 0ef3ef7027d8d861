"""活動資訊: a campaign's settings summary, the six figures of SPEC §8, the uploads-per-day chart
(server-rendered SVG), the participant list with photo thumbnails and the code reader's notes,
both exports as streamed downloads, and the winner draw of a list-only campaign — all through
the service layer."""
from __future__ import annotations

import asyncio
import math

from aiohttp import web

from bot.appkeys import CONFIG, DATABASE
from bot.campaigns.day_chart import day_chart
from bot.campaigns.exports import ExportFormat, ExportKind, count_rows, export
from bot.campaigns.stats import (
    COUNT_CAP,
    PAGE_MAX,
    CampaignStats,
    DayCounts,
    ParticipantPage,
    ParticipantSort,
    campaign_stats,
    participants,
    uploads_per_day,
)
from bot.campaigns.winner_draw import DrawRefused, PastDraw, draw_winners, past_draws
from bot.photos import export_photo_linker, photo_linker
from bot.privacy.keys import link_generation
from bot.storage import audit
from bot.storage.models import utcnow
from console.access import Access
from console.downloads import Chunks, start_download
from console.pages.campaigns import _campaign_id, _existing, _store, _summary
from console.participant_query import PER_PAGE, read_query
from console.routes import page
from console.sessions import USER
from console.templating import render
from flows.campaigns.dates import in_taipei
from flows.campaigns.describe import editable_text
from flows.campaigns.lottery import SEED_MAX, LotteryError, new_seed
from flows.campaigns.roles import PermissionDenied
from flows.campaigns.rules import UploadStatus
from flows.campaigns.settings import RewardTiming
from flows.einvoice.model import InvoiceSource

assert PER_PAGE <= PAGE_MAX
_CONTENT_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8",
                  ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
WINNERS_MAX = 1000


@page("GET", r"/campaigns/{id:\d{1,18}}/info", name="campaign_info", access=Access.VIEW)
async def campaign_info(request: web.Request) -> web.StreamResponse:
    return await _info_page(request)


async def _info_page(request: web.Request, *, status: int = 200, draw_errors: dict[str, str] | None = None,
                     draw_values: dict[str, str] | None = None) -> web.Response:
    store, config = _store(request), request.config_dict[CONFIG]
    view = await _existing(store, _campaign_id(request))
    query = read_query(request.query)
    now, db = utcnow(), request.config_dict[DATABASE]
    list_only = view.settings.conditions.reward_timing is RewardTiming.LIST_ONLY

    async def figures() -> CampaignStats:
        async with db.session() as session:
            return await campaign_stats(session, view.id)

    async def days() -> list[DayCounts]:
        async with db.session() as session:
            return await uploads_per_day(session, view.id)

    async def listing() -> tuple[ParticipantPage, list[PastDraw]]:
        async with db.session() as session, session.begin():
            # fresh same-origin photo links on every view, good for PHOTO_LINK_TTL_DAYS
            link = photo_linker(config, generation=await link_generation(session), now=now, base="")
            listed = await participants(session, view.id, where=query.where, sort=query.sort,
                                        descending=query.descending, limit=PER_PAGE,
                                        offset=(query.page - 1) * PER_PAGE, photo_link=link, count_cap=COUNT_CAP)
            return listed, (await past_draws(session, view.id) if list_only else [])

    # three connections at once: on a campaign of a million uploads each part is a scan of its own
    numbers, per_day, (listed, draws) = await asyncio.gather(figures(), days(), listing())
    path = f"/console/campaigns/{view.id}/info"
    return render(request, "campaigns/info.html", status=status, view=view, summary=_summary(view.settings),
                  editable=editable_text(view.status), pool=await store.coupon_pool(view.id),
                  numbers=numbers, chart=day_chart(per_day), listed=listed, query=query, path=path,
                  pages=max(1, math.ceil(min(listed.total, COUNT_CAP) / PER_PAGE)), Sort=ParticipantSort,
                  count_cap=COUNT_CAP, more=listed.more_than(COUNT_CAP),
                  statuses=list(UploadStatus), sources=list(InvoiceSource), local=in_taipei,
                  kinds=list(ExportKind), formats=list(ExportFormat), list_only=list_only, draws=draws,
                  request_query=request.query, draw_errors=draw_errors or {}, draw_values=draw_values or {"count": "1"})


# --- downloads -------------------------------------------------------------------------------------

@page("GET", r"/campaigns/{id:\d{1,18}}/export", name="campaign_export", access=Access.VIEW)
async def download_export(request: web.Request) -> web.StreamResponse:
    """?kind=participants|items&format=csv|xlsx (default 參加名單, CSV): the export streamed as it
    is written; audited before the first byte, so an interrupted download is on record too."""
    kind = next((k for k in ExportKind if k.value == request.query.get("kind", "participants")), None)
    fmt = next((f for f in ExportFormat if f.value == request.query.get("format", "csv")), None)
    if kind is None or fmt is None:
        raise web.HTTPNotFound(text="沒有這種匯出檔")
    view = await _existing(_store(request), _campaign_id(request))
    actor, db, now = request[USER].actor, request.config_dict[DATABASE], utcnow()
    async with db.session() as session, session.begin():
        rows = await count_rows(session, view.id, kind)
        audit.record(session, action="campaign.export", target=f"campaign:{view.id}", actor=actor, at=now,
                     kind=kind.value, format=fmt.value, rows=rows, via="console")
    stamp = in_taipei(now).strftime("%Y%m%d-%H%M")
    response = await start_download(
        request, name=f"{kind.label}-活動{view.id}-{stamp}.{fmt.value}",
        fallback=f"campaign-{view.id}-{kind.value}-{stamp}.{fmt.value}", content_type=_CONTENT_TYPES[fmt])
    out = Chunks()

    async def drain() -> None:
        data = out.take()
        if data:
            await response.write(data)

    async with db.session() as session, session.begin():
        link = await export_photo_linker(session, request.config_dict[CONFIG], view.id, now)
        try:
            await export(session, view.id, kind, fmt, out, actor=actor, photo_link=link, drain=drain)
        except PermissionDenied:  # not reached: the route needs 檢視 as export does
            raise web.HTTPForbidden() from None
    await drain()
    await response.write_eof()
    return response


# --- the winner draw ---------------------------------------------------------------------------------

@page("POST", r"/campaigns/{id:\d{1,18}}/lottery", name="campaign_lottery", access=Access.EDIT)
async def lottery(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {"count": str(form.get("count", "")).strip(), "seed": str(form.get("seed", "")).strip(),
              "one_per_user": "1" if form.get("one_per_user") else ""}
    errors: dict[str, str] = {}
    count = int(values["count"]) if values["count"].isdigit() and len(values["count"]) < 6 else 0
    if not 1 <= count <= WINNERS_MAX:
        errors["count"] = f"請輸入 1～{WINNERS_MAX} 的整數"
    seed = new_seed()
    if values["seed"]:
        if values["seed"].isdigit() and len(values["seed"]) < 20 and int(values["seed"]) <= SEED_MAX:
            seed = int(values["seed"])
        else:
            errors["seed"] = f"種子須為 0～{SEED_MAX} 的整數，或留空由系統產生"
    if not errors:
        store = _store(request)
        view = await _existing(store, _campaign_id(request))
        try:
            async with request.config_dict[DATABASE].session() as session, session.begin():
                await draw_winners(session, view, count, seed, one_per_user=bool(values["one_per_user"]),
                                   actor=request[USER].actor, now=utcnow())
        except (DrawRefused, LotteryError) as exc:
            errors["count"] = _draw_refusal(exc)
        except PermissionDenied:
            raise web.HTTPForbidden() from None
    if errors:
        return await _info_page(request, status=422, draw_errors=errors, draw_values=values)
    raise web.HTTPSeeOther(f"/console/campaigns/{_campaign_id(request)}/info?drawn=1#lottery")


_REFUSALS = {DrawRefused.NOTHING_TO_DRAW: "此活動還沒有「通過」的發票可以抽獎",
             DrawRefused.NOT_LIST_ONLY: f"抽獎只適用於「{RewardTiming.LIST_ONLY.label}」的活動"}


def _draw_refusal(exc: Exception) -> str:
    return _REFUSALS.get(getattr(exc, "reason", ""), str(exc))

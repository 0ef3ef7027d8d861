"""活動列表 and the campaign editor: list, create, edit, publish, pause, copy and delete campaigns
through the CampaignStore (which checks status and role and audits the signed-in user)."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from aiohttp import web

from bot.appkeys import DATABASE
from bot.campaigns.coupons import PoolCount
from bot.campaigns.store import CampaignNotFound, CampaignStore, CampaignView
from bot.storage.models import utcnow
from console.access import Access
from console.campaign_form import (
    FORM,
    REVIEW_NUMBERS,
    REVIEW_OFFERED,
    Values,
    blank_block,
    blank_tier,
    blank_values,
    errors_by_field,
    settings_dict,
    values_from_form,
    values_from_settings,
)
from console.routes import page
from console.sessions import USER
from console.templating import render
from flows.campaigns.dates import earliest_issue_date_start, issue_date_months_back, today_in_taipei
from flows.campaigns.describe import coupon_text, review_lines, scope_text, tier_lines, when
from flows.campaigns.errors import CampaignSettingsError, FieldError
from flows.campaigns.lifecycle import (
    LIST_ACTIONS,
    ActionRefused,
    CampaignStatus,
    ListAction,
    SettingsAction,
    is_editable,
)
from flows.campaigns.roles import PermissionDenied, can
from flows.campaigns.settings import CampaignSettings
from flows.campaigns.validate import REVIEW_LIMITS
from flows.messages.custom import CustomKind
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.system import SystemKind, system_text

PAGE_SIZE = 20
#: What each of 審核's numbers does, under its label (flows.campaigns.validate.REVIEW_LIMITS).
REVIEW_HINTS = {
    "hold_days": "開啟保留時，沒有防弊訊號的通過發票於幾天後自動送獎",
    "photo_distance_max": "相同照片：與其他使用者的照片雜湊相差不超過此位元數即標記",
    "carrier_users_max": "共用載具：同一手機條碼被超過此人數的 LINE 使用者匯入即標記",
    "carriers_per_user_max": "多個載具：一位 LINE 使用者匯入超過此數量的載具即標記",
    "burst_uploads": "短時間大量上傳：下一欄的分鐘數內上傳超過此張數即標記",
    "burst_minutes": "短時間大量上傳的計算時間",
    "appeals_per_user": "每位 LINE 使用者在本活動可回報問題的次數；0 表示不提供「回報問題」按鈕",
}
SAMPLE_INVOICE = InvoiceFacts("AB12345678", dt.date(2024, 1, 1), "1234")  # fills the 2 texts that show one


def _store(request: web.Request) -> CampaignStore:
    return CampaignStore(request.config_dict[DATABASE])


def _campaign_id(request: web.Request) -> int:
    return int(request.match_info["id"])


# --- 活動列表 ---------------------------------------------------------------------------------------

@page("GET", "/campaigns", name="campaigns", access=Access.VIEW)
async def campaign_list(request: web.Request) -> web.StreamResponse:
    store, role = _store(request), request[USER].role
    search = request.query.get("q", "").strip()[:100]
    total = await store.count(search=search)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = request.query.get("page", "1")
    current = min(max(int(number), 1), pages) if number.isdigit() and len(number) < 7 else 1
    rows = await store.list(utcnow(), search=search, limit=PAGE_SIZE, offset=(current - 1) * PAGE_SIZE)
    listed = [{"row": row, "when": (when(row.start_at), when(row.end_at)),
               "actions": [a for a in LIST_ACTIONS[row.status] if can(role, a, row.status)]} for row in rows]
    return render(request, "campaigns/list.html", rows=listed, search=search, page=current, pages=pages,
                  total=total, may_create=can(role, SettingsAction.SAVE), ListAction=ListAction)


# --- the editor ------------------------------------------------------------------------------------

def _editor(request: web.Request, values: Values, view: CampaignView | None, *, status: int = 200,
            errors: dict[str, list[str]] | None = None, notice: str | None = None,
            confirm_publish: int | None = None, channels: list[tuple[int, str]],
            pool: PoolCount | None = None) -> web.Response:
    """The editor page: every field the status lets the role change is an input, the rest text."""
    now = utcnow()
    role = request[USER].role
    state = view.status if view is not None else CampaignStatus.DRAFT
    may_edit = can(role, SettingsAction.SAVE)
    editable = {field: may_edit and is_editable(state, field) for field in
                ("name", "start_at", "rules_url", "image_url", "channel_id", "conditions", "review")}
    actions = [a for a in (view.settings_actions if view is not None else (SettingsAction.CANCEL, SettingsAction.SAVE,
                                                                             SettingsAction.PUBLISH))
               if can(role, a, state)]
    today = today_in_taipei(now)
    shown: dict[str, list[str]] = {}
    for field, messages in (errors or {}).items():  # an error of a field not offered goes on top
        shown.setdefault(field if field == FORM or editable[_group(field, editable)] else FORM, []).extend(messages)
    settings = view.settings if view is not None else None
    return render(
        request, "campaigns/editor.html", status=status, v=values, view=view, state=state,
        editable=editable, actions=actions, errors=shown, FORM=FORM, notice=notice,
        confirm_publish=confirm_publish, channels=channels, channel_name=dict(channels),
        earliest=earliest_issue_date_start(today), months_back=issue_date_months_back(today),
        system_messages=[(k.label, system_text(k, SAMPLE_INVOICE)) for k in SystemKind],
        custom_messages=[(k.value, k.label) for k in CustomKind], pool=pool, pool_tiers=_pool_tiers(pool),
        summary=_summary(settings) if settings is not None else None,
        review_fields=[(name, *REVIEW_LIMITS[name]) for name in REVIEW_NUMBERS], review_hints=REVIEW_HINTS,
        blank_block=blank_block(), blank_tier=blank_tier(), SettingsAction=SettingsAction)


def _group(field: str, editable: dict[str, bool]) -> str:
    """The editor's group (a key of `editable`) a form field belongs to."""
    if field == "end_at":
        return "start_at"
    if field.startswith("review-"):
        return "review"
    return field if field in editable else "conditions"


def _pool_tiers(pool: PoolCount | None) -> list[tuple[str, int]]:
    """Free codes per tier, tiers first, then the codes that serve any tier."""
    if pool is None:
        return []
    tiers = sorted((t, n) for t, n in pool.free_by_tier.items() if t is not None)
    rows = [(f"第 {t} 級距", n) for t, n in tiers]
    if pool.free_by_tier.get(None):
        rows.append(("不分級距", pool.free_by_tier[None]))
    return rows


def _summary(settings: CampaignSettings) -> dict[str, Any]:
    c = settings.conditions
    return {"scope": scope_text(c), "tiers": tier_lines(c), "reward": coupon_text(c.reward),
            "cap": "不限制" if c.per_person_cap is None else f"{c.per_person_cap} 張",
            "sellers": "不限制" if c.sellers is None else "、".join(c.sellers),
            "timing": c.reward_timing.label,
            "issue_dates": f"{c.issue_dates.start.isoformat()} ～ {c.issue_dates.end.isoformat()}",
            "start_at": when(settings.start_at), "end_at": when(settings.end_at),
            "review": review_lines(settings.review)}


@page("GET", "/campaigns/new", name="campaign_new", access=Access.EDIT)
async def new_campaign(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    return _editor(request, blank_values(), None, channels=await store.channels())


@page("POST", "/campaigns/new", name="campaign_create", access=Access.EDIT)
async def create_campaign(request: web.Request) -> web.StreamResponse:
    store, actor = _store(request), request[USER].actor
    form = await request.post()
    values = values_from_form(form, blank_values())
    channels = await store.channels()
    action = str(form.get("action", "save"))
    try:
        view = await store.create(actor, settings_dict(values, None), utcnow())
    except CampaignSettingsError as exc:
        return _editor(request, values, None, status=422, errors=errors_by_field(exc.errors), channels=channels)
    if action == SettingsAction.PUBLISH.value:
        try:
            view = await store.publish(actor, view.id, utcnow())
        except (CampaignSettingsError, ActionRefused) as exc:
            return _editor(request, values_from_settings(view.settings), view, status=422,
                           errors=_refusal(exc), channels=channels, pool=await store.coupon_pool(view.id))
    raise web.HTTPSeeOther(f"/console/campaigns/{view.id}?done={action}")


async def _existing(store: CampaignStore, campaign_id: int) -> CampaignView:
    try:
        return await store.get(campaign_id, utcnow())
    except CampaignNotFound:
        raise web.HTTPNotFound(text="找不到此活動") from None


_DONE = {"save": "已儲存", "publish": "已發布", "pause": "已暫停", "copy": "已複製為新的草稿"}


@page("GET", r"/campaigns/{id:\d{1,18}}", name="campaign_edit", access=Access.VIEW)
async def edit_campaign(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    view = await _existing(store, _campaign_id(request))
    return _editor(request, values_from_settings(view.settings), view, channels=await store.channels(),
                   notice=_DONE.get(request.query.get("done", "")), pool=await store.coupon_pool(view.id))


def _refusal(exc: Exception) -> dict[str, list[str]]:
    if isinstance(exc, CampaignSettingsError):
        return errors_by_field(exc.errors)
    return errors_by_field([FieldError("action", str(exc))])


@page("POST", r"/campaigns/{id:\d{1,18}}", name="campaign_save", access=Access.EDIT)
async def save_campaign(request: web.Request) -> web.StreamResponse:
    store, actor = _store(request), request[USER].actor
    view = await _existing(store, _campaign_id(request))
    form = await request.post()
    values = values_from_form(form, values_from_settings(view.settings))
    edited = settings_dict(values, view.settings, with_conditions="scope_kind" in form,
                           with_review=REVIEW_OFFERED in form)
    channels = await store.channels()
    action = str(form.get("action", ""))
    pool = await store.coupon_pool(view.id)
    try:
        if action == SettingsAction.SAVE.value:
            await store.save(actor, view.id, edited, utcnow())
        elif action == SettingsAction.PAUSE.value:
            await store.pause(actor, view.id, utcnow(), edited=edited)
        elif action == SettingsAction.PUBLISH.value:
            taken = await store.draft_codes_taken(view.id) if view.status is CampaignStatus.DRAFT else 0
            if taken and form.get("confirm") != "1":
                return _editor(request, values, view, channels=channels, confirm_publish=taken, pool=pool)
            await store.publish(actor, view.id, utcnow(), edited=edited)
        else:
            raise web.HTTPBadRequest(text="未知的動作")
    except (CampaignSettingsError, ActionRefused) as exc:
        return _editor(request, values, view, status=422, errors=_refusal(exc), channels=channels, pool=pool)
    except PermissionDenied as exc:
        raise web.HTTPForbidden(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/console/campaigns/{view.id}?done={action}")


# --- 複製, 刪除 (資訊: console.pages.campaign_info) -----------------------------------------

@page("POST", r"/campaigns/{id:\d{1,18}}/copy", name="campaign_copy", access=Access.EDIT)
async def copy_campaign(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    try:
        copied = await store.copy(request[USER].actor, _campaign_id(request), utcnow())
    except CampaignNotFound:
        raise web.HTTPNotFound(text="找不到此活動") from None
    except (ActionRefused, PermissionDenied) as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/console/campaigns/{copied.id}?done=copy")


@page("GET", r"/campaigns/{id:\d{1,18}}/delete", name="campaign_delete_confirm", access=Access.DELETE)
async def confirm_delete(request: web.Request) -> web.StreamResponse:
    view = await _existing(_store(request), _campaign_id(request))
    return render(request, "campaigns/delete.html", view=view,
                  deletable=ListAction.DELETE in view.list_actions,
                  status=200 if ListAction.DELETE in view.list_actions else 409)


@page("POST", r"/campaigns/{id:\d{1,18}}/delete", name="campaign_delete", access=Access.DELETE)
async def delete_campaign(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    view = await _existing(store, _campaign_id(request))
    try:
        await store.delete(request[USER].actor, view.id, utcnow())
    except (ActionRefused, PermissionDenied) as exc:
        return render(request, "campaigns/delete.html", view=view, deletable=False, refusal=str(exc), status=409)
    raise web.HTTPSeeOther("/console/campaigns?deleted=1")

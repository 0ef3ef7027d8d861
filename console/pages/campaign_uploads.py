"""A campaign's uploads: the card image (checked, optionally cropped, kept in the photo store)
and the coupon import form (handled by console.pages.campaign_coupons); self-contained forms the
campaign editor links to."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG, DATABASE, PHOTO_STORE
from bot.campaigns.images import (
    MAX_BYTES,
    CardImageError,
    card_image_path,
    card_image_preview,
    card_image_url,
    store_card_image,
)
from bot.campaigns.store import CampaignNotFound, CampaignStore, CampaignView
from bot.photo_store import PhotoStoreError
from bot.storage.models import utcnow
from console.access import Access
from console.routes import page
from console.sessions import USER
from console.templating import render
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.lifecycle import ActionRefused
from flows.campaigns.roles import PermissionDenied

IMAGE_MAX_BODY = MAX_BYTES + 64 * 1024  # the image, the form's other fields and multipart framing
SHOWN_PROBLEMS = 20


def _store(request: web.Request) -> CampaignStore:
    return CampaignStore(request.config_dict[DATABASE])


async def campaign_of(request: web.Request) -> CampaignView:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text="找不到此活動")
    try:
        return await _store(request).get(int(raw), utcnow())
    except CampaignNotFound:
        raise web.HTTPNotFound(text="找不到此活動") from None


def tier_numbers(view: CampaignView) -> list[int]:
    return list(range(1, len(view.settings.conditions.higher_tiers) + 2))


async def coupon_context(request: web.Request, view: CampaignView, **context: Any) -> dict[str, Any]:
    """What the coupon section (coupon_pool.html) shows: per tier codes left, given and waiting,
    the whole pool, the last import's report and the form's tier."""
    store = _store(request)
    context.setdefault("report", None)
    context.setdefault("tier", "")
    return {"tiers": tier_numbers(view), "tier_lines": await store.coupon_tiers(view.id),
            "pool": await store.coupon_pool(view.id), "shown": SHOWN_PROBLEMS, **context}


async def _page(request: web.Request, view: CampaignView, *, status: int = 200, errors: dict[str, str] | None = None,
                **context: Any) -> web.Response:
    config = request.config_dict[CONFIG]
    path = card_image_path(config, view.settings.image_url)
    context.setdefault("image_saved", False)
    context.setdefault("image_warnings", ())
    return render(request, "campaign_uploads.html", status=status, campaign=view, errors=errors or {},
                  preview=card_image_preview(config, path) if path else None,
                  **await coupon_context(request, view, **context))


async def posted_file(request: web.Request, name: str) -> bytes | None:
    field = (await request.post()).get(name)
    if not isinstance(field, web.FileField):
        return None
    return field.file.read()


@page("GET", "/campaigns/{id}/uploads", name="campaign_uploads", access=Access.EDIT)
async def uploads(request: web.Request) -> web.StreamResponse:
    return await _page(request, await campaign_of(request))


@page("POST", "/campaigns/{id}/image", name="campaign_image", access=Access.EDIT, max_body=IMAGE_MAX_BODY)
async def upload_image(request: web.Request) -> web.StreamResponse:
    view = await campaign_of(request)
    form = await request.post()
    data = await posted_file(request, "image")
    if not data:
        return await _page(request, view, status=422, errors={"image": "圖片：請選擇檔案"})
    try:
        image = await store_card_image(request.config_dict[PHOTO_STORE], data, crop=form.get("crop") == "on")
    except CardImageError as refused:
        return await _page(request, view, status=422, errors={refused.field: refused.message})
    except PhotoStoreError:
        return await _page(request, view, status=503, errors={"image": "圖片：暫時無法儲存，請稍後再試"})
    url = card_image_url(request.config_dict[CONFIG], image.path)
    try:
        view = await _store(request).set_image(request[USER].actor, view.id, url, utcnow())
    except CampaignSettingsError as invalid:
        return await _page(request, view, status=422, errors={"image": "；".join(e.message for e in invalid.errors)})
    except (ActionRefused, PermissionDenied) as refused:
        return await _page(request, view, status=422, errors={"image": str(refused)})
    return await _page(request, view, image_saved=True, image_warnings=image.warnings)

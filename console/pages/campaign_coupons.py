"""A campaign's coupons page: per tier, codes left, codes given and users waiting for a refill;
importing a code CSV (the uploads page's form posts here too) serves the waiting users at once."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG, DATABASE
from bot.campaigns.coupons import CouponImportError, ImportReport
from bot.campaigns.store import CampaignStore, CampaignView
from bot.chat.results import ResultNotifier
from bot.storage.models import utcnow
from console.access import Access
from console.pages.campaign_uploads import campaign_of, coupon_context, posted_file, tier_numbers
from console.routes import page
from console.sessions import USER
from console.templating import render
from flows.campaigns.lifecycle import ActionRefused
from flows.campaigns.roles import PermissionDenied

CSV_MAX_BODY = 5 * 1024 * 1024


async def _page(request: web.Request, view: CampaignView, *, status: int = 200,
                errors: dict[str, str] | None = None, **context: Any) -> web.Response:
    return render(request, "campaign_coupons.html", status=status, campaign=view, errors=errors or {},
                  **await coupon_context(request, view, **context))


@page("GET", "/campaigns/{id}/coupons", name="campaign_coupons", access=Access.VIEW)
async def coupons(request: web.Request) -> web.StreamResponse:
    return await _page(request, await campaign_of(request))


@page("POST", "/campaigns/{id}/coupons", name="campaign_coupons_import", access=Access.EDIT,
      max_body=CSV_MAX_BODY)
async def import_coupons(request: web.Request) -> web.StreamResponse:
    view = await campaign_of(request)
    form = await request.post()
    raw_tier = str(form.get("tier", ""))
    errors: dict[str, str] = {}
    tier = int(raw_tier) if raw_tier.isdigit() else None
    if raw_tier and tier not in tier_numbers(view):
        errors["tier"] = "請選擇級距"
    data = await posted_file(request, "file")
    if not data:
        errors["file"] = "請選擇 CSV 檔案"
    if errors:
        return await _page(request, view, status=422, errors=errors, tier=raw_tier)
    config = request.config_dict[CONFIG]
    notifier = ResultNotifier(sandbox_base_url=config.base_url if config.sandbox else None)
    try:
        report, given = await CampaignStore(request.config_dict[DATABASE]).import_coupons(
            request[USER].actor, view.id, data, utcnow(), on_given=notifier.on_rewards_given, tier=tier)
    except CouponImportError as refused:
        return await _page(request, view, status=422, errors={"file": str(refused).removeprefix("file: ")},
                           tier=raw_tier)
    except (ActionRefused, PermissionDenied) as refused:
        return await _page(request, view, status=422, errors={"file": str(refused)}, tier=raw_tier)
    return await _page(request, view, report=_summary(report, len(given)), tier=raw_tier)


def _summary(report: ImportReport, given: int) -> dict[str, Any]:
    return {"imported": report.imported, "blank_lines": len(report.blank_lines), "given": given,
            "problems": sorted([*report.duplicates, *report.invalid], key=lambda p: p.line),
            "duplicates": len(report.duplicates), "invalid": len(report.invalid)}

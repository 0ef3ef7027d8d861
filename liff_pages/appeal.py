"""回報問題 (issue 30): the LIFF appeal page's JSON endpoints. The ID token is verified as on the
other pages (liff_pages.api.verified); the upload must be the token's user's, in the page's
campaign; bot.review.appeals.submit_appeal puts it in the review queue with the note. Appeals
are taken while the campaign exists, after its end too (a late 無效 can still be questioned).

  POST /liff/api/appeal/upload {liff_id, campaign, upload}        → the upload as the page shows it
  POST /liff/api/appeal        {liff_id, campaign, upload, note}  → {"state": "accepted", "remaining"}
"""
from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import DATABASE
from bot.campaigns import statuses
from bot.chat.intake import customer_for
from bot.log import pseudonym
from bot.review.appeals import NOTE_MAX, AppealRefused, submit_appeal
from bot.review.service import shown_number
from bot.storage.models import Campaign, Customer, ReviewAppeal, Upload, utcnow
from flows.messages.system import NOT_EXIST_TEXT
from liff_pages.api import API, NO_STORE, Refused, guarded, log, verified
from liff_pages.bodies import CAMPAIGN_ID

NOT_FOUND_TEXT = "找不到這筆發票登錄"


async def _mine(request: web.Request, *, limit: str) -> tuple[Campaign, Customer, Upload, dict[str, Any]]:
    """The verified caller's upload named in the body, in the body's campaign; 404 otherwise
    (whether the upload exists for someone else is not told)."""
    channel, campaign, claims, body = await verified(request, limit=limit)
    if campaign is None:
        raise Refused(404, "gone", NOT_EXIST_TEXT)
    raw = body.get("upload")
    text = str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    if not CAMPAIGN_ID.fullmatch(text):
        raise Refused(404, "upload", NOT_FOUND_TEXT)
    async with request.app[DATABASE].session() as session, session.begin():
        customer = await customer_for(session, channel.id, claims.sub, claims.name or None)
        upload = await session.scalar(select(Upload).where(Upload.id == int(text), Upload.customer_id == customer.id,
                                                           Upload.campaign_id == campaign.id))
    if upload is None:
        raise Refused(404, "upload", NOT_FOUND_TEXT)
    return campaign, customer, upload, body


@guarded
async def handle_appeal_upload(request: web.Request) -> web.Response:
    """What the page shows above the form: the campaign, the invoice and its result."""
    campaign, _customer, upload, _body = await _mine(request, limit="read")
    async with request.app[DATABASE].session() as session:
        appealed = await session.scalar(select(ReviewAppeal.id).where(ReviewAppeal.upload_id == upload.id))
    return web.json_response({
        "state": "ok", "name": campaign.name, "rules_url": campaign.rules_url, "invoice_number": shown_number(upload),
        "result": statuses.to_domain(upload.status).label, "reason": upload.reason or "",
        "appealed": appealed is not None, "note_max": NOTE_MAX}, headers=NO_STORE)


_STATUS = {"note": 422, "limit": 409}


@guarded
async def handle_appeal(request: web.Request) -> web.Response:
    _campaign, customer, upload, body = await _mine(request, limit="submit")
    try:
        async with request.app[DATABASE].session() as session, session.begin():
            customer = await session.get(Customer, customer.id)
            result = await submit_appeal(session, upload.id, customer, body.get("note"), now=utcnow())
    except AppealRefused as refused:
        if refused.field == "note":
            raise Refused(422, "fields", refused.message, errors={"note": refused.message}) from None
        status = 404 if refused.message == NOT_FOUND_TEXT else _STATUS.get(refused.field, 409)
        raise Refused(status, refused.field, refused.message) from None
    log.info("LIFF appeal", extra={"fields": {"user": pseudonym(customer.line_user_id), "upload_id": upload.id}})
    return web.json_response({"state": "accepted", "remaining": result.remaining}, headers=NO_STORE)


def setup_appeal(app: web.Application) -> None:
    app.router.add_post(f"{API}/appeal/upload", handle_appeal_upload)
    app.router.add_post(f"{API}/appeal", handle_appeal)

"""審核佇列 (issue 30): the review queue with its filters, counts and pages; one upload's photo
beside MOF's record with the signals' evidence, its decisions and the appeal; approve, reject,
correct, undo, and bulk decisions confirmed with the number of users they touch — all through
bot.review.service, which checks the role, audits the reviewer and makes exactly one decision."""
from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE
from bot.photos import photo_linker
from bot.privacy.keys import link_generation
from bot.review import service
from bot.review.service import AlreadyDecided, ReviewRefused, UploadDetail, UploadNotInReview
from bot.storage.models import Campaign, utcnow
from console.access import Access
from console.review_query import AGES, ReviewQuery, read_review_query
from console.routes import page
from console.sessions import USER
from console.templating import render, url
from flows.campaigns.dates import in_taipei
from flows.campaigns.roles import PermissionDenied
from flows.campaigns.settings import DEFAULT_REJECT_REASONS
from flows.review.signals import SignalKind
from flows.review.states import DecisionKind, ReviewState

PER_PAGE = 50
CAMPAIGNS_LISTED = 200
TAKEN_TEXT = "已由他人決定"
CORRECT_FIELDS = {"total_amount": "總金額（元）", "invoice_date": "開立日期", "seller_name": "賣方名稱",
                  "seller_ban": "賣方統編"}
DONE = {"approve": "已核准", "reject": "已退件", "correct": "已更正並重新判定", "undo": "已復原決定"}
UPLOAD = r"{upload:\d{1,18}}"


def _upload_id(request: web.Request) -> int:
    return int(request.match_info["upload"])


def _age(delta: dt.timedelta) -> str:
    """等待時間 in words: 3 天 2 小時, 5 小時, 12 分鐘."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days} 天 {hours} 小時" if hours else f"{days} 天"
    return f"{hours} 小時" if hours else f"{minutes} 分鐘"


async def _campaigns(request: web.Request) -> list[tuple[int, str]]:
    """The filter's choices: the newest campaigns (id, name)."""
    async with request.config_dict[DATABASE].session() as session:
        return [(r[0], r[1]) for r in await session.execute(
            select(Campaign.id, Campaign.name).order_by(Campaign.id.desc()).limit(CAMPAIGNS_LISTED))]


async def _reasons(request: web.Request, campaign_id: int | None) -> tuple[str, ...]:
    """The reject reasons a bulk rejection offers: the filtered campaign's, else the defaults."""
    if campaign_id is None:
        return DEFAULT_REJECT_REASONS
    from flows.campaigns.settings import CampaignSettings

    async with request.config_dict[DATABASE].session() as session:
        settings = await session.scalar(select(Campaign.settings).where(Campaign.id == campaign_id))
    return CampaignSettings.from_dict(settings).review.reject_reasons if settings else DEFAULT_REJECT_REASONS


def _field_errors(message: str, fields: tuple[str, ...]) -> dict[str, str]:
    """A service refusal ("field: reason") beside its field, else as the form's own error."""
    name, _, reason = message.partition(": ")
    return {name: reason} if name in fields and reason else {"form": message}


# --- the queue -------------------------------------------------------------------------------------

@page("GET", "/review", name="review_queue", access=Access.VIEW)
async def review_queue(request: web.Request) -> web.StreamResponse:
    return await _queue_page(request, read_review_query(request.query))


async def _queue_page(request: web.Request, query: ReviewQuery, *, status: int = 200,
                      bulk_errors: dict[str, str] | None = None, bulk_values: dict[str, Any] | None = None
                      ) -> web.Response:
    actor, now = request[USER].actor, utcnow()
    page_rows: service.QueuePage = service.QueuePage([], None)
    counts: dict[ReviewState, int] = {}
    if query.errors:
        status = 400
    else:
        async with request.config_dict[DATABASE].session() as session:
            try:
                page_rows = await service.queue(session, actor=actor, now=now, cursor=query.cursor,
                                                limit=PER_PAGE, **query.filters())
            except ReviewRefused:  # a cursor this queue never gave
                query.errors["cursor"] = "分頁位置無效，請回到第一頁"
                status = 400
            else:
                counts = await service.queue_count(session, actor=actor, now=now, **query.filters())
    path = url(request, "review_queue")
    return render(request, "review/queue.html", status=status, query=query, rows=page_rows.rows,
                  next_cursor=page_rows.next_cursor, counts=counts, count_cap=service.COUNT_CAP, path=path,
                  campaigns=await _campaigns(request), signals=list(SignalKind), ages=AGES,
                  states=list(ReviewState), reasons=await _reasons(request, query.campaign_id), age=_age,
                  local=in_taipei, done=_done(request), bulk_errors=bulk_errors or {},
                  bulk_values=bulk_values or {})


def _done(request: web.Request) -> str | None:
    """The notice after a decision (?done=approve&of=12), or None."""
    kind, of = request.query.get("done", ""), request.query.get("of", "")
    if kind.startswith("bulk-") and kind[5:] in DONE and of.isdigit():
        return f"{DONE[kind[5:]]} {of} 筆上傳"
    if kind in DONE and of.isdigit():
        return f"{DONE[kind]}上傳 #{of}"
    return None


# --- one upload ------------------------------------------------------------------------------------

@page("GET", f"/review/{UPLOAD}", name="review_upload", access=Access.VIEW)
async def review_upload(request: web.Request) -> web.StreamResponse:
    return await _detail_page(request, read_review_query(request.query))


async def _detail_page(request: web.Request, query: ReviewQuery, *, status: int = 200,
                       errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                       form: str | None = None) -> web.Response:
    actor, now, config = request[USER].actor, utcnow(), request.config_dict[CONFIG]
    upload_id = _upload_id(request)
    async with request.config_dict[DATABASE].session() as session:
        try:
            found = await service.detail(session, upload_id, actor=actor)
        except UploadNotInReview:
            raise web.HTTPNotFound(text="沒有這筆上傳") from None
        before, after = (None, None) if query.errors else await service.neighbours(
            session, upload_id, actor=actor, now=now, **query.filters())
        photo = None
        if found.photo_path:
            # a same-origin link good for PHOTO_LINK_TTL_DAYS, as on the participant list
            photo = photo_linker(config, generation=await link_generation(session), now=now, base="")(found.photo_path)
    detail_path = url(request, "review_upload", upload=upload_id)
    return render(request, "review/upload.html", status=status, d=found, query=query, photo=photo,
                  before=before, after=after, queue_path=url(request, "review_queue"), path=detail_path,
                  undoable=_undoable(found), errors=errors or {}, form=form,
                  values=values or _current_values(found), fields=CORRECT_FIELDS, local=in_taipei,
                  done=_done(request), DecisionKind=DecisionKind, waiting=_waiting(found))


def _waiting(found: UploadDetail) -> bool:
    return found.review_state is not None and found.review_state.waiting


def _undoable(found: UploadDetail) -> int | None:
    """The decision an undo button is offered for: the latest standing approve / reject while
    its reward has not been sent (the service checks again)."""
    standing = [d for d in found.decisions if d.undone_at is None]
    if not standing or standing[-1].kind not in (DecisionKind.APPROVE, DecisionKind.REJECT):
        return None
    if found.reward_state == "given" and standing[-1].kind is DecisionKind.APPROVE:
        return None
    return standing[-1].id


def _current_values(found: UploadDetail) -> dict[str, str]:
    return {"total_amount": "" if found.total_amount is None else str(found.total_amount),
            "invoice_date": found.invoice_date.isoformat() if found.invoice_date else "",
            "seller_name": found.seller_name or "", "seller_ban": found.seller_ban or "",
            "reason": "", "free_text": ""}


def _after_decision(request: web.Request, query: ReviewQuery, kind: str, upload_id: int,
                    go_to: int | None) -> web.HTTPSeeOther:
    """Back to the queue's next upload (or the queue) with a notice of what was done."""
    where = url(request, "review_upload", upload=go_to) if go_to else url(request, "review_queue")
    return web.HTTPSeeOther(query.link(where, done=kind, of=str(upload_id)))


async def _decide(request: web.Request, kind: str, fields: tuple[str, ...], call: Any) -> web.StreamResponse:
    """Run one decision (`call(session, actor, now)`) in a transaction; refusals come back as
    the detail page with the error beside its field (409 when someone decided first)."""
    form = await request.post()
    query = read_review_query(form)
    upload_id, actor, now = _upload_id(request), request[USER].actor, utcnow()
    values = {k: str(form.get(k, "")) for k in (*CORRECT_FIELDS, "reason", "free_text")}
    try:
        async with request.config_dict[DATABASE].session() as session, session.begin():
            _before, go_to = await service.neighbours(session, upload_id, actor=actor, now=now, **query.filters())
            await call(session, form, actor, now)
    except UploadNotInReview:
        raise web.HTTPNotFound(text="沒有這筆上傳") from None
    except PermissionDenied:
        raise web.HTTPForbidden(text="沒有審核權限") from None
    except AlreadyDecided as exc:
        said = str(exc).partition(": ")[2] or str(exc)
        return await _detail_page(request, query, status=409, errors={"form": f"{TAKEN_TEXT}：{said}"},
                                  values=values, form=kind)
    except ReviewRefused as exc:
        return await _detail_page(request, query, status=422, errors=_field_errors(str(exc), fields),
                                  values=values, form=kind)
    if kind == "correct" or kind == "undo":
        go_to = upload_id  # still (or again) in review: stay on it
    raise _after_decision(request, query, kind, upload_id, go_to)


def _sandbox_base(request: web.Request) -> str | None:
    config = request.config_dict[CONFIG]
    return config.base_url if config.sandbox else None


@page("POST", f"/review/{UPLOAD}/approve", name="review_approve", access=Access.REVIEW)
async def approve(request: web.Request) -> web.StreamResponse:
    async def call(session, _form: MultiDictProxy, actor, now) -> None:  # noqa: ANN001
        await service.approve(session, _upload_id(request), actor=actor, now=now,
                              sandbox_base_url=_sandbox_base(request))

    return await _decide(request, "approve", (), call)


@page("POST", f"/review/{UPLOAD}/reject", name="review_reject", access=Access.REVIEW)
async def reject(request: web.Request) -> web.StreamResponse:
    async def call(session, form: MultiDictProxy, actor, now) -> None:  # noqa: ANN001
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise ReviewRefused("reason: 請選擇退件原因")
        await service.reject(session, _upload_id(request), reason, str(form.get("free_text", "")),
                             actor=actor, now=now)

    return await _decide(request, "reject", ("reason", "free_text"), call)


@page("POST", f"/review/{UPLOAD}/correct", name="review_correct", access=Access.REVIEW)
async def correct(request: web.Request) -> web.StreamResponse:
    async def call(session, form: MultiDictProxy, actor, now) -> None:  # noqa: ANN001
        upload_id = _upload_id(request)
        current = _current_values(await service.detail(session, upload_id, actor=actor))
        changed = {k: str(form[k]).strip() for k in CORRECT_FIELDS
                   if k in form and str(form[k]).strip() != current[k]}
        if not changed:
            raise ReviewRefused("fields: 請修改至少一個欄位後再更正")
        await service.correct(session, upload_id, changed, actor=actor, now=now)

    return await _decide(request, "correct", (*CORRECT_FIELDS, "fields"), call)


@page("POST", f"/review/{UPLOAD}/undo", name="review_undo", access=Access.REVIEW)
async def undo(request: web.Request) -> web.StreamResponse:
    async def call(session, form: MultiDictProxy, actor, now) -> None:  # noqa: ANN001
        decision = str(form.get("decision", ""))
        if not (decision.isascii() and decision.isdigit() and len(decision) <= 18):
            raise ReviewRefused("decision: 請指定要復原的決定")
        found = await service.detail(session, _upload_id(request), actor=actor)
        if int(decision) not in {d.id for d in found.decisions}:
            raise ReviewRefused("decision: 這個決定不屬於此上傳")
        await service.undo(session, int(decision), actor=actor, now=now)

    return await _decide(request, "undo", ("decision",), call)


# --- bulk decisions ------------------------------------------------------------------------------

@page("POST", "/review/bulk", name="review_bulk", access=Access.REVIEW)
async def bulk(request: web.Request) -> web.StreamResponse:
    """Step 1 (no `confirmed_users`): the confirmation page with how many uploads and users the
    decision touches. Step 2 (the count confirmed): the decisions, then the queue."""
    form = await request.post()
    query = read_review_query(form)
    decision = next((k for k in (DecisionKind.APPROVE, DecisionKind.REJECT) if k.value == form.get("decision")), None)
    raw_ids = [str(v) for v in form.getall("upload", [])]
    values = {"decision": decision.value if decision else "", "reason": str(form.get("reason", "")).strip(),
              "free_text": str(form.get("free_text", "")).strip(), "upload": raw_ids}
    errors: dict[str, str] = {}
    if decision is None:
        errors["decision"] = "請選擇核准或退件"
    ids = [int(v) for v in raw_ids if v.isascii() and v.isdigit() and len(v) <= 18]
    if not ids or len(ids) != len(raw_ids):
        errors["upload"] = "請勾選要批次決定的上傳"
    if decision is DecisionKind.REJECT and not values["reason"]:
        errors["reason"] = "請選擇退件原因"
    actor, now = request[USER].actor, utcnow()
    confirmed = str(form.get("confirmed_users", ""))
    if not errors:
        try:
            async with request.config_dict[DATABASE].session() as session, session.begin():
                if not confirmed:
                    preview = await service.bulk_preview(session, decision, ids, actor=actor)
                    return render(request, "review/bulk_confirm.html", preview=preview, values=values,
                                  query=query, queue_path=url(request, "review_queue"))
                if not (confirmed.isascii() and confirmed.isdigit() and len(confirmed) <= 9):
                    raise ReviewRefused("confirmed_users: 請重新確認")
                result = await service.bulk(session, decision, ids, actor=actor, now=now,
                                            confirmed_users=int(confirmed), reason=values["reason"] or None,
                                            free_text=values["free_text"] or None,
                                            sandbox_base_url=_sandbox_base(request))
        except PermissionDenied:
            raise web.HTTPForbidden(text="沒有審核權限") from None
        except ReviewRefused as exc:
            errors = _field_errors(str(exc), ("upload", "reason", "free_text", "confirmed_users", "decision"))
            errors = {("form" if k in ("upload_ids", "confirmed_users") else k): v for k, v in errors.items()}
        else:
            raise web.HTTPSeeOther(query.link(url(request, "review_queue"), done=f"bulk-{decision.value}",
                                              of=str(len(result.decided))))
    return await _queue_page(request, query, status=422, bulk_errors=errors, bulk_values=values)

"""The review service on SQLite and PostgreSQL: the hold, its release at the period's end (once),
approve, reject, correct and re-run, undo, roles, the queue's filters and pages, bulk with its
users count, and two reviewers deciding one upload at once."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.review import hold, service
from bot.review.service import AlreadyDecided, ReviewRefused
from bot.storage.models import AuditEntry, OutgoingMessage, Participation, Reward, ReviewDecision, Upload
from flows.campaigns.roles import PermissionDenied
from flows.campaigns.rules import UploadStatus
from flows.review.signals import SignalKind
from flows.review.states import DecisionKind, ReviewState
from tests.campaign_store.data import DURING

LATER = DURING + dt.timedelta(days=8)
BURSTY = {"burst_uploads": 1, "burst_minutes": 10}  # a second upload within 10 minutes is flagged


async def _row(world, upload_id):
    async with world.db.session() as s:
        upload = await s.get(Upload, upload_id)
        reward = await s.scalar(select(Reward).where(Reward.upload_id == upload_id))
        return upload, reward


async def _do(world, call, *args, **kwargs):
    async with world.db.session() as s, s.begin():
        return await call(s, *args, **kwargs)


async def _messages(world, upload_id):
    async with world.db.session() as s:
        rows = (await s.scalars(select(OutgoingMessage).where(OutgoingMessage.upload_id == upload_id)
                                .order_by(OutgoingMessage.id))).all()
    return [(r.kind, r.state, r.messages["messages"]) for r in rows]


async def _flagged(world, cid, customer=None):
    """Two uploads by one user a minute apart: the second is flagged (burst)."""
    customer = customer or world.amy
    await world.settled(cid, customer, "AB10000001", at=DURING)
    upload_id, result = await world.settled(cid, customer, "AB10000002", at=DURING + dt.timedelta(minutes=1))
    return upload_id, result


async def test_off_by_default_nothing_is_held(world):
    from tests.campaign_store.data import CREATED, settings

    view = await world.store.create(world.marketer, settings(world.channel), CREATED)  # no review section
    await world.store.publish(world.marketer, view.id, CREATED)
    assert view.settings.review.hold_enabled is False
    upload_id, result = await world.settled(view.id, world.amy, "AB20000001")
    upload, reward = await _row(world, upload_id)
    assert result.status is UploadStatus.PASSED and reward.state == "waiting" and upload.review_state is None


async def test_a_pass_is_held_then_released_once_at_the_period_end(world):
    cid = await world.campaign(reward_={"bot_name": "b", "module_name": "m",
                                        "coupon": {"kind": "shared_link", "url": "https://e.x/c"}})
    upload_id, result = await world.settled(cid, world.amy, "AB30000001")
    upload, reward = await _row(world, upload_id)
    assert (result.status, reward.state, upload.review_state) == (UploadStatus.PASSED, "held", "held")
    assert upload.hold_until == DURING + dt.timedelta(days=7)
    assert await hold.release_due(world.db, DURING + dt.timedelta(days=6)) == 0
    # Two processes at the period's end: the upload is released exactly once.
    counts = await asyncio.gather(hold.release_due(world.db, LATER), hold.release_due(world.db, LATER))
    assert sorted(counts) == [0, 1]
    upload, reward = await _row(world, upload_id)
    assert (upload.review_state, reward.state, reward.coupon_link) == ("released", "given", "https://e.x/c")
    async with world.db.session() as s:
        kinds = (await s.scalars(select(ReviewDecision.kind).where(ReviewDecision.upload_id == upload_id))).all()
    assert kinds == ["release"]
    [(kind, _, messages)] = await _messages(world, upload_id)
    assert kind == "review.released" and "恭喜" in str(messages)


async def test_approve_gives_the_held_reward_and_tells_the_user(world):
    cid = await world.campaign(review=BURSTY)
    await world.store.import_coupons(world.marketer, cid, "code\nC-1\nC-2\n", DURING)
    upload_id, _ = await _flagged(world, cid)
    upload, reward = await _row(world, upload_id)
    assert (upload.review_state, reward.state, upload.hold_until) == ("flagged", "held", None)
    assert await hold.release_due(world.db, LATER) == 1  # the other one, unflagged; never this one
    result = await _do(world, service.approve, upload_id, actor=world.manager, now=LATER)
    assert (result.review_state, result.status) == (ReviewState.APPROVED, UploadStatus.PASSED)
    upload, reward = await _row(world, upload_id)
    assert reward.state == "given" and reward.coupon_code in {"C-1", "C-2"}
    assert result.message_id is not None
    async with world.db.session() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "review.approve"))
    assert entry.actor_id == world.manager.id and entry.target == f"upload:{upload_id}"
    with pytest.raises(AlreadyDecided):
        await _do(world, service.approve, upload_id, actor=world.marketer, now=LATER)


async def test_reject_keeps_the_upload_explains_it_and_tells_the_user(world):
    cid = await world.campaign(review=BURSTY)
    upload_id, _ = await _flagged(world, cid)
    with pytest.raises(ReviewRefused, match="reason"):
        await _do(world, service.reject, upload_id, "不喜歡", actor=world.marketer, now=LATER)
    result = await _do(world, service.reject, upload_id, "重複照片", "與 #12 相同", actor=world.marketer, now=LATER)
    upload, reward = await _row(world, upload_id)
    assert result.status is UploadStatus.NOT_QUALIFIED and upload.status == "not_qualified"
    assert upload.reason == "審核未通過：重複照片（與 #12 相同）" and reward.state == "revoked"
    async with world.db.session() as s:
        passed = await s.scalar(select(Participation.passed_count).where(Participation.customer_id == world.amy))
    assert passed == 1  # the other invoice still counts
    [(kind, state, messages)] = await _messages(world, upload_id)
    assert kind == "review.decision" and state == "queued"
    assert messages[0]["text"].startswith("很抱歉，您登錄的發票 AB-10000002 經審核未通過。\n原因：重複照片\n說明：與 #12 相同")


async def test_undo_a_rejection_and_an_approval_while_nothing_was_sent(world):
    cid = await world.campaign(review=BURSTY)  # an empty pool: an approved reward waits for codes
    upload_id, _ = await _flagged(world, cid)
    rejected = await _do(world, service.reject, upload_id, "其他", actor=world.marketer, now=LATER)
    await _do(world, service.undo, rejected.decision_id, actor=world.manager, now=LATER)
    upload, reward = await _row(world, upload_id)
    assert (upload.status, upload.review_state, reward.state, upload.reason) == ("passed", "flagged", "held", None)
    assert [state for _, state, _ in await _messages(world, upload_id)] == ["failed"]  # the rejection never went
    approved = await _do(world, service.approve, upload_id, actor=world.marketer, now=LATER)
    assert (await _row(world, upload_id))[1].state == "waiting"
    await _do(world, service.undo, approved.decision_id, actor=world.marketer, now=LATER)
    upload, reward = await _row(world, upload_id)
    assert (upload.review_state, reward.state) == ("flagged", "held")
    with pytest.raises(AlreadyDecided):
        await _do(world, service.undo, approved.decision_id, actor=world.marketer, now=LATER)
    detail = await _do(world, service.detail, upload_id, actor=world.agent)
    assert [(d.kind, d.undone_by) for d in detail.decisions] == [
        (DecisionKind.REJECT, "max"), (DecisionKind.APPROVE, "mia")]


async def test_undo_is_refused_once_the_reward_was_sent(world):
    cid = await world.campaign(review=BURSTY)
    await world.store.import_coupons(world.marketer, cid, "code\nC-1\nC-2\n", DURING)
    upload_id, _ = await _flagged(world, cid)
    approved = await _do(world, service.approve, upload_id, actor=world.marketer, now=LATER)
    with pytest.raises(ReviewRefused, match="獎項已送出"):
        await _do(world, service.undo, approved.decision_id, actor=world.marketer, now=LATER)


async def test_a_correction_reruns_the_rules(world):
    cid = await world.campaign(review=BURSTY, threshold=1000,
                               higher_tiers=[{"min_amount": 5000, "reward": {
                                   "bot_name": "b", "module_name": "大獎", "coupon": {"kind": "code_pool"}}}])
    upload_id, _ = await _flagged(world, cid)  # total 3000: tier 1
    with pytest.raises(ReviewRefused, match="total_amount"):
        await _do(world, service.correct, upload_id, {"total_amount": -1}, actor=world.marketer, now=LATER)
    with pytest.raises(ReviewRefused, match="random_code"):
        await _do(world, service.correct, upload_id, {"random_code": "1"}, actor=world.marketer, now=LATER)
    low = await _do(world, service.correct, upload_id, {"total_amount": 500}, actor=world.marketer, now=LATER)
    assert (low.status, low.review_state) == (UploadStatus.NOT_QUALIFIED, ReviewState.FLAGGED)
    with pytest.raises(ReviewRefused, match="無法核准"):
        await _do(world, service.approve, upload_id, actor=world.marketer, now=LATER)
    high = await _do(world, service.correct, upload_id, {"total_amount": "6000", "invoice_date": "2023-09-03"},
                     actor=world.manager, now=LATER)
    upload, reward = await _row(world, upload_id)
    assert (high.status, upload.tier, upload.total_amount, reward.state, reward.module_name) == (
        UploadStatus.PASSED, 2, 6000, "held", "大獎")
    assert upload.invoice_date == dt.date(2023, 9, 3) and upload.review_state == "flagged"
    detail = await _do(world, service.detail, upload_id, actor=world.agent)
    assert detail.decisions[-1].detail["before"]["fields"] == {"total_amount": 500, "invoice_date": "2023-09-01"}
    assert detail.code_data["total_amount"] is None or detail.code_data["total_amount"] != 6000
    assert await _messages(world, upload_id) == []  # a correction tells nobody yet


async def test_roles(world):
    cid = await world.campaign(review=BURSTY)
    upload_id, _ = await _flagged(world, cid)
    page = await _do(world, service.queue, actor=world.agent, now=LATER)
    assert [r.upload_id for r in page.rows] == [upload_id]
    for call, args in ((service.approve, ()), (service.reject, ("其他",))):
        with pytest.raises(PermissionDenied, match="審核"):
            await _do(world, call, upload_id, *args, actor=world.agent, now=LATER)
    with pytest.raises(PermissionDenied):
        await _do(world, service.queue, actor=world.nobody, now=LATER)
    with pytest.raises(PermissionDenied):
        await _do(world, service.detail, upload_id, actor=world.nobody)


async def test_the_queue_filters_and_pages(world):
    first = await world.campaign(review=BURSTY)
    second = await world.campaign(review=BURSTY, name="第二個活動")
    flagged = []
    for i in range(3):
        await world.settled(first, world.amy, f"AB4000000{i}", at=DURING + dt.timedelta(hours=i))
        upload_id, _ = await world.settled(first, world.amy, f"AB4100000{i}",
                                           at=DURING + dt.timedelta(hours=i, minutes=1))
        flagged.append(upload_id)
    other, _ = await _flagged(world, second, world.bob)
    everything = await _do(world, service.queue, actor=world.agent, now=LATER)
    in_order = [flagged[0], other, *flagged[1:]]  # oldest in review first; a tie (same minute) by id
    assert [r.upload_id for r in everything.rows] == in_order and everything.next_cursor is None
    row = everything.rows[0]
    assert (row.user_name, row.signals, row.review_state, row.age) == (
        "Amy", (SignalKind.BURST,), ReviewState.FLAGGED, LATER - (DURING + dt.timedelta(minutes=1)))
    mine = await _do(world, service.queue, actor=world.agent, now=LATER, campaign_id=second)
    assert [r.upload_id for r in mine.rows] == [other]
    assert (await _do(world, service.queue, actor=world.agent, now=LATER, signal=SignalKind.SAME_PHOTO)).rows == []
    old = await _do(world, service.queue, actor=world.agent, now=DURING + dt.timedelta(hours=2),
                    older_than=dt.timedelta(minutes=90))
    assert [r.upload_id for r in old.rows] == in_order[:2]  # in review since DURING + 1 min
    page1 = await _do(world, service.queue, actor=world.agent, now=LATER, limit=2)
    page2 = await _do(world, service.queue, actor=world.agent, now=LATER, limit=2, cursor=page1.next_cursor)
    assert [r.upload_id for r in page1.rows + page2.rows] == in_order and page2.next_cursor is None
    with pytest.raises(ReviewRefused, match="cursor"):
        await _do(world, service.queue, actor=world.agent, now=LATER, cursor="nonsense")


async def test_bulk_shows_the_users_it_touches_and_needs_that_number(world):
    cid = await world.campaign(review=BURSTY)
    a, _ = await _flagged(world, cid, world.amy)
    await world.settled(cid, world.amy, "AB10000003", at=DURING + dt.timedelta(minutes=2))
    b, _ = await _flagged(world, cid, world.bob)  # (the same invoice numbers: Bob's are duplicates)
    page = await _do(world, service.queue, actor=world.agent, now=LATER)
    ids = [r.upload_id for r in page.rows]
    preview = await _do(world, service.bulk_preview, DecisionKind.REJECT, [*ids, 999999], actor=world.marketer)
    assert preview.users == 1 and 999999 in preview.skipped and set(preview.upload_ids) == set(ids)
    with pytest.raises(ReviewRefused, match="confirmed_users"):
        await _do(world, service.bulk, DecisionKind.REJECT, ids, actor=world.marketer, now=LATER,
                  confirmed_users=2, reason="其他")
    done = await _do(world, service.bulk, DecisionKind.REJECT, ids, actor=world.marketer, now=LATER,
                     confirmed_users=1, reason="其他")
    assert sorted(d.upload_id for d in done.decided) == sorted(ids)


async def test_two_reviewers_deciding_one_upload_make_one_decision(world):
    cid = await world.campaign(review=BURSTY)
    upload_id, _ = await _flagged(world, cid)

    async def decide(call, *args, actor):
        try:
            async with world.db.session() as s, s.begin():
                return await call(s, upload_id, *args, actor=actor, now=LATER)
        except AlreadyDecided as exc:
            return exc

    results = await asyncio.gather(decide(service.approve, actor=world.marketer),
                                   decide(service.reject, "其他", actor=world.manager))
    assert sum(isinstance(r, AlreadyDecided) for r in results) == 1
    async with world.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ReviewDecision)
                              .where(ReviewDecision.upload_id == upload_id)) == 1
    upload, reward = await _row(world, upload_id)
    assert upload.review_state in ("approved", "rejected")
    assert (upload.status == "passed") == (upload.review_state == "approved")
    assert reward.state == ("waiting" if upload.review_state == "approved" else "revoked")

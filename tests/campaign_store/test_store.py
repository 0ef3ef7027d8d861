"""The campaign store on SQLite and PostgreSQL: lifecycle, editable fields, actions, roles, audit."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.campaigns.store import CampaignNotFound, CampaignStore, UnknownActor, actor_named
from bot.storage.models import (
    AuditEntry,
    Campaign,
    CampaignPhone,
    CouponCode,
    InvoiceItem,
    MessageTemplate,
    OutgoingMessage,
    Participation,
    Reward,
    Upload,
    VerificationJob,
)
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.lifecycle import ActionRefused, CampaignStatus
from flows.campaigns.roles import PermissionDenied, Role
from tests.campaign_store.data import (
    AFTER,
    CREATED,
    DURING,
    add_actor,
    add_channel,
    add_customer,
    add_upload,
    settings,
    taipei,
)


@pytest.fixture
async def world(database):
    channel = await add_channel(database, "品牌官方帳號")
    other_channel = await add_channel(database, "Second Shop")
    marketer = await add_actor(database, "mia", Role.MARKETER)
    agent = await add_actor(database, "sam", Role.SUPPORT_AGENT)
    return database, CampaignStore(database), channel, other_channel, marketer, agent


async def audit_rows(db, campaign_id):
    async with db.session() as s:
        return (await s.execute(select(AuditEntry).where(AuditEntry.target == f"campaign:{campaign_id}")
                                .order_by(AuditEntry.id))).scalars().all()


async def test_create_stores_settings_columns_and_audit(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel, cap=3), CREATED)
    assert view.status is CampaignStatus.DRAFT
    assert view.channel_name == "品牌官方帳號"
    assert view.settings.conditions.per_person_cap == 3
    async with db.session() as s:
        row = await s.get(Campaign, view.id)
    assert (row.name, row.cap, row.published_at, row.created_by) == ("秋季發票登錄", 3, None, marketer.id)
    assert row.start_at == taipei(2023, 9, 1)
    [entry] = await audit_rows(db, view.id)
    assert (entry.action, entry.actor_id, entry.detail["actor"]) == ("campaign.create", marketer.id, "mia")


async def test_create_refusals_name_fields(world):
    _, store, channel, _, marketer, _ = world
    bad = settings(channel)
    bad["rules_url"] = "not a url"
    bad["conditions"]["scope"]["threshold"] = 0
    with pytest.raises(CampaignSettingsError) as caught:
        await store.create(marketer, bad, CREATED)
    assert set(caught.value.fields) == {"rules_url", "conditions.scope.threshold"}
    with pytest.raises(CampaignSettingsError) as caught:
        await store.create(marketer, settings(9999), CREATED)
    assert caught.value.fields == ["channel_id"]
    shape = settings(channel)
    shape["conditions"]["per_person_cap"] = "three"
    with pytest.raises(CampaignSettingsError) as caught:
        await store.create(marketer, shape, CREATED)
    assert caught.value.fields == ["conditions.per_person_cap"]


async def test_read_only_role_is_refused_everything(world):
    db, store, channel, _, marketer, agent = world
    with pytest.raises(PermissionDenied, match="客服人員"):
        await store.create(agent, settings(channel), CREATED)
    view = await store.create(marketer, settings(channel), CREATED)
    for call in (lambda: store.save(agent, view.id, settings(channel, name="改名"), CREATED),
                 lambda: store.publish(agent, view.id, CREATED),
                 lambda: store.copy(agent, view.id, CREATED),
                 lambda: store.delete(agent, view.id, CREATED),
                 lambda: store.import_coupons(agent, view.id, "A1\n", CREATED)):
        with pytest.raises(PermissionDenied):
            await call()
    assert (await store.get(view.id, CREATED)).settings.name == "秋季發票登錄"
    assert len(await audit_rows(db, view.id)) == 1  # only the create


async def test_lifecycle_publish_pause_resume_end(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    published = await store.publish(marketer, view.id, CREATED)
    assert published.status is CampaignStatus.SCHEDULED
    assert (await store.get(view.id, DURING)).status is CampaignStatus.RUNNING
    paused = await store.pause(marketer, view.id, DURING)
    assert paused.status is CampaignStatus.PAUSED
    resumed = await store.resume(marketer, view.id, DURING)
    assert resumed.status is CampaignStatus.RUNNING
    with pytest.raises(ActionRefused):
        await store.resume(marketer, view.id, DURING)  # running: nothing to resume
    assert (await store.get(view.id, AFTER)).status is CampaignStatus.ENDED
    actions = [e.action for e in await audit_rows(db, view.id)]
    assert actions == ["campaign.create", "campaign.publish", "campaign.pause", "campaign.resume"]


async def test_edits_checked_against_status(world):
    _, store, channel, other, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    # a draft may change anything, including conditions and channel
    view = await store.save(marketer, view.id, settings(other, cap=2, threshold=200), CREATED)
    assert view.channel_name == "Second Shop" and view.settings.conditions.per_person_cap == 2
    await store.publish(marketer, view.id, CREATED)
    # running: 儲存 is not an action; edits go through 發布, and conditions are locked
    with pytest.raises(ActionRefused, match="儲存"):
        await store.save(marketer, view.id, settings(other, cap=2, threshold=200, name="新名"), DURING)
    with pytest.raises(CampaignSettingsError) as caught:
        await store.publish(marketer, view.id, DURING, settings(other, cap=5, threshold=200))
    assert caught.value.fields == ["conditions.per_person_cap"]
    assert "進行中" in str(caught.value)
    renamed = await store.publish(marketer, view.id, DURING, settings(other, cap=2, threshold=200,
                                                                       name="新名"))
    assert renamed.settings.name == "新名"
    # paused: 儲存 is allowed for the published-editable fields
    await store.pause(marketer, view.id, DURING)
    saved = await store.save(marketer, view.id, settings(other, cap=2, threshold=200, name="再改"), DURING)
    assert saved.settings.name == "再改" and saved.status is CampaignStatus.PAUSED
    # ended: nothing editable, only 返回
    with pytest.raises(ActionRefused):
        await store.publish(marketer, view.id, AFTER, settings(other, cap=2, threshold=200, name="x"))


async def test_cap_column_follows_settings(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel, cap=3), CREATED)
    await store.save(marketer, view.id, settings(channel, cap=None), CREATED)
    async with db.session() as s:
        assert (await s.get(Campaign, view.id)).cap is None


async def test_copy_makes_a_new_draft_with_templates(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    async with db.session() as s, s.begin():
        s.add(MessageTemplate(campaign_id=view.id, kind="qualified", source='{"type": "text"}'))
    await store.publish(marketer, view.id, CREATED)
    copy = await store.copy(marketer, view.id, AFTER)  # ended campaigns can be copied too
    assert copy.id != view.id and copy.status is CampaignStatus.DRAFT
    assert copy.settings.name == "秋季發票登錄（複本）"
    async with db.session() as s:
        kinds = (await s.execute(select(MessageTemplate.kind)
                                 .where(MessageTemplate.campaign_id == copy.id))).scalars().all()
    assert kinds == ["qualified"]
    [entry] = await audit_rows(db, copy.id)
    assert entry.detail["copied_from"] == view.id


async def test_delete_only_drafts(world):
    db, store, channel, _, marketer, _ = world
    draft = await store.create(marketer, settings(channel), CREATED)
    live = await store.create(marketer, settings(channel, name="上線活動"), CREATED)
    await store.publish(marketer, live.id, CREATED)
    with pytest.raises(ActionRefused, match="刪除"):
        await store.delete(marketer, live.id, DURING)
    customer = await add_customer(db, channel, "Uaaa")
    await add_upload(db, draft.id, customer, "AB00000001", is_draft=True)
    await store.delete(marketer, draft.id, CREATED)
    with pytest.raises(CampaignNotFound):
        await store.get(draft.id, CREATED)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Upload)
                              .where(Upload.campaign_id == draft.id)) == 0
    assert [e.action for e in await audit_rows(db, draft.id)][-1] == "campaign.delete"


async def test_publish_resets_draft_uploads(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    amy = await add_customer(db, channel, "Uamy")
    test_upload = await add_upload(db, view.id, amy, "AB00000001", is_draft=True, status="passed")
    async with db.session() as s, s.begin():
        s.add(Participation(campaign_id=view.id, customer_id=amy, passed_count=1))
        s.add(InvoiceItem(upload_id=test_upload, row_num=1, name="茶", quantity=1, unit_price=1, amount=1))
        s.add(VerificationJob(upload_id=test_upload, state="done"))
        s.add(Reward(upload_id=test_upload, campaign_id=view.id, bot_name="b", module_name="m",
                     coupon_code="C1", state="given"))
        s.add(CouponCode(campaign_id=view.id, code="C1", upload_id=test_upload, assigned_at=CREATED))
        s.add(CouponCode(campaign_id=view.id, code="C2"))
        s.add(CampaignPhone(campaign_id=view.id, customer_id=amy, phone="886912345678",
                            consent_at=CREATED))
        s.add(OutgoingMessage(channel_id=channel, to="Uamy", upload_id=test_upload, kind="qualified",
                              delivery="push", billable=True, messages={"messages": []}, state="sent"))
        s.add(OutgoingMessage(channel_id=channel, to="Uamy", upload_id=test_upload, kind="coupon",
                              delivery="push", billable=True, messages={"messages": []},
                              state="queued"))
    assert (await store.get(view.id, CREATED)).upload_count == 1  # draft uploads show while draft
    published = await store.publish(marketer, view.id, CREATED)
    assert published.upload_count == 0
    async with db.session() as s:
        def count(model):
            return s.scalar(select(func.count()).select_from(model))
        assert await count(Upload) == 0
        assert await count(InvoiceItem) == 0
        assert await count(VerificationJob) == 0
        assert await count(Reward) == 0
        assert await count(Participation) == 0
        assert await count(CampaignPhone) == 0  # a phone given to a draft is test data too
        messages = (await s.execute(select(OutgoingMessage.state, OutgoingMessage.upload_id))).all()
        assert messages == [("sent", None)]  # the sent one stays as the billing record
        codes = dict((await s.execute(select(CouponCode.code, CouponCode.assigned_at))).all())
        assert codes["C1"] is not None and codes["C2"] is None  # a handed-out code stays spent
    [*_, entry] = await audit_rows(db, view.id)
    assert entry.detail["draft_uploads_removed"] == 1


async def test_publish_after_end_refused_and_unknown_campaign(world):
    _, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    with pytest.raises(CampaignSettingsError) as caught:
        await store.publish(marketer, view.id, AFTER)
    assert caught.value.fields == ["action"]
    with pytest.raises(CampaignNotFound):
        await store.publish(marketer, 424242, CREATED)


async def test_list_search_status_and_upload_counts(world):
    db, store, channel, other, marketer, _ = world
    autumn = await store.create(marketer, settings(channel, name="秋季發票登錄"), CREATED)
    winter = await store.create(marketer, settings(other, name="Winter 100% Promo"), CREATED)
    await store.publish(marketer, winter.id, CREATED)
    amy = await add_customer(db, other, "Uamy")
    for i, status in enumerate(["passed", "pending", "duplicate", "unreadable", "not_qualified"]):
        await add_upload(db, winter.id, amy, f"AB0000000{i}", status=status)
    everything = await store.list(DURING)
    assert [c.name for c in everything] == ["Winter 100% Promo", "秋季發票登錄"]
    by_name = {c.name: c for c in everything}
    assert by_name["Winter 100% Promo"].upload_count == 3
    assert by_name["Winter 100% Promo"].status is CampaignStatus.RUNNING
    assert by_name["秋季發票登錄"].status is CampaignStatus.DRAFT
    assert [c.id for c in await store.list(DURING, search="秋季")] == [autumn.id]
    assert [c.id for c in await store.list(DURING, search="second")] == [winter.id]  # channel name
    assert [c.id for c in await store.list(DURING, search="100%")] == [winter.id]
    assert await store.list(DURING, search="0%%") == []
    assert [c.id for c in await store.list(DURING, status=CampaignStatus.DRAFT)] == [autumn.id]
    assert len(await store.list(DURING, limit=1, offset=1)) == 1
    with pytest.raises(ValueError, match="limit"):
        await store.list(DURING, limit=0)


async def test_import_coupons_is_audited_and_fills_waiting(world):
    db, store, channel, _, marketer, _ = world
    view = await store.create(marketer, settings(channel), CREATED)
    report, given = await store.import_coupons(marketer, view.id, "code\nA1\nA2\n", CREATED)
    assert report.imported == 2 and given == []
    [*_, entry] = await audit_rows(db, view.id)
    assert (entry.action, entry.detail["imported"]) == ("campaign.coupons.import", 2)


async def test_actor_named(world):
    db, *_ = world
    actor = await actor_named(db, "mia")
    assert actor.role is Role.MARKETER
    with pytest.raises(UnknownActor):
        await actor_named(db, "nobody")

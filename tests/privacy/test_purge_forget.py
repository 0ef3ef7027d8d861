"""The retention purge and forget-me against both databases: what goes (photos, names, phones,
LINE user IDs become pseudonyms, outbox text), what stays (statistics, invoice facts), audits."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert, select

from bot.campaigns.stats import campaign_stats
from bot.campaigns.store import CampaignStore
from bot.config import Config, ConfigError
from bot.photo_store import LocalPhotoStore
from bot.privacy.forget import forget
from bot.privacy.keys import pseudonym_key
from bot.privacy.purge import purge
from bot.privacy.service import purge_once
from bot.storage.crm_models import Contact, ContactPhone
from bot.storage.models import (
    AuditEntry,
    Campaign,
    CampaignPhone,
    CarrierQuery,
    Customer,
    OutgoingMessage,
    Upload,
    WebhookEvent,
)
from flows.campaigns.roles import Role
from flows.privacy.pseudonyms import is_pseudonym, pseudonymise
from tests.campaign_store.data import (
    CREATED,
    END,
    add_actor,
    add_channel,
    add_customer,
    add_phone,
    add_upload,
    settings,
)

UID_A, UID_B = "U" + "a" * 32, "U" + "b" * 32
AFTER_RETENTION = END + dt.timedelta(days=180, minutes=1)


async def _world(db, tmp_path):
    """Two campaigns on one channel: A ended 2023-12-31 (retention 180 days), B runs a year
    longer. Amy took part in A only, Ben in A and B. Photos on disk, a sent and a queued push."""
    store = CampaignStore(db)
    mia = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db)
    views = []
    for name, end in (("A", END), ("B", END + dt.timedelta(days=365))):
        view = await store.create(mia, settings(channel, name=name, end=end), CREATED)
        await store.publish(mia, view.id, CREATED)
        views.append(view.id)
    a, b = views
    amy = await add_customer(db, channel, UID_A, "=Amy")
    ben = await add_customer(db, channel, UID_B, "Ben")
    # Phones given with consent: Amy's for A, Ben's for A and for B.
    for campaign, customer, phone in ((a, amy, "886912345678"), (a, ben, "886987654321"), (b, ben, "886987654321")):
        await add_phone(db, campaign, customer, phone)
    files = LocalPhotoStore(tmp_path)
    uploads = {}
    for key, campaign, customer, number in (("amy-a", a, amy, "AB00000001"), ("ben-a", a, ben, "AB00000002"),
                                            ("ben-b", b, ben, "AB00000003")):
        path = f"photos/{campaign}/{number}.jpg"
        (tmp_path / "photos" / str(campaign)).mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"\xff\xd8\xff photo")
        uploads[key] = await add_upload(db, campaign, customer, number, status="passed", photo_path=path)
    async with db.session() as s, s.begin():
        for state in ("sent", "queued"):
            await s.execute(insert(OutgoingMessage).values(
                channel_id=channel, customer_id=amy, to=UID_A, kind="qualified", delivery="push", billable=True,
                messages={"messages": [{"type": "text", "text": "Amy 你好"}]}, state=state,
                not_before=CREATED, attempts=0, created_at=CREATED))
    return {"store": store, "a": a, "b": b, "amy": amy, "ben": ben, "files": files, "uploads": uploads,
            "channel": channel}


async def test_nothing_is_purged_before_the_retention_period_ends(database, tmp_path):
    w = await _world(database, tmp_path)
    async with database.session() as s, s.begin():
        report = await purge(s, END + dt.timedelta(days=179), files=w["files"])
    assert report.campaigns == [] and report.erased.counts()["customers"] == 0
    assert (tmp_path / f"photos/{w['a']}/AB00000001.jpg").exists()


async def test_dry_run_shows_what_would_go_and_changes_nothing(database, tmp_path):
    w = await _world(database, tmp_path)
    async with database.session() as s, s.begin():
        report = await purge(s, AFTER_RETENTION, files=w["files"], dry_run=True)
    data = report.to_dict()
    assert [c["id"] for c in data["campaigns"]] == [w["a"]] and data["campaigns"][0]["retention_days"] == 180
    # the phones given for A (Amy's and Ben's), though Ben still takes part in B
    assert (data["photos"], data["customers"], data["display_names"], data["phones"], data["line_user_ids"]) \
        == (2, 1, 1, 2, 1)
    assert data["messages"] == 2 and data["photo_files"] == 2  # the files that are there
    async with database.session() as s:
        assert (await s.get(Customer, w["amy"])).line_user_id == UID_A
        assert (await s.get(Campaign, w["a"])).purged_at is None
        assert not (await s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.purge"))).all()
    assert (tmp_path / f"photos/{w['a']}/AB00000001.jpg").exists()


async def test_dry_run_counts_the_photo_files_the_real_run_deletes(database, tmp_path):
    """Issue 25: the dry run said 0 photo files while the real run deleted 3. Real files in a
    local photo store; one photo's file is missing already, so it counts for neither run."""
    w = await _world(database, tmp_path)
    path = f"photos/{w['a']}/AB00000004.jpg"
    (tmp_path / path).write_bytes(b"\xff\xd8\xff photo")
    await add_upload(database, w["a"], w["ben"], "AB00000004", status="passed", photo_path=path)
    missing = await add_upload(database, w["a"], w["amy"], "AB00000005", status="passed",
                               photo_path=f"photos/{w['a']}/AB00000005.jpg")
    assert missing and not (tmp_path / f"photos/{w['a']}/AB00000005.jpg").exists()
    async with database.session() as s, s.begin():
        dry = await purge(s, AFTER_RETENTION, files=w["files"], dry_run=True)
    assert (dry.erased.photos, dry.erased.photo_files) == (4, 3)
    assert len(list((tmp_path / "photos" / str(w["a"])).iterdir())) == 3  # nothing deleted
    async with database.session() as s, s.begin():
        real = await purge(s, AFTER_RETENTION, files=w["files"])
    assert (real.erased.photos, real.erased.photo_files) == (4, 3)
    assert list((tmp_path / "photos" / str(w["a"])).iterdir()) == []


async def test_purge_removes_personal_data_and_keeps_statistics(database, tmp_path):
    w = await _world(database, tmp_path)
    async with database.session() as s:
        before = await campaign_stats(s, w["a"])
    async with database.session() as s, s.begin():
        report = await purge(s, AFTER_RETENTION, files=w["files"])
    assert report.erased.photos == 2 and report.erased.photo_files == 2
    # A's photos are gone, B's (still within retention) stay
    assert not (tmp_path / f"photos/{w['a']}/AB00000001.jpg").exists()
    assert (tmp_path / f"photos/{w['b']}/AB00000003.jpg").exists()
    async with database.session() as s:
        amy, ben = await s.get(Customer, w["amy"]), await s.get(Customer, w["ben"])
        key = await pseudonym_key(s)
        assert amy.display_name is None
        assert amy.line_user_id == pseudonymise(key, UID_A) and is_pseudonym(amy.line_user_id)
        # Ben still takes part in B: his data stays until B is purged too, but for the phone he
        # gave for A, which goes with A (the consent was A's)
        assert (ben.display_name, ben.line_user_id) == ("Ben", UID_B)
        phones = (await s.execute(select(CampaignPhone.campaign_id, CampaignPhone.customer_id,
                                         CampaignPhone.phone))).all()
        assert [tuple(p) for p in phones] == [(w["b"], w["ben"], "886987654321")]
        kept = await s.get(Upload, w["uploads"]["amy-a"])
        assert kept.photo_path is None and kept.invoice_number == "AB00000001" and kept.status == "passed"
        assert (await s.get(Upload, w["uploads"]["ben-b"])).photo_path is not None
        after = await campaign_stats(s, w["a"])
        assert after == before  # anonymous statistics are unchanged
        messages = (await s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))).all()
        assert [(m.state, m.to, m.messages) for m in messages] == [
            ("sent", amy.line_user_id, {"messages": [], "purged": True}),
            ("failed", amy.line_user_id, {"messages": [], "purged": True})]
        assert (await s.get(Campaign, w["a"])).purged_at is not None
        [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.purge"))).all()
        assert entry.actor_id is None and entry.detail["actor"] == "system"
        assert entry.detail["campaigns"] == [w["a"]] and entry.detail["photos"] == 2
    # a second run finds nothing left
    async with database.session() as s, s.begin():
        again = await purge(s, AFTER_RETENTION, files=w["files"])
    assert again.campaigns == [] and again.erased.customers == []
    # a year later B is due: Ben goes, and his pseudonym is stable (same key, same ID → same alias)
    async with database.session() as s, s.begin():
        later = await purge(s, AFTER_RETENTION + dt.timedelta(days=366), files=w["files"])
    assert [c["id"] for c in later.campaigns] == [w["b"]] and later.erased.customers == [w["ben"]]
    async with database.session() as s:
        assert (await s.get(Customer, w["ben"])).line_user_id == pseudonymise(await pseudonym_key(s), UID_B)


async def test_a_longer_retention_period_delays_the_purge(database, tmp_path):
    w = await _world(database, tmp_path)
    mia = await add_actor(database, "boss", Role.ADMIN)
    view = await w["store"].set_retention(mia, w["a"], 365, AFTER_RETENTION)
    assert view.settings.retention_days == 365
    async with database.session() as s, s.begin():
        assert (await purge(s, AFTER_RETENTION, files=w["files"])).campaigns == []
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.retention"))).one()
        assert entry.detail["before"] == {"retention_days": 180} and entry.detail["after"] == {"retention_days": 365}
    sam = await add_actor(database, "sam", Role.SALES_AGENT)
    from flows.campaigns.roles import PermissionDenied

    with pytest.raises(PermissionDenied):
        await w["store"].set_retention(sam, w["a"], 30, AFTER_RETENTION)
    from flows.campaigns.errors import CampaignSettingsError

    with pytest.raises(CampaignSettingsError, match="retention_days"):
        await w["store"].set_retention(mia, w["a"], 0, AFTER_RETENTION)


async def test_forget_removes_one_user_everywhere_and_their_crm_links(database, tmp_path):
    w = await _world(database, tmp_path)
    other_channel = await add_channel(database, "第二帳號")
    ben_elsewhere = await add_customer(database, other_channel, UID_B, "Ben 2")
    async with database.session() as s, s.begin():
        contact = Contact(last_name="王", first_name="小明")
        s.add(contact)
        await s.flush()
        s.add_all([ContactPhone(contact_id=contact.id, phone="0987654321", phone_key="0987654321",
                                location_type="住家"),
                   ContactPhone(contact_id=contact.id, phone="0911111111", phone_key="0911111111",
                                location_type="其他")])
    with pytest.raises(ValueError, match="LINE_UID"):
        async with database.session() as s, s.begin():
            await forget(s, "not-an-id", AFTER_RETENTION, files=w["files"])
    async with database.session() as s, s.begin():
        dry = await forget(s, UID_B, AFTER_RETENTION, files=w["files"], crm=True, dry_run=True)
    assert dry.erased.photos == 2 and len(dry.erased.customers) == 2
    assert (dry.erased.crm_contacts, dry.erased.crm_phones) == (1, 2)
    async with database.session() as s, s.begin():
        report = await forget(s, UID_B, AFTER_RETENTION, files=w["files"], crm=True)
    assert report.channels == sorted([w["channel"], other_channel])
    assert not (tmp_path / f"photos/{w['b']}/AB00000003.jpg").exists()
    assert (tmp_path / f"photos/{w['a']}/AB00000001.jpg").exists()  # Amy's stays
    async with database.session() as s:
        for customer_id in (w["ben"], ben_elsewhere):
            row = await s.get(Customer, customer_id)
            assert (row.display_name, row.line_user_id) == (None, report.pseudonym)
        # his phones go from every campaign; the CRM contact keyed 0987654321 matched 886987654321
        assert (await s.scalars(select(CampaignPhone.customer_id))).all() == [w["amy"]]
        assert (await s.get(Customer, w["amy"])).line_user_id == UID_A
        # the contact sharing the user's phone is the same person: its name and every phone go,
        # the row stays (its donations and issued receipts are tax records)
        assert (await s.scalars(select(ContactPhone.phone_key))).all() == []
        kept = await s.get(Contact, contact.id)
        assert (kept.last_name, kept.first_name) == ("", "")
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.forget"))).one()
        assert entry.target == f"user:{report.pseudonym}" and UID_B not in str(entry.detail)
        assert (entry.detail["crm_contacts"], entry.detail["crm_phones"]) == (1, 2)
        stats = await campaign_stats(s, w["b"])
        assert stats.participants == 1  # the pseudonymised user still counts


async def _forget_dry_then_real(db, w, user: str, at: dt.datetime):  # noqa: ANN202
    """forget-me's dry run, then the real one: both reports."""
    async with db.session() as s, s.begin():
        dry = await forget(s, user, at, files=w["files"], dry_run=True)
    async with db.session() as s, s.begin():
        return dry, await forget(s, user, at, files=w["files"])


async def test_forget_deletes_the_users_carrier_codes_and_keeps_others(database, tmp_path):
    w = await _world(database, tmp_path)
    async with database.session() as s, s.begin():
        for customer, barcode in ((w["ben"], "ben-hash"), (w["amy"], "amy-hash")):
            s.add(CarrierQuery(campaign_id=w["b"], customer_id=customer, barcode_hash=barcode, sealed_code="sealed",
                               sealed_barcode="sealed", query_until=AFTER_RETENTION))
    dry, report = await _forget_dry_then_real(database, w, UID_B, AFTER_RETENTION)
    assert dry.erased.carrier_codes == report.erased.carrier_codes == 1
    async with database.session() as s:
        assert (await s.scalars(select(CarrierQuery.barcode_hash))).all() == ["amy-hash"]


def _event(event_id: str, user: str, at: dt.datetime, state: str | None, text: str = "0912345678") -> dict:
    payload = {"type": "message", "webhookEventId": event_id, "source": {"type": "user", "userId": user},
               "message": {"type": "text", "text": text}}
    return {"event_id": event_id, "received_at": at, "event_at": at, "payload": json.dumps(payload),
            "user_key": f"1:{user}", "state": state, "attempts": 0, "next_attempt_at": at,
            "handled_at": at if state in ("done", "failed") else None}


async def _events(db) -> dict[str, WebhookEvent]:
    async with db.session() as s:
        return {e.event_id: e for e in (await s.scalars(select(WebhookEvent))).all()}


async def test_handled_inbox_events_are_pruned_after_the_inbox_retention(database, tmp_path):
    """Issue 25: the inbox was never pruned. Handled events (done, failed, from before the inbox)
    go INBOX_RETENTION_DAYS after receipt; queued and running ones keep what their handling needs."""
    now = AFTER_RETENTION - dt.timedelta(days=200)  # no campaign is due
    old, recent = now - dt.timedelta(days=7, seconds=1), now - dt.timedelta(days=6)
    async with database.session() as s, s.begin():
        await s.execute(insert(WebhookEvent), [
            _event("old-done", UID_A, old, "done"), _event("old-failed", UID_A, old, "failed"),
            _event("old-legacy", UID_A, old, None), _event("old-queued", UID_A, old, "queued"),
            _event("old-running", UID_A, old, "running"), _event("recent-done", UID_A, recent, "done")])
    async with database.session() as s, s.begin():
        dry = await purge(s, now, files=None, dry_run=True, inbox_retention=dt.timedelta(days=7))
    assert dry.inbox_events == 3 and len(await _events(database)) == 6
    async with database.session() as s, s.begin():
        report = await purge(s, now, files=None, inbox_retention=dt.timedelta(days=7))
    assert report.inbox_events == 3 and report.to_dict()["inbox_events"] == 3
    kept = await _events(database)
    assert sorted(kept) == ["old-queued", "old-running", "recent-done"]
    assert kept["old-queued"].payload and kept["old-queued"].user_key == f"1:{UID_A}"
    # The service (at the real time now) prunes in short transactions of a batch each, until
    # none is left: 7 more events of 8 days ago, and recent-done, which is years old by now.
    eight_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
    async with database.session() as s, s.begin():
        await s.execute(insert(WebhookEvent), [_event(f"more-{n}", UID_B, eight_days_ago, "done") for n in range(7)])
    pruned = await purge_once(database, LocalPhotoStore(tmp_path), dt.timedelta(days=7), batch=3)
    assert pruned.inbox_events == 8
    assert sorted(await _events(database)) == ["old-queued", "old-running"]
    assert Config.from_env({}, service=False).inbox_retention_days == 7
    assert Config.from_env({"INBOX_RETENTION_DAYS": "2"}, service=False).inbox_retention_days == 2
    with pytest.raises(ConfigError, match="INBOX_RETENTION_DAYS"):
        Config.from_env({"INBOX_RETENTION_DAYS": "0"}, service=False)


async def test_forget_strips_the_users_inbox_events_and_closes_unhandled_ones(database, tmp_path):
    """Issue 25: after forget-me webhook_events still held the user's ID and what they typed.
    Their events keep only ID and times (so a redelivery is still dropped); one not yet handled
    is closed unhandled; other users' events are untouched."""
    w = await _world(database, tmp_path)
    at = AFTER_RETENTION
    async with database.session() as s, s.begin():
        await s.execute(insert(WebhookEvent), [
            _event("b-done", UID_B, at, "done"), _event("b-queued", UID_B, at, "queued"),
            {**_event("b-unkeyed", UID_B, at, "done"), "user_key": None},
            _event("a-done", UID_A, at, "done", text=f"my friend is {UID_B}"),
            _event("a-other", UID_A, at, "done")])
    dry, report = await _forget_dry_then_real(database, w, UID_B, at)
    assert dry.erased.events == report.erased.events == 4
    events = await _events(database)
    for event_id in ("b-done", "b-queued", "b-unkeyed", "a-done"):
        assert (events[event_id].payload, events[event_id].user_key) == (None, None), event_id
    assert events["b-queued"].state == "done" and events["b-queued"].last_error == "personal data erased"
    assert events["a-other"].payload and events["a-other"].user_key == f"1:{UID_A}"


async def test_forget_crm_erases_the_donor_and_keeps_issued_receipts_as_tax_records(database, tmp_path):
    """Issue 25: forget-me --crm left the CRM contact's name and email. Now every contact with
    one of the user's phones loses its personal data; an issued receipt keeps title and serial."""
    from decimal import Decimal

    from bot.storage.crm_models import ContactEmail, Contribution, DonationPage, EmailOutbox

    w = await _world(database, tmp_path)
    async with database.session() as s, s.begin():
        page = DonationPage(key="p", name="募資", backme_secret="x", financial_type="捐款")
        contact = Contact(last_name="陳", first_name="大文", external_identifier="backer-1")
        s.add_all([page, contact])
        await s.flush()
        s.add_all([ContactPhone(contact_id=contact.id, phone="0987-654321", phone_key="0987654321", location_type="住家"),
                   ContactEmail(contact_id=contact.id, email="dawen@example.com", email_key="dawen@example.com",
                                location_type="住家")])
        donations = [Contribution(page_id=page.id, processor="挖貝", trade_no=f"T{n}", order_type="normal",
                                  contact_id=contact.id, amount=Decimal(500), financial_type="捐款", status="completed",
                                  order_updated_at=CREATED, fingerprint="f", order_created_at=CREATED,
                                  receipt_title="陳大文", receipt_serial="A123456789", receipt_number=number,
                                  notification_email="dawen@example.com", raw_order={"user": {"name": "陳大文"}},
                                  note_text="陳大文 的留言") for n, number in ((1, "OC-1"), (2, None))]
        s.add_all(donations)
        await s.flush()
        s.add(EmailOutbox(page_id=page.id, contribution_id=donations[0].id, kind="receipt", dedupe_key="d1",
                          to_address="dawen@example.com", subject="收據", body="陳大文 您好"))
    async with database.session() as s, s.begin():
        report = await forget(s, UID_B, AFTER_RETENTION, files=w["files"], crm=True)
    assert (report.erased.crm_contacts, report.erased.crm_phones) == (1, 1)
    async with database.session() as s:
        kept = await s.get(Contact, contact.id)
        assert (kept.last_name, kept.first_name, kept.external_identifier) == ("", "", None)
        assert (await s.scalars(select(ContactEmail))).all() == [] and (await s.scalars(select(EmailOutbox))).all() == []
        issued, unissued = (await s.scalars(select(Contribution).order_by(Contribution.id))).all()
        assert (issued.receipt_title, issued.receipt_serial, issued.receipt_number) == ("陳大文", "A123456789", "OC-1")
        assert (unissued.receipt_title, unissued.receipt_serial) == ("", "")
        for donation in (issued, unissued):
            assert (donation.notification_email, donation.raw_order, donation.note_text) == ("", {}, "")
            assert donation.amount == Decimal(500) and donation.status == "completed"

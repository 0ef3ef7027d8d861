"""The campaign editor's 審核 section over HTTP on SQLite and PostgreSQL: the hold, its days, each
signal's threshold, the reject reasons (one per line) and the appeals per user round-trip through
the form; a bad value comes back beside its field with the form refilled; the section stays
editable while the campaign is published, is text when it ended or for a role that may not edit,
and shows on the campaign's info page."""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from admin_cli.campaign_file import resolve_channel
from bot.storage.models import AuditEntry
from flows.campaigns.lifecycle import CampaignStatus
from flows.campaigns.roles import Role
from flows.campaigns.settings import DEFAULT_REJECT_REASONS, ReviewSettings
from tests.console.campaigns_fixtures import error_beside, form_values, local
from tests.console.test_campaigns import NOW, _published, base_file, base_form, console  # noqa: F401 - a fixture

TUNED = {"review-hold_enabled": "on", "review-hold_days": "14", "review-carrier_users_max": "5",
         "review-carriers_per_user_max": "2", "review-burst_uploads": "20", "review-burst_minutes": "30",
         "review-photo_distance_max": "0", "review-reject_reasons": "重複照片\r\n  共用載具 \r\n\r\n非本活動發票",
         "review-appeals_per_user": "0"}
TUNED_SETTINGS = ReviewSettings(hold_enabled=True, hold_days=14, carrier_users_max=5, carriers_per_user_max=2,
                                burst_uploads=20, burst_minutes=30, photo_distance_max=0,
                                reject_reasons=("重複照片", "共用載具", "非本活動發票"), appeals_per_user=0)


def _id(response) -> int:  # noqa: ANN001
    return int(response.headers["Location"].split("/")[3].split("?")[0])


async def test_a_new_campaign_offers_the_defaults_with_the_hold_off(console):
    marketer = await console.sign_in(Role.MARKETER)
    values = form_values(await (await marketer.get("/console/campaigns/new")).text())
    defaults = ReviewSettings()
    assert values["review-hold_enabled"] == ["off"]
    assert values["review-hold_days"] == [str(defaults.hold_days)]
    assert values["review-burst_uploads"] == [str(defaults.burst_uploads)]
    assert values["review-photo_distance_max"] == [str(defaults.photo_distance_max)]
    assert values["review-reject_reasons"] == ["\n".join(DEFAULT_REJECT_REASONS)]
    assert values["review-appeals_per_user"] == [str(defaults.appeals_per_user)]
    # A form posted without the section (an older page) keeps the defaults.
    made = await marketer.post("/console/campaigns/new", base_form(console.channel))
    assert made.status == 303
    assert (await console.store.get(_id(made), NOW)).settings.review == defaults


async def test_review_settings_round_trip_and_show_on_the_info_page(console):
    marketer = await console.sign_in(Role.MARKETER)
    made = await marketer.post("/console/campaigns/new", base_form(console.channel, **TUNED))
    assert made.status == 303, await made.text()
    campaign_id = _id(made)
    assert (await console.store.get(campaign_id, NOW)).settings.review == TUNED_SETTINGS

    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    values = form_values(page)
    assert values["review-hold_enabled"] == ["on"] and values["review-hold_days"] == ["14"]
    assert values["review-carrier_users_max"] == ["5"] and values["review-carriers_per_user_max"] == ["2"]
    assert values["review-burst_uploads"] == ["20"] and values["review-burst_minutes"] == ["30"]
    assert values["review-photo_distance_max"] == ["0"] and values["review-appeals_per_user"] == ["0"]
    assert values["review-reject_reasons"] == ["重複照片\n共用載具\n非本活動發票"]

    # Saving the page as shown changes nothing; turning the hold off keeps the rest.
    resent = [(k, v[0]) for k, v in values.items() if v] + [("action", "save")]
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", resent)).status == 303
    assert (await console.store.get(campaign_id, NOW)).settings.review == TUNED_SETTINGS
    off = [(k, "off" if k == "review-hold_enabled" else v) for k, v in resent]
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", off)).status == 303
    assert (await console.store.get(campaign_id, NOW)).settings.review == dataclasses.replace(
        TUNED_SETTINGS, hold_enabled=False)

    info = await (await marketer.get(f"/console/campaigns/{campaign_id}/info")).text()
    summary = info[info.index('id="settings"'):]
    for text in ("不保留（通過後立即送獎）", "超過 5 位 LINE 使用者", "超過 2 個載具", "30 分鐘內超過 20 張",
                 "差異不超過 0 位元", "重複照片、共用載具、非本活動發票", "不開放回報問題"):
        assert text in summary, text


async def test_a_bad_value_is_named_beside_its_field_and_the_form_refilled(console):
    marketer = await console.sign_in(Role.MARKETER)
    bad = {**TUNED, "review-hold_days": "0", "review-burst_minutes": "十", "review-reject_reasons": " \r\n ",
           "review-appeals_per_user": "101"}
    response = await marketer.post("/console/campaigns/new", base_form(console.channel, **bad))
    assert response.status == 422
    page = await response.text()
    assert "必須是整數" in error_beside(page, "review-burst_minutes")
    assert 'aria-describedby="review-burst_minutes-error" aria-invalid="true"' in page
    values = form_values(page)
    assert values["review-burst_minutes"] == ["十"] and values["review-hold_days"] == ["0"]
    assert values["review-hold_enabled"] == ["on"] and values["review-carrier_users_max"] == ["5"]
    assert await console.store.count() == 0

    # With every value well-formed, the campaign file's validators speak, each beside its field.
    response = await marketer.post("/console/campaigns/new",
                                   base_form(console.channel, **{**bad, "review-burst_minutes": "30"}))
    assert response.status == 422
    page = await response.text()
    assert "審核保留天數需為 1 到 90 的整數" in error_beside(page, "review-hold_days")
    assert "請至少設定一個退件原因" in error_beside(page, "review-reject_reasons")
    assert "每人回報問題次數需為 0 到 100 的整數" in error_beside(page, "review-appeals_per_user")
    assert error_beside(page, "review-burst_minutes") == "" and error_beside(page, "name") == ""
    long_reason = {**TUNED, "review-reject_reasons": "重複照片\n" + "原" * 31}
    page = await (await marketer.post("/console/campaigns/new", base_form(console.channel, **long_reason))).text()
    assert "退件原因最多 30 個字" in error_beside(page, "review-reject_reasons")
    assert form_values(page)["review-reject_reasons"] == ["重複照片\n" + "原" * 31]
    assert await console.store.count() == 0


async def test_the_section_stays_editable_while_published(console):
    marketer = await console.sign_in(Role.MARKETER)
    campaign_id = await _published(console, marketer)
    page = await (await marketer.get(f"/console/campaigns/{campaign_id}")).text()
    offered = form_values(page)
    assert "scope_kind" not in offered and "review-hold_days" in offered  # step 2 is text, 審核 is not
    sent = [("name", "進行中活動"), *TUNED.items(), ("action", "publish")]
    wrong = [(k, "91" if k == "review-hold_days" else v) for k, v in sent]
    refused = await marketer.post(f"/console/campaigns/{campaign_id}", wrong)
    assert refused.status == 422
    assert "審核保留天數需為 1 到 90 的整數" in error_beside(await refused.text(), "review-hold_days")
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", sent)).status == 303
    view = await console.store.get(campaign_id, NOW)
    assert view.settings.review == TUNED_SETTINGS and view.status is CampaignStatus.RUNNING
    async with console.db.session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.target == f"campaign:{campaign_id}")
                                 .order_by(AuditEntry.id.desc()))).scalars().first()
    assert entry.actor_id == marketer.actor.id

    # Pausing from a form without the section keeps the stored review settings.
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", [("action", "pause")])).status == 303
    assert (await console.store.get(campaign_id, NOW)).settings.review == TUNED_SETTINGS


async def test_roles_and_an_ended_campaign_see_the_settings_as_text(console):
    marketer = await console.sign_in(Role.MARKETER)
    campaign_id = await _published(console, marketer)
    for role in (Role.SUPPORT_MANAGER, Role.SALES_AGENT):  # 客服經理 reviews uploads, yet edits no campaign
        reader = await console.sign_in(role)
        page = await (await reader.get(f"/console/campaigns/{campaign_id}")).text()
        assert not {k for k in form_values(page) if k.startswith("review-")}
        assert "不保留（通過後立即送獎）" in page and "重複照片、共用載具、發票資料不符、其他" in page
        forged = await reader.post(f"/console/campaigns/{campaign_id}", [*TUNED.items(), ("action", "save")])
        assert forged.status == 403
    supervisor = await console.sign_in(Role.SUPERVISOR)
    assert (await supervisor.post(f"/console/campaigns/{campaign_id}",
                                  [*TUNED.items(), ("action", "publish")])).status == 303
    assert (await console.store.get(campaign_id, NOW)).settings.review == TUNED_SETTINGS

    # A campaign that ended: text, and a forged change is refused.
    ended = await _ended(console, marketer)
    page = await (await marketer.get(f"/console/campaigns/{ended}")).text()
    assert not {k for k in form_values(page) if k.startswith("review-")} and "保留 14 天" in page
    refused = await marketer.post(f"/console/campaigns/{ended}",
                                  [*{**TUNED, "review-hold_days": "3"}.items(), ("action", "save")])
    assert refused.status == 422 and "活動狀態為「已結束」時不可執行「儲存」" in await refused.text()
    assert (await console.store.get(ended, NOW)).settings.review == TUNED_SETTINGS


async def _ended(console, marketer) -> int:  # noqa: ANN001
    """A campaign with the tuned review settings that ran 40 to 35 days ago."""
    past = NOW - dt.timedelta(days=40)
    data = base_file()
    data.update(name="已結束活動", start_at=local(past), end_at=local(past + dt.timedelta(days=5)),
                review=TUNED_SETTINGS.to_dict(),
                conditions={**data["conditions"], "issue_dates": {
                    "start": (past.date() - dt.timedelta(days=5)).isoformat(), "end": past.date().isoformat()}})
    async with console.db.session() as session:
        settings = await resolve_channel(session, data)
    view = await console.store.create(marketer.actor, settings, past - dt.timedelta(days=1))
    await console.store.publish(marketer.actor, view.id, past - dt.timedelta(days=1))
    return view.id


async def test_a_review_change_needs_the_sessions_csrf_token(console):
    marketer = await console.sign_in(Role.MARKETER)
    campaign_id = await _published(console, marketer)
    forged = [*TUNED.items(), ("action", "publish"), ("csrf_token", "x" * 43)]
    assert (await marketer.post(f"/console/campaigns/{campaign_id}", forged)).status == 403
    assert (await console.store.get(campaign_id, NOW)).settings.review == ReviewSettings()

"""The lifecycle table: derived status, editable fields, settings and list actions, and effects."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from flows.campaigns.dates import TAIPEI
from flows.campaigns.lifecycle import (
    COPY_SUFFIX,
    LIST_ACTIONS,
    SETTINGS_ACTIONS,
    ActionRefused,
    CampaignStatus,
    Lifecycle,
    ListAction,
    SettingsAction,
    UploadGate,
    apply_action,
    can_delete,
    changed_fields,
    check_edit,
    copy_campaign,
    edit_is_view_only,
    is_editable,
    require_list_action,
    status_of,
    upload_gate,
)
from flows.campaigns.settings import Measure, WholeInvoiceScope

T = lambda *a: dt.datetime(*a, tzinfo=TAIPEI)  # noqa: E731
START, END = T(2024, 4, 1), T(2024, 6, 30, 23, 59, 59)
PUB = T(2024, 3, 1)
S = CampaignStatus
D, SC, RU, PA, EN = S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED, S.ENDED


def test_labels():
    assert [s.label for s in CampaignStatus] == ["草稿", "排程中", "進行中", "暫停中", "已結束"]
    assert all(CampaignStatus.from_label(s.label) is s for s in CampaignStatus)
    assert [a.label for a in SettingsAction] == ["取消", "儲存", "發布", "暫停", "返回"]
    assert [a.label for a in ListAction] == ["編輯", "發票活動資訊", "複製活動", "刪除"]


@pytest.mark.parametrize("published,paused,now,status", [
    (None, False, T(2024, 5, 1), D),
    (None, True, T(2024, 5, 1), D),
    (None, False, T(2030, 1, 1), D),  # a draft never ends
    (PUB, False, T(2024, 3, 31, 23, 59, 59), SC),
    (PUB, False, START, RU),  # start is inclusive
    (PUB, False, T(2024, 5, 1), RU),
    (PUB, False, END, RU),  # end is inclusive
    (PUB, False, END + dt.timedelta(microseconds=1), EN),
    (PUB, True, T(2024, 3, 2), PA),  # paused before start → 暫停中
    (PUB, True, T(2024, 5, 1), PA),
    (PUB, True, END, PA),
    (PUB, True, T(2024, 7, 1), EN),  # paused AND past end → 已結束
    (PUB, False, dt.datetime(2024, 3, 31, 16, 0, tzinfo=dt.timezone.utc), RU),  # = 04-01 00:00 +8
    (PUB, False, dt.datetime(2024, 3, 31, 15, 59, tzinfo=dt.timezone.utc), SC),
])
def test_status_of(published, paused, now, status):
    assert status_of(published, paused, START, END, now) is status


PUBLISHED_FIELDS = ["name", "start_at", "end_at", "rules_url", "image_url", "messages",
                    "messages.eligible"]
LOCKED_FIELDS = ["channel_id", "platform", "conditions.per_person_cap", "conditions.scope",
                 "conditions.scope.blocks[0].keywords", "conditions.issue_dates",
                 "conditions.sellers", "conditions.reward_timing", "conditions.reward",
                 "conditions.higher_tiers[1].min_amount"]


@pytest.mark.parametrize("status", list(CampaignStatus))
@pytest.mark.parametrize("field", PUBLISHED_FIELDS + LOCKED_FIELDS)
def test_editable_matrix(status, field):
    expected = {
        D: True,
        SC: field in PUBLISHED_FIELDS,
        RU: field in PUBLISHED_FIELDS,
        PA: field in PUBLISHED_FIELDS,
        EN: False,
    }[status]
    assert is_editable(status, field) is expected
    refusals = check_edit(status, [field])
    if expected:
        assert refusals == []
    else:
        assert [r.field for r in refusals] == [field]
        assert refusals[0].status is status
        assert status.label in refusals[0].message


def test_refusal_names_field_and_status():
    refusals = check_edit(RU, ["name", "conditions.per_person_cap", "channel_id"])
    assert [r.field for r in refusals] == ["channel_id", "conditions.per_person_cap"]
    assert refusals[1].message == "活動狀態為「進行中」時不可編輯「活動條件」（conditions.per_person_cap）"
    ended = check_edit(EN, ["name"])
    assert ended[0].message == "活動狀態為「已結束」，所有欄位皆不可編輯（活動名稱）"


def test_changed_fields(build_settings, build_conditions):
    old = build_settings()
    new = build_settings(name="新", end_at=T(2024, 7, 31), conditions=build_conditions(
        per_person_cap=2, scope=WholeInvoiceScope(Measure.COUNT, 2)))
    assert changed_fields(old, new) == {"name", "end_at", "conditions.per_person_cap",
                                        "conditions.scope"}
    assert changed_fields(old, old) == set()
    assert check_edit(PA, changed_fields(old, new))[0].field == "conditions.per_person_cap"


@pytest.mark.parametrize("status,settings_actions,list_actions", [
    (D, {"cancel", "save", "publish"}, {"edit", "info", "copy", "delete"}),
    (SC, {"cancel", "pause", "publish"}, {"edit", "info", "copy"}),
    (RU, {"cancel", "pause", "publish"}, {"edit", "info", "copy"}),
    (PA, {"cancel", "save", "publish"}, {"edit", "info", "copy"}),
    (EN, {"back"}, {"edit", "info", "copy"}),
])
def test_actions_table(status, settings_actions, list_actions):
    assert {a.value for a in SETTINGS_ACTIONS[status]} == settings_actions
    assert {a.value for a in LIST_ACTIONS[status]} == list_actions
    assert can_delete(status) is (status is D)
    assert edit_is_view_only(status) is (status is EN)
    for action in ListAction:
        if action.value in list_actions:
            require_list_action(action, status)
        else:
            with pytest.raises(ActionRefused, match=status.label):
                require_list_action(action, status)


LIFECYCLE_FOR = {
    D: Lifecycle(), SC: Lifecycle(PUB), RU: Lifecycle(PUB), PA: Lifecycle(PUB, paused=True),
    EN: Lifecycle(PUB),
}
NOW_FOR = {D: T(2024, 5, 1), SC: T(2024, 3, 15), RU: T(2024, 5, 1), PA: T(2024, 5, 1),
           EN: T(2024, 8, 1)}


@pytest.mark.parametrize("status", list(CampaignStatus))
@pytest.mark.parametrize("action", list(SettingsAction))
def test_apply_action(build_settings, status, action):
    settings = build_settings(start_at=START, end_at=END)
    lifecycle, now = LIFECYCLE_FOR[status], NOW_FOR[status]
    assert lifecycle.status(settings, now) is status
    if action not in SETTINGS_ACTIONS[status]:
        with pytest.raises(ActionRefused) as info:
            apply_action(action, lifecycle, settings, now)
        assert info.value.status is status and info.value.action is action
        assert action.label in str(info.value) and status.label in str(info.value)
        return
    t = apply_action(action, lifecycle, settings, now)
    if action in (SettingsAction.CANCEL, SettingsAction.BACK):
        assert t.lifecycle == lifecycle and not t.save_settings and not t.reset_draft_uploads
    elif action is SettingsAction.SAVE:
        assert t.lifecycle == lifecycle and t.save_settings and not t.reset_draft_uploads
    elif action is SettingsAction.PAUSE:
        assert t.lifecycle == Lifecycle(PUB, paused=True)
        assert t.lifecycle.status(settings, now) is PA
        assert not t.reset_draft_uploads
    elif status is D:  # publish a draft
        assert t.lifecycle == Lifecycle(published_at=now, paused=False)
        assert t.reset_draft_uploads and t.save_settings
        assert t.lifecycle.status(settings, now) is RU
    else:  # publish resumes a paused campaign / publishes edits
        assert t.lifecycle == Lifecycle(PUB, paused=False)
        assert not t.reset_draft_uploads and t.save_settings
        assert t.lifecycle.status(settings, now) is (SC if status is SC else RU)


def test_publish_before_start_schedules(build_settings):
    settings = build_settings(start_at=START, end_at=END)
    t = apply_action(SettingsAction.PUBLISH, Lifecycle(), settings, T(2024, 3, 20))
    assert t.lifecycle.status(settings, T(2024, 3, 20)) is SC


def test_publishing_an_expired_draft_is_refused(build_settings):
    settings = build_settings(start_at=START, end_at=END)
    with pytest.raises(ActionRefused, match="end_at"):
        apply_action(SettingsAction.PUBLISH, Lifecycle(), settings, T(2024, 7, 1))


def test_copy_makes_a_new_draft(build_settings):
    original = build_settings(name="春季發票登錄")
    copy, lifecycle = copy_campaign(original)
    assert copy.name == "春季發票登錄（複本）" and COPY_SUFFIX == "（複本）"
    assert replace(copy, name=original.name) == original
    assert lifecycle == Lifecycle() and lifecycle.status(copy, T(2024, 5, 1)) is D
    long_copy, _ = copy_campaign(build_settings(name="活" * 100))
    assert len(long_copy.name) == 100 and long_copy.name.endswith("（複本）")


@pytest.mark.parametrize("status,gate", [
    (D, UploadGate.ACCEPT), (RU, UploadGate.ACCEPT), (SC, UploadGate.NOT_STARTED),
    (PA, UploadGate.GONE), (EN, UploadGate.ENDED),
])
def test_upload_gate(status, gate):
    assert upload_gate(status) is gate


@pytest.mark.parametrize("data", [
    {"published_at": None, "paused": False},
    {"published_at": "2024-03-01T00:00:00+08:00", "paused": True},
])
def test_lifecycle_json(data):
    lifecycle = Lifecycle.from_dict(data)
    assert lifecycle.to_dict() == data


@pytest.mark.parametrize("data", [
    None, {"published_at": "2024-03-01T00:00:00"}, {"paused": "yes"}, {"published_at": 5},
    {"published_at": None, "extra": 1},
])
def test_lifecycle_json_rejects(data):
    with pytest.raises(ValueError):
        Lifecycle.from_dict(data)

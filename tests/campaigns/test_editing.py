"""The settings-page review: edit rights per status, validation, and the resulting transition."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from flows.campaigns.dates import TAIPEI
from flows.campaigns.editing import review
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.lifecycle import CampaignStatus, Lifecycle, SettingsAction
from flows.campaigns.settings import IssueDateWindow

T = lambda *a: dt.datetime(*a, tzinfo=TAIPEI)  # noqa: E731
PUB = Lifecycle(T(2024, 3, 20))


def test_create_and_publish_a_draft(build_settings):
    edited = build_settings()
    r = review(SettingsAction.PUBLISH, Lifecycle(), None, edited, T(2024, 3, 25))
    assert r.ok and r.status is CampaignStatus.DRAFT
    assert r.transition.reset_draft_uploads and r.transition.lifecycle.published_at == T(2024, 3, 25)


def test_draft_may_change_conditions_but_must_validate(build_settings, build_conditions):
    saved = build_settings()
    edited = build_settings(conditions=build_conditions(per_person_cap=0))
    r = review(SettingsAction.SAVE, Lifecycle(), saved, edited, T(2024, 3, 25))
    assert not r.ok and [e.field for e in r.errors] == ["conditions.per_person_cap"]
    with pytest.raises(CampaignSettingsError):
        r.raise_for_errors()
    fixed = build_settings(conditions=build_conditions(per_person_cap=2))
    r = review(SettingsAction.SAVE, Lifecycle(), saved, fixed, T(2024, 3, 25))
    assert r.ok and r.raise_for_errors().save_settings


def test_running_campaign_refuses_condition_edits(build_settings, build_conditions):
    saved = build_settings()
    edited = build_settings(name="改名", conditions=build_conditions(per_person_cap=5))
    r = review(SettingsAction.PUBLISH, PUB, saved, edited, T(2024, 5, 1))
    assert r.status is CampaignStatus.RUNNING and not r.ok
    assert [e.field for e in r.errors] == ["conditions.per_person_cap"]
    assert "進行中" in r.errors[0].message


def test_running_campaign_renames_long_after_its_window_was_set(build_settings):
    # window from 2024-01-01: on 2024-11-01 a new window may start no earlier than 2024-02-01
    saved = build_settings(end_at=T(2024, 12, 31))
    now = T(2024, 11, 1)
    r = review(SettingsAction.PUBLISH, PUB, saved, replace(saved, name="改名"), now)
    assert r.status is CampaignStatus.RUNNING and r.ok
    draft = review(SettingsAction.PUBLISH, Lifecycle(), saved, replace(saved, name="改名"), now)
    assert [e.field for e in draft.errors] == ["conditions.issue_dates.start"]
    assert "2024-02-01" in draft.errors[0].message


def test_ended_campaign_only_goes_back(build_settings):
    saved = build_settings()
    after = T(2024, 7, 2)
    back = review(SettingsAction.BACK, PUB, saved, replace(saved, name="x"), after)
    assert back.ok and not back.transition.save_settings
    r = review(SettingsAction.PUBLISH, PUB, saved, replace(saved, name="x"), after)
    assert r.status is CampaignStatus.ENDED and not r.ok
    assert [e.field for e in r.errors] == ["name"]
    r = review(SettingsAction.PUBLISH, PUB, saved, saved, after)
    assert [e.field for e in r.errors] == ["action"] and "已結束" in r.errors[0].message


def test_paused_campaign_resumes_on_publish(build_settings):
    saved = build_settings()
    paused = Lifecycle(T(2024, 3, 20), paused=True)
    edited = replace(saved, end_at=T(2024, 7, 31))
    r = review(SettingsAction.PUBLISH, paused, saved, edited, T(2024, 5, 1))
    assert r.status is CampaignStatus.PAUSED and r.ok
    assert r.transition.lifecycle == Lifecycle(T(2024, 3, 20), paused=False)
    assert not r.transition.reset_draft_uploads


def test_window_change_on_a_draft_is_checked(build_settings, build_conditions):
    saved = build_settings()
    edited = build_settings(conditions=build_conditions(
        issue_dates=IssueDateWindow(dt.date(2023, 1, 1), dt.date(2024, 6, 30))))
    r = review(SettingsAction.SAVE, Lifecycle(), saved, edited, T(2024, 3, 25))
    assert [e.field for e in r.errors] == ["conditions.issue_dates.start"]

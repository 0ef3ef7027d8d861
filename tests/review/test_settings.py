"""The campaign's `review` section: off by default, read strictly, validated with field names,
round-tripped through JSON and the campaign file, editable while the campaign runs."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from admin_cli.campaign_file import parse_text, to_file_text
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.lifecycle import CampaignStatus, check_edit
from flows.campaigns.settings import DEFAULT_REJECT_REASONS, CampaignSettings, ReviewSettings
from flows.campaigns.validate import validate
from tests.campaign_store.data import settings

TODAY = dt.date(2023, 8, 20)


def test_absent_means_off_with_the_defaults():
    s = CampaignSettings.from_dict(settings(1))
    assert s.review == ReviewSettings() and s.review.hold_enabled is False
    assert s.review.reject_reasons == DEFAULT_REJECT_REASONS == ("重複照片", "共用載具", "發票資料不符", "其他")
    assert validate(s, TODAY) == []


def test_round_trip_through_json_and_the_campaign_file():
    data = {**settings(1), "review": {"hold_enabled": True, "hold_days": 14, "carrier_users_max": 5,
                                      "reject_reasons": ["重複照片", "其他"], "appeals_per_user": 1}}
    s = CampaignSettings.from_dict(data)
    assert (s.review.hold_days, s.review.carrier_users_max, s.review.burst_uploads) == (14, 5, 10)
    assert CampaignSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    again = parse_text(to_file_text(s, None))
    assert CampaignSettings.from_dict(again).review == s.review


def test_shape_errors_name_the_field():
    with pytest.raises(CampaignSettingsError) as info:
        CampaignSettings.from_dict({**settings(1), "review": {"hold_enabled": "yes", "hold_days": "7",
                                                              "surprise": 1}})
    fields = {e.field for e in info.value.errors}
    assert fields == {"review.hold_enabled", "review.hold_days", "review.surprise"}


@pytest.mark.parametrize("review,field", [
    ({"hold_days": 0}, "review.hold_days"),
    ({"carrier_users_max": 0}, "review.carrier_users_max"),
    ({"burst_minutes": 2000}, "review.burst_minutes"),
    ({"photo_distance_max": 33}, "review.photo_distance_max"),
    ({"appeals_per_user": -1}, "review.appeals_per_user"),
    ({"reject_reasons": []}, "review.reject_reasons"),
    ({"reject_reasons": ["其他", "其他"]}, "review.reject_reasons[1]"),
    ({"reject_reasons": [" "]}, "review.reject_reasons[0]"),
])
def test_rules(review, field):
    s = CampaignSettings.from_dict({**settings(1), "review": review})
    assert field in {e.field for e in validate(s, TODAY)}


def test_editable_while_the_campaign_runs():
    assert check_edit(CampaignStatus.RUNNING, ["review"]) == []
    assert check_edit(CampaignStatus.ENDED, ["review"])

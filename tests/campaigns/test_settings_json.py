"""Settings ↔ JSON dicts: exact round trip, and every shape/type problem reported with its path."""
from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from flows.campaigns.dates import TAIPEI
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.settings import (
    CampaignSettings,
    CodePool,
    Combinator,
    ItemBlock,
    ItemsScope,
    KeywordMatch,
    Measure,
    Reward,
    SharedLink,
    Tier,
    image_size_advice,
)


@pytest.fixture
def rich_settings(build_settings, build_conditions):
    return build_settings(conditions=build_conditions(
        per_person_cap=3,
        sellers=("全通路", "全通路二店"),
        scope=ItemsScope((ItemBlock(("紅茶", "奶茶"), KeywordMatch.ALL, Measure.AMOUNT, 1000),),
                         Combinator.OR),
        reward=Reward("測試機器人", "LINEPOINT", CodePool()),
        higher_tiers=(Tier(2000, Reward("測試機器人", "兌換連結", SharedLink("https://e.x/c"))),),
    ))


def test_round_trip_through_json_text(rich_settings):
    data = rich_settings.to_dict()
    text = json.dumps(data, ensure_ascii=False)
    again = CampaignSettings.from_dict(json.loads(text))
    assert again == rich_settings
    assert again.to_dict() == data


def test_dict_shape(rich_settings):
    data = rich_settings.to_dict()
    assert data["start_at"] == "2024-04-01T00:00:00+08:00"
    assert data["end_at"] == "2024-06-30T23:59:59+08:00"
    assert data["platform"] == "line"
    c = data["conditions"]
    assert c["issue_dates"] == {"start": "2024-01-01", "end": "2024-06-30"}
    assert c["sellers"] == ["全通路", "全通路二店"]
    assert c["scope"] == {"kind": "items", "combinator": "or", "blocks": [
        {"keywords": ["紅茶", "奶茶"], "match": "all", "measure": "amount", "threshold": 1000}]}
    assert c["reward"] == {"bot_name": "測試機器人", "module_name": "LINEPOINT",
                           "coupon": {"kind": "code_pool"}}
    assert c["higher_tiers"] == [{"min_amount": 2000, "reward": {
        "bot_name": "測試機器人", "module_name": "兌換連結",
        "coupon": {"kind": "shared_link", "url": "https://e.x/c"}}}]


def test_utc_times_are_written_in_taipei(build_settings):
    s = build_settings(start_at=dt.datetime(2024, 3, 31, 16, 0, tzinfo=dt.timezone.utc))
    assert s.to_dict()["start_at"] == "2024-04-01T00:00:00+08:00"


def test_naive_times_are_taipei_wall_time(rich_settings):
    data = rich_settings.to_dict()
    data["start_at"] = "2024-04-01T00:00:00"
    parsed = CampaignSettings.from_dict(data)
    assert parsed.start_at == dt.datetime(2024, 4, 1, tzinfo=TAIPEI)
    assert parsed.start_at.utcoffset() == dt.timedelta(hours=8)


def test_optional_fields_default(rich_settings):
    data = rich_settings.to_dict()
    for key in ("platform", "image_url"):
        del data[key]
    for key in ("per_person_cap", "sellers", "reward_timing", "reward", "higher_tiers"):
        del data["conditions"][key]
    parsed = CampaignSettings.from_dict(data)
    assert parsed.image_url is None and parsed.conditions.sellers is None
    assert parsed.conditions.per_person_cap is None and parsed.conditions.higher_tiers == ()
    assert parsed.conditions.reward is None


def errors_for(data) -> dict[str, str]:
    with pytest.raises(CampaignSettingsError) as info:
        CampaignSettings.from_dict(data)
    return {e.field: e.message for e in info.value.errors}


def edit(data, path, value):
    d = copy.deepcopy(data)
    target = d
    *parents, last = path
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return d


@pytest.mark.parametrize("path,value,field,needle", [
    (("name",), KeyError, "name", "必填"),
    (("name",), 5, "name", "文字"),
    (("start_at",), "2024-13-01T00:00", "start_at", "日期時間"),
    (("end_at",), 1700000000, "end_at", "ISO 8601"),
    (("platform",), "facebook", "platform", "line"),
    (("channel_id",), None, "channel_id", "文字"),
    (("image_url",), ["x"], "image_url", "文字"),
    (("colour",), "red", "colour", "未知的欄位"),
    (("conditions",), [], "conditions", "物件"),
    (("conditions", "per_person_cap"), True, "conditions.per_person_cap", "整數"),
    (("conditions", "per_person_cap"), "3", "conditions.per_person_cap", "整數"),
    (("conditions", "per_person_cap"), 2.5, "conditions.per_person_cap", "整數"),
    (("conditions", "issue_dates"), KeyError, "conditions.issue_dates", "必填"),
    (("conditions", "issue_dates", "start"), "2024/01/01", "conditions.issue_dates.start", "YYYY-MM-DD"),
    (("conditions", "issue_dates", "end"), "2024-02-30", "conditions.issue_dates.end", "有效"),
    (("conditions", "sellers"), "全通路", "conditions.sellers", "清單"),
    (("conditions", "sellers"), ["全通路", 7], "conditions.sellers[1]", "文字"),
    (("conditions", "reward_timing"), "later", "conditions.reward_timing", "list_only"),
    (("conditions", "scope", "kind"), "some", "conditions.scope.kind", "whole_invoice"),
    (("conditions", "scope", "combinator"), "xor", "conditions.scope.combinator", "and"),
    (("conditions", "scope", "blocks"), {}, "conditions.scope.blocks", "清單"),
    (("conditions", "scope", "blocks", 0, "keywords"), "紅茶", "conditions.scope.blocks[0].keywords", "清單"),
    (("conditions", "scope", "blocks", 0, "match"), "some", "conditions.scope.blocks[0].match", "any"),
    (("conditions", "scope", "blocks", 0, "measure"), "weight", "conditions.scope.blocks[0].measure", "count"),
    (("conditions", "scope", "blocks", 0, "threshold"), "1000", "conditions.scope.blocks[0].threshold", "整數"),
    (("conditions", "reward", "coupon"), {"kind": "voucher"}, "conditions.reward.coupon.kind", "code_pool"),
    (("conditions", "reward", "coupon"), {"kind": "shared_link"}, "conditions.reward.coupon.url", "必填"),
    (("conditions", "reward", "bot_name"), KeyError, "conditions.reward.bot_name", "必填"),
    (("conditions", "higher_tiers", 0, "min_amount"), None, "conditions.higher_tiers[0].min_amount", "整數"),
    (("conditions", "higher_tiers", 0, "extra"), 1, "conditions.higher_tiers[0].extra", "未知"),
])
def test_shape_errors_name_the_field(rich_settings, path, value, field, needle):
    errors = errors_for(edit(rich_settings.to_dict(), path, value))
    assert field in errors, errors
    assert needle in errors[field]


def test_whole_invoice_scope_shape_errors(rich_settings):
    data = edit(rich_settings.to_dict(), ("conditions", "scope"),
                {"kind": "whole_invoice", "measure": "amount", "threshold": -1.5, "blocks": []})
    errors = errors_for(data)
    assert set(errors) == {"conditions.scope.threshold", "conditions.scope.blocks"}


def test_every_shape_error_is_collected(rich_settings):
    data = rich_settings.to_dict()
    data["name"] = None
    data["end_at"] = "tomorrow"
    data["conditions"]["per_person_cap"] = "many"
    data["conditions"]["scope"]["blocks"][0]["threshold"] = None
    errors = errors_for(data)
    assert set(errors) == {"name", "end_at", "conditions.per_person_cap",
                           "conditions.scope.blocks[0].threshold"}


@pytest.mark.parametrize("data", [None, [], "settings", 3])
def test_not_an_object(data):
    assert errors_for(data) == {"(root)": "必須是物件 (JSON object)"}


def test_image_size_advice():
    assert image_size_advice(888, 888) is None
    assert "888 * 888" in image_size_advice(1040, 1040)
    assert "1040 * 500" in image_size_advice(1040, 500)

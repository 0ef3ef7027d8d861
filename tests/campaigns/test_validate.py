"""Business-rule validation: each error, with its dotted field path, and exhaustive collection."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from flows.campaigns.errors import CampaignSettingsError, FieldError
from flows.campaigns.settings import (
    CodePool,
    Combinator,
    IssueDateWindow,
    ItemBlock,
    ItemsScope,
    KeywordMatch,
    Measure,
    Reward,
    RewardTiming,
    SharedLink,
    Tier,
    WholeInvoiceScope,
)
from flows.campaigns.validate import ensure_valid, validate

TODAY = dt.date(2024, 3, 15)
A, C = Measure.AMOUNT, Measure.COUNT
R1 = Reward("測試機器人", "LINEPOINT", CodePool())
R2 = Reward("測試機器人", "兌換連結", SharedLink("https://example.com/c"))
RED = ItemBlock(("紅茶",), KeywordMatch.ANY, A, 1000)
MILK = ItemBlock(("奶茶",), KeywordMatch.ALL, C, 2)


def test_baseline_is_valid(build_settings):
    assert validate(build_settings(), TODAY) == []


# (settings overrides, condition overrides, field, text in the message)
CASES = [
    ({"name": "   "}, {}, "name", "活動名稱"),
    ({"name": "活" * 101}, {}, "name", "100"),
    ({"end_at": dt.datetime(2024, 4, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))}, {},
     "end_at", "晚於開始時間"),
    ({"start_at": dt.datetime(2024, 4, 1)}, {}, "start_at", "時區"),
    ({"end_at": "2024-06-30"}, {}, "end_at", "日期時間"),
    ({"rules_url": ""}, {}, "rules_url", "個資"),
    ({"rules_url": "example.com/rules"}, {}, "rules_url", "http"),
    ({"rules_url": "javascript:alert(1)"}, {}, "rules_url", "http"),
    ({"rules_url": "https:///rules"}, {}, "rules_url", "網域"),
    ({"rules_url": "https://example.com/a b"}, {}, "rules_url", "空白"),
    ({"rules_url": "https://example.com/" + "a" * 2000}, {}, "rules_url", "2000"),
    ({"image_url": "ftp://example.com/a.png"}, {}, "image_url", "http"),
    ({"channel_id": ""}, {}, "channel_id", "渠道"),
    ({"channel_id": "16 57"}, {}, "channel_id", "格式"),
    ({}, {"per_person_cap": 0}, "conditions.per_person_cap", "1 以上"),
    ({}, {"per_person_cap": True}, "conditions.per_person_cap", "1 以上"),
    ({}, {"issue_dates": IssueDateWindow(dt.date(2024, 2, 1), dt.date(2024, 2, 1))},
     "conditions.issue_dates.end", "大於起始日期"),
    ({}, {"issue_dates": IssueDateWindow(dt.date(2024, 3, 1), dt.date(2024, 2, 1))},
     "conditions.issue_dates.end", "大於起始日期"),
    ({}, {"issue_dates": IssueDateWindow(dt.date(2023, 5, 31), dt.date(2024, 2, 1))},
     "conditions.issue_dates.start", "2023-06-01"),
    ({}, {"sellers": ()}, "conditions.sellers", "至少"),
    ({}, {"sellers": ("全通路", " ")}, "conditions.sellers[1]", "空白"),
    ({}, {"sellers": ("全通路", "全通路")}, "conditions.sellers[1]", "重複"),
    ({}, {"sellers": ("x" * 101,)}, "conditions.sellers[0]", "100"),
    ({}, {"scope": WholeInvoiceScope(A, 0)}, "conditions.scope.threshold", "元"),
    ({}, {"scope": WholeInvoiceScope(C, -2)}, "conditions.scope.threshold", "件"),
    ({}, {"scope": ItemsScope(())}, "conditions.scope.blocks", "至少"),
    ({}, {"scope": ItemsScope((RED, replace(MILK, keywords=())))},
     "conditions.scope.blocks[1].keywords", "關鍵字"),
    ({}, {"scope": ItemsScope((replace(RED, keywords=("紅茶", "")),))},
     "conditions.scope.blocks[0].keywords[1]", "空白"),
    ({}, {"scope": ItemsScope((replace(RED, keywords=("紅茶", "紅茶 ")),))},
     "conditions.scope.blocks[0].keywords[1]", "重複"),
    ({}, {"scope": ItemsScope((replace(RED, keywords=("茶" * 51,)),))},
     "conditions.scope.blocks[0].keywords[0]", "50"),
    ({}, {"scope": ItemsScope((RED, replace(MILK, threshold=0)))},
     "conditions.scope.blocks[1].threshold", "總件數"),
    ({}, {"scope": ItemsScope((replace(RED, threshold=0),))},
     "conditions.scope.blocks[0].threshold", "總金額"),
    # tiers
    ({}, {"scope": WholeInvoiceScope(C, 3), "higher_tiers": (Tier(5, R2),)},
     "conditions.higher_tiers", "商品件數"),
    ({}, {"scope": ItemsScope((replace(RED, measure=C),)), "higher_tiers": (Tier(5, R2),)},
     "conditions.higher_tiers", "商品件數"),
    ({}, {"scope": ItemsScope((RED, replace(MILK, measure=A))), "higher_tiers": (Tier(5000, R2),)},
     "conditions.higher_tiers", "多個條件"),
    ({}, {"scope": WholeInvoiceScope(A, 100), "higher_tiers": (Tier(100, R2),)},
     "conditions.higher_tiers[0].min_amount", "第 2 級距金額須大於第 1 級距金額（100 元）"),
    ({}, {"scope": ItemsScope((RED,)), "higher_tiers": (Tier(2000, R2), Tier(1500, R2))},
     "conditions.higher_tiers[1].min_amount", "第 3 級距金額須大於第 2 級距金額（2000 元）"),
    ({}, {"higher_tiers": (Tier(0, R2),)}, "conditions.higher_tiers[0].min_amount", "1 以上"),
    # rewards
    ({}, {"reward": None}, "conditions.reward", "優惠券模組"),
    ({}, {"higher_tiers": (Tier(500),)}, "conditions.higher_tiers[0].reward", "第 2 級距"),
    ({}, {"reward": Reward(" ", "LINEPOINT", CodePool())}, "conditions.reward.bot_name", "機器人名稱"),
    ({}, {"reward": Reward("bot", "", CodePool())}, "conditions.reward.module_name", "模組名稱"),
    ({}, {"reward": Reward("bot", "m", SharedLink("www.example.com"))},
     "conditions.reward.coupon.url", "http"),
    ({}, {"higher_tiers": (Tier(500, Reward("bot", "m", SharedLink(""))),)},
     "conditions.higher_tiers[0].reward.coupon.url", "必填"),
    ({}, {"reward_timing": RewardTiming.LIST_ONLY}, "conditions.reward", "僅搜集名單"),
    ({}, {"reward_timing": RewardTiming.LIST_ONLY, "reward": None, "higher_tiers": (Tier(500, R2),)},
     "conditions.higher_tiers[0].reward", "僅搜集名單"),
]


@pytest.mark.parametrize("settings_over,cond_over,field,needle", CASES)
def test_each_error_names_its_field(build_settings, build_conditions, settings_over, cond_over,
                                    field, needle):
    settings = build_settings(conditions=build_conditions(**cond_over), **settings_over)
    errors = validate(settings, TODAY)
    matching = [e for e in errors if e.field == field]
    assert matching, errors
    assert any(needle in e.message for e in matching), matching
    # nothing unrelated is reported
    assert {e.field for e in errors} == {field}, errors


def test_all_errors_are_collected(build_settings, build_conditions):
    settings = build_settings(
        name="", rules_url="nope", channel_id="",
        conditions=build_conditions(
            per_person_cap=0, sellers=(),
            issue_dates=IssueDateWindow(dt.date(2020, 1, 1), dt.date(2019, 1, 1)),
            scope=ItemsScope((RED, replace(MILK, keywords=())), Combinator.AND),
            higher_tiers=(Tier(10, None),), reward=None,
        ))
    fields = [e.field for e in validate(settings, TODAY)]
    assert fields == [
        "name", "rules_url", "channel_id", "conditions.per_person_cap",
        "conditions.issue_dates.end", "conditions.issue_dates.start", "conditions.sellers",
        "conditions.scope.blocks[1].keywords", "conditions.higher_tiers",
        "conditions.higher_tiers", "conditions.reward", "conditions.higher_tiers[0].reward",
    ]
    with pytest.raises(CampaignSettingsError) as info:
        ensure_valid(settings, TODAY)
    assert [e.field for e in info.value.errors] == fields
    assert "conditions.sellers" in str(info.value)


@pytest.mark.parametrize("today,start,ok", [
    (dt.date(2024, 3, 15), dt.date(2023, 6, 1), True),
    (dt.date(2024, 3, 15), dt.date(2023, 5, 31), False),
    (dt.date(2024, 4, 1), dt.date(2023, 8, 1), True),  # even month: only 8 back
    (dt.date(2024, 4, 1), dt.date(2023, 7, 31), False),
    (dt.date(2025, 1, 5), dt.date(2024, 4, 1), True),  # across the year
    (dt.date(2025, 1, 5), dt.date(2024, 3, 31), False),
    (dt.date(2025, 2, 5), dt.date(2024, 6, 1), True),
    (dt.date(2025, 2, 5), dt.date(2024, 5, 31), False),
])
def test_issue_date_limit(build_settings, build_conditions, today, start, ok):
    window = IssueDateWindow(start, dt.date(2025, 6, 30))
    errors = validate(build_settings(conditions=build_conditions(issue_dates=window)), today)
    assert (errors == []) == ok, errors
    if not ok:
        assert errors[0].field == "conditions.issue_dates.start"
        months = 9 if today.month % 2 else 8
        assert f"{months} 個月前" in errors[0].message


def test_unchanged_window_is_not_rechecked_when_editing(build_settings, build_conditions):
    saved = build_settings()  # window starts 2024-01-01
    later = dt.date(2025, 6, 1)  # by now that start is too old
    assert [e.field for e in validate(saved, later)] == ["conditions.issue_dates.start"]
    renamed = replace(saved, name="新名稱")
    assert validate(renamed, later, previous=saved) == []
    moved = build_settings(conditions=build_conditions(
        issue_dates=IssueDateWindow(dt.date(2024, 1, 2), dt.date(2024, 6, 30))))
    assert [e.field for e in validate(moved, later, previous=saved)] == [
        "conditions.issue_dates.start"]


@pytest.mark.parametrize("cond_over", [
    {"scope": WholeInvoiceScope(A, 100), "higher_tiers": (Tier(101, R2), Tier(10**6, R1))},
    {"scope": ItemsScope((RED,), Combinator.OR), "higher_tiers": (Tier(1001, R2),)},
    {"scope": ItemsScope((RED, MILK), Combinator.OR)},
    {"scope": ItemsScope((RED, MILK), Combinator.AND), "per_person_cap": 5},
    {"sellers": ("全通路", "全通路台北")},
    {"reward_timing": RewardTiming.LIST_ONLY, "reward": None, "higher_tiers": (Tier(500),)},
    {"scope": WholeInvoiceScope(C, 1), "per_person_cap": 1},
])
def test_allowed_combinations(build_settings, build_conditions, cond_over):
    assert validate(build_settings(conditions=build_conditions(**cond_over)), TODAY) == []


def test_field_error_forms():
    e = FieldError("conditions.scope.blocks[1].keywords", "請輸入至少一個商品名稱關鍵字")
    assert str(e) == "conditions.scope.blocks[1].keywords: 請輸入至少一個商品名稱關鍵字"
    assert e.to_dict() == {"field": "conditions.scope.blocks[1].keywords",
                           "message": "請輸入至少一個商品名稱關鍵字"}

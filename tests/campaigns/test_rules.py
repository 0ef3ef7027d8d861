"""The rules engine, table-driven: every scope form, tiers, sellers, check order and the seed's rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from flows.campaigns.rules import (
    Duplicate,
    History,
    NotQualified,
    OverCap,
    Passed,
    Rule,
    Unsupported,
    UploadStatus,
    block_value,
    evaluate,
    upload_status_of,
)
from flows.campaigns.settings import (
    CodePool,
    Combinator,
    ItemBlock,
    ItemsScope,
    IssueDateWindow,
    KeywordMatch,
    Measure,
    Reward,
    RewardTiming,
    SharedLink,
    Tier,
    WholeInvoiceScope,
)
from flows.campaigns.validate import validate
from flows.einvoice.model import Item


A, C = Measure.AMOUNT, Measure.COUNT
ANY, ALL = KeywordMatch.ANY, KeywordMatch.ALL
AND, OR = Combinator.AND, Combinator.OR
TODAY = dt.date(2024, 3, 15)
TEA_BASKET = [("全通路紅茶", "3", "1000"), ("全通路綠茶", "1", "10"), ("奶茶 大杯", "2", "55")]


@pytest.fixture
def outcome(build_conditions, build_invoice):
    def judge(scope, items, history=History(), **invoice):
        c = build_conditions(scope=scope)
        return evaluate(build_invoice(items, **invoice), c, history)
    return judge


# --- whole invoice ------------------------------------------------------------------------------

@pytest.mark.parametrize("measure,threshold,items,total,passes", [
    (A, 100, [("x", "1", "100")], None, True),  # exactly at threshold
    (A, 100, [("x", "1", "99")], None, False),
    (A, 100, [], 150, True),  # total from MOF, no items
    (A, 3000, [("x", "1", "10")], 3000, True),  # the total decides, not the item sum
    (C, 3, [("a", "1", "5"), ("b", "2", "5")], None, True),  # quantities summed: 1 + 2
    (C, 3, [("a", "1", "5"), ("b", "1", "5")], None, False),  # two lines are not three items
    (C, 2, [("a", "1.5", "5")], None, False),  # fractional quantities are exact
    (C, 2, [("a", "0.5", "5"), ("b", "1.5", "5")], None, True),
    (C, 1, [], 500, False),  # no items known → count 0
])
def test_whole_invoice(measure, threshold, items, total, passes, outcome):
    kw = {} if total is None else {"total_amount": total}
    result = outcome(WholeInvoiceScope(measure, threshold), items, **kw)
    if passes:
        assert result == Passed(1, Reward("測試機器人", "LINEPOINT", CodePool()))
    else:
        assert isinstance(result, NotQualified) and result.rule is Rule.SCOPE
        assert str(threshold) in result.reason


# --- item blocks: any/all × amount/count ----------------------------------------------------------

@pytest.mark.parametrize("keywords,match,measure,threshold,expected_value", [
    (("紅茶",), ANY, A, 3000, Decimal(3000)),
    (("紅茶", "綠茶"), ANY, A, 3010, Decimal(3010)),  # either keyword: both teas
    (("紅茶", "綠茶"), ALL, A, 1, Decimal(0)),  # no item names both
    (("全通路", "茶"), ALL, A, 3010, Decimal(3010)),  # 紅茶 and 綠茶 contain both words
    (("茶",), ANY, A, 3120, Decimal(3120)),  # all three
    (("紅茶",), ANY, C, 3, Decimal(3)),
    (("茶",), ANY, C, 6, Decimal(6)),  # 3 + 1 + 2
    (("全通路", "茶"), ALL, C, 4, Decimal(4)),
    (("奶茶", "大杯"), ALL, C, 2, Decimal(2)),
    (("ＴＥＡ",), ANY, C, 1, Decimal(0)),
])
def test_block_value_and_threshold(
    keywords, match, measure, threshold, expected_value, build_conditions, build_invoice,
):
    block = ItemBlock(keywords, match, measure, threshold)
    invoice = build_invoice(TEA_BASKET)
    assert block_value(invoice, block) == expected_value
    result = evaluate(invoice, build_conditions(scope=ItemsScope((block,))), History())
    assert isinstance(result, Passed) == (expected_value >= threshold)
    # one less than the value is also reached; one more is not
    if expected_value > 0:
        above = ItemBlock(keywords, match, measure, int(expected_value) + 1)
        assert isinstance(evaluate(invoice, build_conditions(scope=ItemsScope((above,))),
                                   History()), NotQualified)


def test_keywords_match_full_width_and_case(build_invoice):
    invoice = build_invoice([("ＣＯＫＥ Zero 330ml", "2", "30")])
    block = ItemBlock(("coke",), ANY, C, 2)
    assert block_value(invoice, block) == 2


def test_item_amount_uses_the_items_own_amount_when_given(build_invoice):
    invoice = replace(build_invoice([], total_amount=95),
                      items=(Item("紅茶", Decimal(1), Decimal("100"), amount=Decimal("95")),))
    assert block_value(invoice, ItemBlock(("紅茶",), ANY, A, 1)) == Decimal(95)


RED = ItemBlock(("紅茶",), ANY, A, 3000)  # met (3,000)
GREEN_BIG = ItemBlock(("綠茶",), ANY, A, 100)  # not met (10)
MILK = ItemBlock(("奶茶",), ANY, C, 2)  # met (2)
NOTHING = ItemBlock(("咖啡",), ANY, C, 1)  # not met (0)


@pytest.mark.parametrize("blocks,combinator,passes", [
    ((RED, MILK), AND, True),
    ((RED, GREEN_BIG), AND, False),
    ((GREEN_BIG, NOTHING), AND, False),
    ((RED, MILK), OR, True),
    ((RED, GREEN_BIG), OR, True),
    ((GREEN_BIG, RED), OR, True),
    ((GREEN_BIG, NOTHING), OR, False),
    ((RED, MILK, NOTHING), AND, False),
    ((NOTHING, GREEN_BIG, MILK), OR, True),
])
def test_blocks_combined(blocks, combinator, passes, outcome):
    result = outcome(ItemsScope(blocks, combinator), TEA_BASKET)
    if passes:
        assert result == Passed(1, Reward("測試機器人", "LINEPOINT", CodePool()))
    else:
        assert isinstance(result, NotQualified) and result.rule is Rule.SCOPE
        assert "條件" in result.reason


def test_not_qualified_reason_names_the_failing_block(outcome):
    result = outcome(ItemsScope((RED, GREEN_BIG), AND), TEA_BASKET)
    assert isinstance(result, NotQualified)
    assert "條件 2" in result.reason and "綠茶" in result.reason and "10 元" in result.reason
    assert "條件 1" not in result.reason


# --- tiers ----------------------------------------------------------------------------------------

def tier_reward(n: int) -> Reward:
    return Reward("測試機器人", f"獎項{n}", SharedLink(f"https://example.com/c/{n}"))


TIERED = dict(
    reward=tier_reward(1),
    higher_tiers=(Tier(500, tier_reward(2)), Tier(1000, tier_reward(3))),
)


@pytest.mark.parametrize("total,tier", [
    (99, None), (100, 1), (499, 1), (500, 2), (999, 2), (1000, 3), (10**7, 3),
])
def test_tiers_whole_invoice(total, tier, build_conditions, build_invoice, build_settings):
    c = build_conditions(scope=WholeInvoiceScope(A, 100), **TIERED)
    assert validate(build_settings(conditions=c), TODAY) == []
    result = evaluate(build_invoice([], total_amount=total), c, History())
    if tier is None:
        assert isinstance(result, NotQualified)
    else:
        assert result == Passed(tier, tier_reward(tier))


@pytest.mark.parametrize("red_quantity,tier", [("0", None), ("1", 1), ("4", 1), ("5", 2), ("8", 2), ("9", 3)])
def test_tiers_single_item_block(
    red_quantity, tier, build_conditions, build_invoice, build_settings,
):
    c = build_conditions(scope=ItemsScope((ItemBlock(("紅茶",), ANY, A, 100),)), **TIERED)
    assert validate(build_settings(conditions=c), TODAY) == []
    invoice = build_invoice([("紅茶", red_quantity, "120"), ("綠茶", "50", "100")])
    result = evaluate(invoice, c, History())
    if tier is None:
        assert isinstance(result, NotQualified)
    else:
        assert result == Passed(tier, tier_reward(tier))


def test_list_only_passes_without_a_reward_but_keeps_the_tier(build_conditions, build_invoice, build_settings):
    c = build_conditions(reward_timing=RewardTiming.LIST_ONLY, reward=None,
                         higher_tiers=(Tier(500), Tier(1000)))
    assert validate(build_settings(conditions=c), TODAY) == []
    assert evaluate(build_invoice([], total_amount=700), c, History()) == Passed(2, None)


# --- sellers, dates, unsupported, duplicate, cap, order ---------------------------------------

@pytest.mark.parametrize("sellers,seller_name,passes", [
    (None, "任何公司", True),
    (("全通路",), "全通路股份有限公司", True),
    (("全通路股份有限公司",), "全通路股份有限公司", True),
    (("某品牌", "全通路"), "全通路股份有限公司台北分公司", True),
    (("某品牌",), "全通路股份有限公司", False),
    (("全通路股份有限公司台北分公司",), "全通路股份有限公司", False),  # the company name must be inside
    (("ＡＢＣ",), "abc 商行", True),
])
def test_sellers(sellers, seller_name, passes, build_conditions, build_invoice):
    c = build_conditions(sellers=sellers)
    result = evaluate(build_invoice([], total_amount=500, seller_name=seller_name), c, History())
    if passes:
        assert isinstance(result, Passed)
    else:
        assert isinstance(result, NotQualified) and result.rule is Rule.SELLER
        assert seller_name in result.reason


@pytest.mark.parametrize("day,passes", [
    (dt.date(2023, 12, 31), False), (dt.date(2024, 1, 1), True), (dt.date(2024, 6, 30), True),
    (dt.date(2024, 7, 1), False),
])
def test_issue_date_window_inclusive(day, passes, build_conditions, build_invoice):
    result = evaluate(build_invoice([], total_amount=500, date=day), build_conditions(), History())
    assert isinstance(result, Passed) == passes
    if not passes:
        assert isinstance(result, NotQualified) and result.rule is Rule.ISSUE_DATE


@pytest.mark.parametrize("invoice_ban,code_ban,supported", [
    (None, None, True), ("00000000", None, True), ("", "00000000", True),
    ("12345675", None, False), (None, "12345675", False), ("00000000", "12345675", False),
])
def test_buyer_ban(invoice_ban, code_ban, supported, build_conditions, build_invoice):
    invoice = build_invoice([], total_amount=500, buyer_ban=invoice_ban)
    result = evaluate(invoice, build_conditions(), History(), buyer_ban=code_ban)
    if supported:
        assert isinstance(result, Passed)
    else:
        assert isinstance(result, Unsupported) and "統編發票" in result.reason
        assert upload_status_of(result) is UploadStatus.NOT_QUALIFIED


def test_voided_invoice_is_unsupported(build_conditions, build_invoice):
    result = evaluate(build_invoice([], total_amount=500, status="已作廢"), build_conditions(),
                      History())
    assert result == Unsupported("發票已作廢")


@pytest.mark.parametrize("cap,passed_count,expected", [
    (None, 10**6, Passed), (1, 0, Passed), (1, 1, OverCap), (3, 2, Passed), (3, 3, OverCap),
    (3, 7, OverCap),
])
def test_cap(cap, passed_count, expected, build_conditions, build_invoice):
    c = build_conditions(per_person_cap=cap)
    result = evaluate(build_invoice([], total_amount=500), c, History(passed_count=passed_count))
    assert isinstance(result, expected)
    if expected is OverCap:
        assert result == OverCap(cap)


def test_order_of_checks(build_conditions, build_invoice):
    """unsupported → duplicate → issue date → seller → scope → cap."""
    c = build_conditions(sellers=("某品牌",), per_person_cap=1)
    bad = build_invoice([], total_amount=1, date=dt.date(2020, 1, 1), buyer_ban="12345675")
    full = History(passed_count=5, already_passed_in_team=True)
    assert isinstance(evaluate(bad, c, full), Unsupported)
    bad = build_invoice([], total_amount=1, date=dt.date(2020, 1, 1))
    assert evaluate(bad, c, full) == Duplicate()
    no_dup = History(passed_count=5)
    assert evaluate(bad, c, no_dup).rule is Rule.ISSUE_DATE
    bad = build_invoice([], total_amount=1)
    assert evaluate(bad, c, no_dup).rule is Rule.SELLER
    bad = build_invoice([], total_amount=1, seller_name="某品牌台中店")
    assert evaluate(bad, c, no_dup).rule is Rule.SCOPE
    good = build_invoice([], total_amount=500, seller_name="某品牌台中店")
    assert evaluate(good, c, no_dup) == OverCap(1)
    assert isinstance(evaluate(good, c, History(passed_count=0)), Passed)


def test_outcome_to_upload_status():
    assert upload_status_of(Passed(1, None)) is UploadStatus.PASSED
    assert upload_status_of(NotQualified(Rule.SCOPE, "x")) is UploadStatus.NOT_QUALIFIED
    assert upload_status_of(Unsupported("x")) is UploadStatus.NOT_QUALIFIED
    assert upload_status_of(OverCap(2)) is UploadStatus.INVALID
    assert upload_status_of(Duplicate()) is UploadStatus.DUPLICATE
    with pytest.raises(TypeError):
        upload_status_of("通過")  # type: ignore[arg-type]


def test_upload_status_labels_and_counting():
    labels = {s: s.label for s in UploadStatus}
    assert labels == {
        UploadStatus.PENDING: "待驗證", UploadStatus.PASSED: "通過", UploadStatus.INVALID: "無效",
        UploadStatus.NOT_QUALIFIED: "資格不符", UploadStatus.DUPLICATE: "重複登錄",
        UploadStatus.UNRECOGNISED: "無法辨識",
    }
    assert [s for s in UploadStatus if not s.counts_as_upload] == [
        UploadStatus.DUPLICATE, UploadStatus.UNRECOGNISED]
    assert all(UploadStatus.from_label(s.label) is s for s in UploadStatus)
    with pytest.raises(ValueError):
        UploadStatus.from_label("已通過")


# --- the seed's sample export rows ---------------------------------------------------------------

def test_seed_sample_rows(build_conditions, build_invoice, build_settings):
    """發票明細 sample: Amy's AB12312312 passes at tier 1, AB56756756 is 資格不符."""
    reward = Reward("測試機器人", "LINEPOINT", CodePool())
    settings = build_settings(conditions=build_conditions(
        issue_dates=IssueDateWindow(dt.date(2023, 8, 1), dt.date(2023, 9, 30)),
        sellers=("全通路",),
        scope=ItemsScope((ItemBlock(("紅茶",), ANY, A, 1000),)),
        reward=reward,
    ))
    assert validate(settings, dt.date(2023, 9, 1)) == []
    amy = build_invoice([("全通路紅茶", "3", "1000")],
                        invoice_number="AB12312312", date=dt.date(2023, 9, 1))
    assert amy.total_amount == 3000
    result = evaluate(amy, settings, History())
    assert result == Passed(1, reward)
    assert upload_status_of(result).label == "通過"

    green = build_invoice([("全通路綠茶", "1", "10")], invoice_number="AB56756756",
                          date=dt.date(2023, 9, 2))
    result = evaluate(green, settings, History(passed_count=1))
    assert isinstance(result, NotQualified) and result.rule is Rule.SCOPE
    assert "紅茶" in result.reason and "0 元" in result.reason and "1000 元" in result.reason
    assert upload_status_of(result).label == "資格不符"

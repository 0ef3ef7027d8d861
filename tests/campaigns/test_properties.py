"""Hypothesis properties: tiers are monotone, more items never hurt, settings survive JSON."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings as hsettings, strategies as st

from flows.campaigns.dates import TAIPEI
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.rules import History, NotQualified, Passed, evaluate
from flows.campaigns.settings import (
    CampaignSettings,
    CodePool,
    Combinator,
    Conditions,
    IssueDateWindow,
    ItemBlock,
    ItemsScope,
    KeywordMatch,
    Measure,
    Platform,
    Reward,
    RewardTiming,
    SharedLink,
    Tier,
    WholeInvoiceScope,
)
from flows.campaigns.validate import validate
from flows.einvoice.model import Item, VerifiedInvoice

WORDS = ["紅茶", "綠茶", "奶茶", "咖啡", "全通路", "大杯", "Coke"]
REWARD = Reward("bot", "module", CodePool())
WINDOW = IssueDateWindow(dt.date(2024, 1, 1), dt.date(2024, 12, 31))

names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
quantities = st.decimals(min_value=0, max_value=50, places=1)
prices = st.decimals(min_value=0, max_value=5000, places=2)
items = st.builds(Item, names, quantities, prices)
measures = st.sampled_from(list(Measure))
blocks = st.builds(ItemBlock, st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True)
                   .map(tuple), st.sampled_from(list(KeywordMatch)), measures,
                   st.integers(min_value=1, max_value=5000))
scopes = st.one_of(
    st.builds(WholeInvoiceScope, measures, st.integers(min_value=1, max_value=5000)),
    st.builds(ItemsScope, st.lists(blocks, min_size=1, max_size=3).map(tuple),
              st.sampled_from(list(Combinator))),
)


def invoice_of(item_list: list[Item]) -> VerifiedInvoice:
    total = int(sum((i.subtotal for i in item_list), Decimal(0)))
    return VerifiedInvoice("AB12345678", dt.date(2024, 5, 1), "全通路股份有限公司", "82910724",
                           total, tuple(item_list))


def tier_of(outcome) -> int:
    return outcome.tier if isinstance(outcome, Passed) else 0


@st.composite
def tiered_conditions(draw) -> Conditions:
    base = draw(st.integers(min_value=1, max_value=1000))
    steps = draw(st.lists(st.integers(min_value=1, max_value=1000), max_size=5))
    amounts, current = [], base
    for step in steps:
        current += step
        amounts.append(current)
    scope = draw(st.one_of(
        st.just(WholeInvoiceScope(Measure.AMOUNT, base)),
        st.builds(lambda kw, m: ItemsScope((ItemBlock(kw, m, Measure.AMOUNT, base),)),
                  st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True).map(tuple),
                  st.sampled_from(list(KeywordMatch))),
    ))
    return Conditions(WINDOW, scope, reward=REWARD,
                      higher_tiers=tuple(Tier(a, REWARD) for a in amounts))


@given(tiered_conditions(), st.lists(items, max_size=6), st.integers(0, len(WORDS) * 3),
       st.decimals(min_value=0, max_value=3000, places=2))
def test_raising_an_amount_never_lowers_the_tier(conditions, item_list, which, extra):
    settings_errors = validate(_settings(conditions), dt.date(2024, 6, 1))
    assert settings_errors == []
    before = evaluate(invoice_of(item_list), conditions, History())
    if item_list:
        i = which % len(item_list)
        raised = replace(item_list[i], unit_price=item_list[i].unit_price + extra)
        after_items = item_list[:i] + [raised] + item_list[i + 1:]
    else:
        after_items = [Item(WORDS[which % len(WORDS)], Decimal(1), extra)]
    after = evaluate(invoice_of(after_items), conditions, History())
    assert tier_of(after) >= tier_of(before)


@given(tiered_conditions(), st.integers(0, 10**6), st.integers(0, 10**6))
def test_tier_is_monotone_in_the_total(conditions, a, b):
    low, high = sorted((a, b))
    conditions = replace(conditions, scope=WholeInvoiceScope(Measure.AMOUNT,
                                                             conditions.tier_thresholds[0]))
    judge = lambda total: evaluate(  # noqa: E731
        VerifiedInvoice("AB12345678", dt.date(2024, 5, 1), "s", "82910724", total), conditions,
        History())
    assert tier_of(judge(low)) <= tier_of(judge(high))
    thresholds = conditions.tier_thresholds
    assert tier_of(judge(high)) == sum(1 for t in thresholds if high >= t)


@given(scopes, st.lists(items, max_size=6), items)
def test_adding_an_item_never_turns_pass_into_fail(scope, item_list, added):
    conditions = Conditions(WINDOW, scope, reward=REWARD)
    before = evaluate(invoice_of(item_list), conditions, History())
    after = evaluate(invoice_of([*item_list, added]), conditions, History())
    if isinstance(before, Passed):
        assert isinstance(after, Passed)
    if isinstance(after, NotQualified):
        assert isinstance(before, NotQualified)


texts = st.text(min_size=1, max_size=20)
moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    st.sampled_from([TAIPEI, dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
coupons = st.one_of(st.just(CodePool()), st.builds(SharedLink, texts))
rewards = st.builds(Reward, texts, texts, coupons)
all_conditions = st.builds(
    Conditions,
    issue_dates=st.builds(IssueDateWindow, days, days),
    scope=st.one_of(scopes, st.builds(ItemsScope, st.lists(
        st.builds(ItemBlock, st.lists(texts, max_size=3).map(tuple),
                  st.sampled_from(list(KeywordMatch)), measures, st.integers(-10, 10**9)),
        max_size=3).map(tuple), st.sampled_from(list(Combinator)))),
    per_person_cap=st.one_of(st.none(), st.integers(-5, 10**6)),
    sellers=st.one_of(st.none(), st.lists(texts, max_size=3).map(tuple)),
    reward_timing=st.sampled_from(list(RewardTiming)),
    reward=st.one_of(st.none(), rewards),
    higher_tiers=st.lists(st.builds(Tier, st.integers(0, 10**9), st.one_of(st.none(), rewards)),
                          max_size=3).map(tuple),
)
all_settings = st.builds(CampaignSettings, texts, moments, moments, texts, texts, all_conditions,
                         st.just(Platform.LINE), st.one_of(st.none(), texts))


@given(all_settings)
def test_settings_json_round_trip(s):
    data = json.loads(json.dumps(s.to_dict()))
    again = CampaignSettings.from_dict(data)
    assert again == s
    assert again.to_dict() == s.to_dict()
    validate(again, dt.date(2024, 6, 1))  # never crashes, whatever the values


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=20,
)


@hsettings(max_examples=200)
@given(all_settings, st.data())
def test_from_dict_only_ever_raises_field_errors(s, data):
    """Corrupt one value anywhere in a valid document: the parser answers with field errors."""
    doc = s.to_dict()
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths))
    value = data.draw(json_values)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        CampaignSettings.from_dict(doc)
    except CampaignSettingsError as e:
        assert e.errors and all(err.field and err.message for err in e.errors)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _settings(conditions: Conditions) -> CampaignSettings:
    return CampaignSettings("x", dt.datetime(2024, 6, 1, tzinfo=TAIPEI),
                            dt.datetime(2024, 7, 1, tzinfo=TAIPEI), "https://e.x/r", "1",
                            conditions)

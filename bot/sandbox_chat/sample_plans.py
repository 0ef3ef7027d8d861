"""What a sandbox sample invoice holds so that it meets a campaign's conditions (issue date,
seller, whole-invoice amount or count, item keyword blocks, tiers) — or misses exactly one of
them, for the labelled 不符合資格 sample. No I/O: conditions and a random source in, lines out."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from bot.simulators.invoice_photos import ITEM_NAMES, SELLERS
from flows.campaigns.matching import matches_keywords, seller_matches
from flows.campaigns.settings import (
    Combinator,
    Conditions,
    ItemBlock,
    ItemsScope,
    KeywordMatch,
    Measure,
    WholeInvoiceScope,
)
from flows.einvoice.model import Item

# The sample's other lines are drawn from ITEM_NAMES; a campaign open to every seller gets one of SELLERS.
OTHER_SELLER = "範例路邊小吃店"  # when the campaign names sellers and this one must not match
MIN_TOTAL = 30  # a qualifying sample is never a NT$ 1 receipt, even for a campaign without a minimum


@dataclass(frozen=True)
class SamplePlan:
    """The lines, seller and issue date of a sample invoice."""

    items: tuple[Item, ...]
    seller_name: str
    date: dt.date

    @property
    def total_amount(self) -> int:
        return int(sum(item.subtotal for item in self.items))


def _blocks(conditions: Conditions) -> tuple[ItemBlock, ...]:
    scope = conditions.scope
    return scope.blocks if isinstance(scope, ItemsScope) else ()


def _matches_any_block(name: str, blocks: tuple[ItemBlock, ...]) -> bool:
    return any(matches_keywords(name, b.keywords, b.match is KeywordMatch.ALL) for b in blocks)


def _fillers(rng: random.Random, count: int, blocks: tuple[ItemBlock, ...]) -> list[Item]:
    """`count` lines that match none of the blocks' keywords (NT$ 10–120 each)."""
    names = [n for n in ITEM_NAMES if not _matches_any_block(n, blocks)] or ["範例商品"]
    return [Item(rng.choice(names), Decimal(1), Decimal(rng.randint(10, 120))) for _ in range(count)]


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` as `parts` positive whole numbers (fewer parts when the total is small)."""
    parts = max(1, min(parts, total))
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in zip(edges, edges[1:])]


def _amount_target(threshold: int, tiers: tuple[int, ...], rng: random.Random) -> int:
    """A value at or above `threshold`, sometimes reaching a higher tier."""
    low = max(threshold, 1)
    top = max((*tiers, low))
    return rng.randint(low, top + max(low // 2, 50))


def _block_lines(block: ItemBlock, rng: random.Random, amount: int | None = None) -> list[Item]:
    """Lines whose names match `block` and together reach its threshold (`amount`: the target)."""
    words = block.keywords if block.match is KeywordMatch.ALL else (rng.choice(block.keywords),)
    name = "".join(w.strip() for w in words)
    if block.measure is Measure.COUNT:
        quantity = max(block.threshold, 1) + rng.randint(0, 1)
        return [Item(name, Decimal(quantity), Decimal(rng.randint(15, 120)))]
    target = amount if amount is not None else _amount_target(block.threshold, (), rng)
    quantity = rng.choice((1, 1, 2)) if target >= 2 else 1
    unit = -(-target // quantity)  # ceiling: the subtotal reaches the target
    return [Item(name, Decimal(quantity), Decimal(unit))]


def _meeting_scope(conditions: Conditions, rng: random.Random) -> list[Item]:
    scope = conditions.scope
    blocks = _blocks(conditions)
    if isinstance(scope, WholeInvoiceScope):
        if scope.measure is Measure.COUNT:
            count = max(scope.threshold, 1) + rng.randint(0, 1)
            return [Item(rng.choice(ITEM_NAMES), Decimal(q), Decimal(rng.randint(15, 120)))
                    for q in _split(count, rng.randint(1, 3), rng)]
        total = max(_amount_target(scope.threshold, conditions.tier_thresholds, rng), MIN_TOTAL)
        names = [rng.choice(ITEM_NAMES) for _ in range(rng.randint(1, 4))]
        return [Item(n, Decimal(1), Decimal(p)) for n, p in zip(names, _split(total, len(names), rng))]
    chosen = blocks if scope.combinator is Combinator.AND else (rng.choice(blocks),)
    lines: list[Item] = []
    for block in chosen:
        tiers = conditions.tier_thresholds if len(blocks) == 1 else ()
        amount = _amount_target(block.threshold, tiers, rng) if block.measure is Measure.AMOUNT else None
        lines += _block_lines(block, rng, amount)
    return lines + _fillers(rng, rng.randint(0, 2), blocks)


def _missing_scope(conditions: Conditions, rng: random.Random) -> list[Item] | None:
    """Lines that miss the scope (None when no invoice can miss it, e.g. a minimum of NT$ 1)."""
    scope = conditions.scope
    blocks = _blocks(conditions)
    if isinstance(scope, WholeInvoiceScope):
        if scope.threshold <= 1:
            return None
        if scope.measure is Measure.COUNT:
            return [Item(rng.choice(ITEM_NAMES), Decimal(q), Decimal(rng.randint(15, 120)))
                    for q in _split(scope.threshold - 1, rng.randint(1, 2), rng)]
        total = rng.randint(max(1, scope.threshold // 5), scope.threshold - 1)
        names = [rng.choice(ITEM_NAMES) for _ in range(rng.randint(1, 2))]
        return [Item(n, Decimal(1), Decimal(p)) for n, p in zip(names, _split(total, len(names), rng))]
    if any(block.threshold <= 0 for block in blocks):
        return None
    return _fillers(rng, rng.randint(1, 3), blocks)  # no line matches a keyword: every block is at 0


def _issue_date(conditions: Conditions, yesterday: dt.date) -> dt.date:
    window = conditions.issue_dates
    return max(window.start, min(yesterday, window.end))


def qualifying(conditions: Conditions, rng: random.Random, yesterday: dt.date) -> SamplePlan:
    """An invoice that meets every condition of the campaign."""
    seller = rng.choice(conditions.sellers) if conditions.sellers else rng.choice(SELLERS)
    return SamplePlan(tuple(_meeting_scope(conditions, rng)), seller.strip(), _issue_date(conditions, yesterday))


def not_qualifying(conditions: Conditions, rng: random.Random, yesterday: dt.date) -> SamplePlan:
    """An invoice that misses one condition: the scope (amount, count or items) where it can be
    missed, else the seller, else the issue date (the day before the window opens)."""
    meets = qualifying(conditions, rng, yesterday)
    lines = _missing_scope(conditions, rng)
    if lines is not None:
        return SamplePlan(tuple(lines), meets.seller_name, meets.date)
    if conditions.sellers and not seller_matches(OTHER_SELLER, conditions.sellers):
        return SamplePlan(meets.items, OTHER_SELLER, meets.date)
    return SamplePlan(meets.items, meets.seller_name, conditions.issue_dates.start - dt.timedelta(days=1))

"""Coupon code pools: import codes from CSV, hand one out atomically, count what is left, list
rewards waiting for a code, and give codes to waiting rewards when a pool is refilled.

Every function works inside the caller's transaction (an AsyncSession with a transaction begun).
A code is free while `upload_id IS NULL AND assigned_at IS NULL`: a code handed to an upload that
is later deleted (a draft-period test upload) keeps its `assigned_at` and is never handed out again.
Taking a code is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING`
statement: on PostgreSQL concurrent takers skip each other's locked rows; on SQLite writers are
serialised by the database lock.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import CouponCode, Customer, Reward, Upload

CODE_MAX = 200
_CODE_HEADERS = {"code", "codes", "coupon", "coupon_code", "序號", "優惠券序號", "兌換碼", "優惠碼"}
_TIER_HEADERS = {"tier", "級距", "獎項級距"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CHUNK = 500


class CouponImportError(ValueError):
    """The file as a whole cannot be read (encoding, shape); names the field."""


@dataclass(frozen=True)
class LineProblem:
    """A row not imported: its 1-based line number in the file, the code, and why."""

    line: int
    code: str
    message: str


@dataclass(frozen=True)
class ImportReport:
    imported: int
    blank_lines: tuple[int, ...]
    duplicates: tuple[LineProblem, ...]  # repeated in the file, or already in the pool
    invalid: tuple[LineProblem, ...]  # too long, control characters, bad tier


@dataclass(frozen=True)
class ParsedCode:
    line: int
    code: str
    tier: int | None


@dataclass(frozen=True)
class GivenReward:
    """A waiting reward that just received its code (the caller pushes the coupon message)."""

    reward_id: int
    upload_id: int
    code: str


@dataclass(frozen=True)
class WaitingReward:
    reward_id: int
    campaign_id: int
    upload_id: int
    tier: int | None
    line_user_id: str
    created_at: dt.datetime


@dataclass(frozen=True)
class PoolCount:
    free: int
    assigned: int
    free_by_tier: dict[int | None, int]


@dataclass(frozen=True)
class TierCount:
    """One tier's line of the coupons page: free codes marked for it, rewards of the tier given a
    code, and rewards of the tier waiting for one (tier None: codes for any tier)."""

    tier: int | None
    left: int
    given: int
    waiting: int


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # Excel on zh-TW Windows saves CSV as Big5 (cp950)
        return data.decode("cp950")
    except UnicodeDecodeError:
        raise CouponImportError("file: 檔案編碼需為 UTF-8 或 Big5") from None


def parse_codes(data: bytes | str, tier: int | None = None,
                ) -> tuple[list[ParsedCode], list[int], list[LineProblem], list[LineProblem]]:
    """Read a code file: one code per row, optional header row, optional tier column (the column
    headed tier/級距, or the second column when there is no header). With `tier` (a file chosen
    for one tier, as the console's upload does) rows without a tier get it, and a row naming
    another tier is invalid.

    Returns (codes in file order, blank line numbers, duplicates within the file, invalid rows).
    """
    text = _decode(data)
    rows = csv.reader(io.StringIO(text, newline=""))
    codes: list[ParsedCode] = []
    blanks: list[int] = []
    duplicates: list[LineProblem] = []
    invalid: list[LineProblem] = []
    first_seen: dict[str, int] = {}
    code_col, tier_col = 0, 1
    first = True
    try:
        for row in rows:
            line = rows.line_num
            cells = [c.strip() for c in row]
            if first:
                first = False
                lowered = [c.lower() for c in cells]
                if lowered and (lowered[0] in _CODE_HEADERS or any(c in _TIER_HEADERS for c in lowered)):
                    code_col = next((i for i, c in enumerate(lowered) if c in _CODE_HEADERS), 0)
                    tier_col = next((i for i, c in enumerate(lowered) if c in _TIER_HEADERS), -1)
                    continue
            code = cells[code_col] if len(cells) > code_col else ""
            if not code:
                if any(cells):
                    invalid.append(LineProblem(line, "", "序號欄位空白"))
                else:
                    blanks.append(line)
                continue
            if len(code) > CODE_MAX or _CONTROL.search(code):
                invalid.append(LineProblem(line, code[:CODE_MAX], f"序號需為 1～{CODE_MAX} 個可見字元"))
                continue
            row_tier: int | None = tier
            raw_tier = cells[tier_col] if 0 <= tier_col < len(cells) else ""
            if raw_tier:
                if not raw_tier.isdigit() or int(raw_tier) < 1:
                    invalid.append(LineProblem(line, code, f"級距需為 1 以上的整數（{raw_tier}）"))
                    continue
                if tier is not None and int(raw_tier) != tier:
                    invalid.append(LineProblem(line, code, f"級距（{raw_tier}）與所選的第 {tier} 級不同"))
                    continue
                row_tier = int(raw_tier)
            if code in first_seen:
                duplicates.append(LineProblem(line, code, f"與第 {first_seen[code]} 行重複"))
                continue
            first_seen[code] = line
            codes.append(ParsedCode(line, code, row_tier))
    except csv.Error as exc:
        raise CouponImportError(f"file: 第 {rows.line_num} 行 CSV 格式錯誤（{exc}）") from None
    return codes, blanks, duplicates, invalid


async def import_codes(session: AsyncSession, campaign_id: int, data: bytes | str,
                       now: dt.datetime, tier: int | None = None) -> ImportReport:
    """Add the file's codes to the campaign's pool; codes already in the pool are reported, not
    re-added. Call `fill_waiting` afterwards to hand new codes to waiting rewards."""
    codes, blanks, duplicates, invalid = parse_codes(data, tier)
    existing: set[str] = set()
    for start in range(0, len(codes), _CHUNK):
        chunk = [c.code for c in codes[start:start + _CHUNK]]
        found = await session.scalars(
            select(CouponCode.code).where(CouponCode.campaign_id == campaign_id,
                                          CouponCode.code.in_(chunk)))
        existing.update(found)
    fresh = []
    for parsed in codes:
        if parsed.code in existing:
            duplicates.append(LineProblem(parsed.line, parsed.code, "序號已存在於序號池"))
        else:
            fresh.append({"campaign_id": campaign_id, "code": parsed.code, "tier": parsed.tier,
                          "imported_at": now})
    for start in range(0, len(fresh), _CHUNK):
        await session.execute(insert(CouponCode), fresh[start:start + _CHUNK])
    duplicates.sort(key=lambda p: p.line)
    return ImportReport(len(fresh), tuple(blanks), tuple(duplicates), tuple(invalid))


async def take_code(session: AsyncSession, campaign_id: int, tier: int | None, upload_id: int,
                    now: dt.datetime) -> str | None:
    """Hand one free code to `upload_id`, atomically; None when the pool has none for `tier`.

    A code marked with a tier serves only that tier; an untiered code serves any tier and is used
    after the tier's own codes."""
    wanted = CouponCode.tier.is_(None) if tier is None else or_(CouponCode.tier == tier,
                                                                 CouponCode.tier.is_(None))
    pick = (
        select(CouponCode.id)
        .where(CouponCode.campaign_id == campaign_id, CouponCode.upload_id.is_(None),
               CouponCode.assigned_at.is_(None), wanted)
        .order_by(CouponCode.tier.is_(None), CouponCode.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(CouponCode).where(CouponCode.id == pick)
        .values(upload_id=upload_id, assigned_at=now).returning(CouponCode.code))
    return result.scalar_one_or_none()


async def remaining(session: AsyncSession, campaign_id: int) -> PoolCount:
    """Free and assigned codes of the campaign's pool, free ones per tier (None = untiered)."""
    rows = await session.execute(
        select(CouponCode.tier, CouponCode.assigned_at.is_(None) & CouponCode.upload_id.is_(None),
               func.count())
        .where(CouponCode.campaign_id == campaign_id)
        .group_by(CouponCode.tier, CouponCode.assigned_at.is_(None) & CouponCode.upload_id.is_(None)))
    free, assigned, by_tier = 0, 0, {}
    for tier, is_free, count in rows:
        if is_free:
            free += count
            by_tier[tier] = by_tier.get(tier, 0) + count
        else:
            assigned += count
    return PoolCount(free, assigned, by_tier)


async def tier_counts(session: AsyncSession, campaign_id: int, tiers: int) -> list[TierCount]:
    """Per tier 1…`tiers` (and any other tier seen): codes left, codes given, rewards waiting; then a
    line for untiered codes (which serve any tier) when the pool has any."""
    pool = await remaining(session, campaign_id)
    rewards = await session.execute(
        select(Reward.tier, Reward.state, func.count())
        .where(Reward.campaign_id == campaign_id, Reward.state.in_(("given", "waiting")),
               Reward.coupon_link.is_(None))
        .group_by(Reward.tier, Reward.state))
    given: dict[int | None, int] = {}
    waiting: dict[int | None, int] = {}
    for tier, state, count in rewards:
        (given if state == "given" else waiting)[tier] = count
    seen = {t for t in (*pool.free_by_tier, *given, *waiting) if t is not None}
    lines = [TierCount(t, pool.free_by_tier.get(t, 0), given.get(t, 0), waiting.get(t, 0))
             for t in sorted(seen | set(range(1, tiers + 1)))]
    if None in pool.free_by_tier or None in given or None in waiting:
        lines.append(TierCount(None, pool.free_by_tier.get(None, 0), given.get(None, 0), waiting.get(None, 0)))
    return lines


async def waiting_rewards(session: AsyncSession, campaign_id: int | None = None) -> list[WaitingReward]:
    """Rewards owed to passed uploads whose pool was exhausted, oldest first."""
    stmt = (
        select(Reward.id, Reward.campaign_id, Reward.upload_id, Reward.tier, Customer.line_user_id,
               Reward.created_at)
        .join(Upload, Upload.id == Reward.upload_id)
        .join(Customer, Customer.id == Upload.customer_id)
        .where(Reward.state == "waiting")
        .order_by(Reward.id)
    )
    if campaign_id is not None:
        stmt = stmt.where(Reward.campaign_id == campaign_id)
    return [WaitingReward(*row) for row in await session.execute(stmt)]


async def fill_waiting(session: AsyncSession, campaign_id: int, now: dt.datetime) -> list[GivenReward]:
    """Give free codes to the campaign's waiting rewards, oldest first, until codes run out.
    Rewards locked by a concurrent filler are skipped (PostgreSQL), never given twice."""
    waiting = (await session.execute(
        select(Reward.id, Reward.upload_id, Reward.tier)
        .where(Reward.campaign_id == campaign_id, Reward.state == "waiting")
        .order_by(Reward.id)
        .with_for_update(skip_locked=True))).all()
    given: list[GivenReward] = []
    exhausted: set[int | None] = set()
    for reward_id, upload_id, tier in waiting:
        if tier in exhausted:
            continue
        code = await take_code(session, campaign_id, tier, upload_id, now)
        if code is None:
            exhausted.add(tier)
            continue
        await session.execute(
            update(Reward).where(Reward.id == reward_id, Reward.state == "waiting")
            .values(state="given", coupon_code=code, given_at=now))
        given.append(GivenReward(reward_id, upload_id, code))
    return given

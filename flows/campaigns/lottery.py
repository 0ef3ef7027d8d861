"""The winner draw of a list-only campaign (僅搜集名單): N winners among the 通過 entries,
reproducible from a printed seed, optionally at most one win per LINE user.

Pure: the same entries (in any order), count, seed and option always give the same winners.
Entries are put in a canonical order (by entry id) before a `random.Random(seed)` shuffle, so
the draw depends on what was drawn from, not on how the database happened to return it.
"""
from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

SEED_MAX = 2**63 - 1


@dataclass(frozen=True)
class Entry:
    """One 通過 upload in the draw: its id (the ticket) and the LINE user who owns it."""

    entry_id: int
    user_id: str


@dataclass(frozen=True)
class Draw:
    """The winners in draw order (1st, 2nd, …), the seed that reproduces them, and how many
    entries and distinct users took part."""

    winners: tuple[Entry, ...]
    seed: int
    entries: int
    users: int


class LotteryError(ValueError):
    """A draw that cannot be made as asked; names the parameter."""


def new_seed() -> int:
    """A fresh random seed to print with the draw (so anyone can repeat it)."""
    return secrets.randbelow(SEED_MAX) + 1


def draw(entries: Iterable[Entry], count: int, seed: int, *, one_per_user: bool = False) -> Draw:
    """Draw `count` winners among `entries`.

    Fewer winners than `count` come back when there are not enough entries (or users, with
    `one_per_user`); duplicate entry ids are refused."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise LotteryError("count: must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise LotteryError(f"seed: must be an integer 0..{SEED_MAX}")
    pool = sorted(entries, key=lambda e: e.entry_id)
    ids = [e.entry_id for e in pool]
    if len(set(ids)) != len(ids):
        raise LotteryError("entries: the same entry id appears twice")
    users = len({e.user_id for e in pool})
    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    winners: list[Entry] = []
    won: set[str] = set()
    for entry in shuffled:
        if len(winners) == count:
            break
        if one_per_user and entry.user_id in won:
            continue
        winners.append(entry)
        won.add(entry.user_id)
    return Draw(tuple(winners), seed, len(pool), users)

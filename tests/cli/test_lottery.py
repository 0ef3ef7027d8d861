"""flows.campaigns.lottery: reproducible from the seed, independent of input order, capped by
the entries, one win per user when asked, and refusing bad parameters."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.campaigns.lottery import Entry, LotteryError, draw, new_seed

ENTRIES = [Entry(i, f"U{i % 4}") for i in range(1, 21)]  # 20 entries from 4 users


def test_same_seed_same_winners_whatever_the_order():
    first = draw(ENTRIES, 5, 42)
    again = draw(list(reversed(ENTRIES)), 5, 42)
    assert first.winners == again.winners and len(first.winners) == 5
    assert len(set(first.winners)) == 5 and set(first.winners) <= set(ENTRIES)
    assert (first.entries, first.users, first.seed) == (20, 4, 42)


def test_different_seeds_differ():
    outcomes = {draw(ENTRIES, 5, seed).winners for seed in range(20)}
    assert len(outcomes) > 15


def test_one_win_per_user_and_too_few_entries():
    result = draw(ENTRIES, 10, 7, one_per_user=True)
    assert len(result.winners) == 4 and len({w.user_id for w in result.winners}) == 4
    assert len(draw(ENTRIES[:3], 10, 7).winners) == 3
    assert draw([], 3, 1).winners == ()


@pytest.mark.parametrize("count, seed, message", [(0, 1, "count"), (True, 1, "count"), (1, -1, "seed"),
                                                   (1, 2**63, "seed")])
def test_bad_parameters_name_themselves(count, seed, message):
    with pytest.raises(LotteryError, match=message):
        draw(ENTRIES, count, seed)


def test_duplicate_entries_are_refused():
    with pytest.raises(LotteryError, match="entries"):
        draw([Entry(1, "a"), Entry(1, "b")], 1, 1)


def test_new_seeds_are_valid_and_vary():
    seeds = {new_seed() for _ in range(50)}
    assert len(seeds) == 50 and all(1 <= s < 2**63 for s in seeds)


@given(st.lists(st.tuples(st.integers(1, 10_000), st.sampled_from("abcdef")), unique_by=lambda t: t[0]),
       st.integers(1, 30), st.integers(0, 2**63 - 1), st.booleans())
def test_winners_are_distinct_entries(raw, count, seed, one_per_user):
    entries = [Entry(i, u) for i, u in raw]
    result = draw(entries, count, seed, one_per_user=one_per_user)
    assert len(set(result.winners)) == len(result.winners) <= count
    assert set(result.winners) <= set(entries)
    users = {e.user_id for e in entries}
    expected = min(count, len(users) if one_per_user else len(entries))
    assert len(result.winners) == expected
    if one_per_user:
        assert len({w.user_id for w in result.winners}) == len(result.winners)
    assert draw(list(reversed(entries)), count, seed, one_per_user=one_per_user) == result

"""Bearer tokens, token buckets and stream slots (pure; the clock is an argument)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.api.guard import StreamSlots, TokenBuckets, match_token, parse_tokens

A, B = "a" * 16, "b" * 20


def test_tokens_are_required_long_and_deduplicated() -> None:
    assert parse_tokens(f" {A} ,, {B},{A}") == (A, B)
    with pytest.raises(ValueError, match="HSLR_API_TOKENS"):
        parse_tokens(" , ")
    with pytest.raises(ValueError, match="shorter than 16"):
        parse_tokens(f"{A},short")


def test_a_token_matches_only_itself() -> None:
    tokens = (A, B)
    assert match_token(tokens, B) == 1
    assert match_token(tokens, A) == 0
    assert match_token(tokens, A[:-1]) is None
    assert match_token(tokens, A + "x") is None
    assert match_token(tokens, "") is None
    assert match_token(tokens, None) is None


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    b = TokenBuckets(per_min=6)  # 6 a minute: one every 10 s
    assert [b.take(0, 100.0) for _ in range(6)] == [0.0] * 6
    assert b.take(0, 100.0) == pytest.approx(10.0)  # empty: the next request is free in 10 s
    assert b.take(0, 105.0) == pytest.approx(5.0)
    assert b.take(0, 110.0) == 0.0
    assert b.take(1, 110.0) == 0.0  # another token has its own bucket
    assert b.take(0, 1e6) == 0.0
    assert [b.take(0, 1e6) for _ in range(5)] == [0.0] * 5  # refilled to the burst size, not beyond
    assert b.take(0, 1e6) > 0


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=200), st.integers(1, 120))
def test_bucket_never_grants_more_than_burst_plus_rate_times_elapsed(gaps: list[float], per_min: int) -> None:
    b, now, granted = TokenBuckets(per_min=per_min), 0.0, 0
    for gap in gaps:
        now += gap
        granted += b.take(7, now) == 0.0
    assert granted <= per_min + per_min * now / 60.0 + 1e-9


def test_stream_slots_are_counted_per_token() -> None:
    s = StreamSlots(per_token=2)
    assert s.acquire(0)
    assert s.acquire(0)
    assert not s.acquire(0)
    assert s.acquire(1)
    s.release(0)
    assert s.acquire(0)

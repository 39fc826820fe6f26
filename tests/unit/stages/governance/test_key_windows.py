"""Evaluation windows found by binary search select exactly what the scan selected, and pruning keeps a
view: a long replay's single batch no longer costs a scan and a copy of every interval per evaluation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.stages.governance import ic as icm
from streams.stages.governance import kl as klm


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 40), max_size=30),
    st.integers(-8, 45),
    st.integers(0, 20),
)
def test_key_span_selects_what_the_mask_selects(keys: list[int], lo: int, width: int) -> None:
    arr = np.asarray(keys, dtype=np.int64)
    values = np.arange(arr.size, dtype=np.float64)
    mask = (arr >= lo) & (arr < lo + width)
    ordered = np.sort(arr)
    assert icm.is_ordered(ordered)
    span = icm.key_span(ordered, lo, lo + width, True)
    assert np.array_equal(values[span], values[(ordered >= lo) & (ordered < lo + width)])
    # unordered keys fall back to the mask
    fallback = icm.key_span(arr, lo, lo + width, icm.is_ordered(arr))
    assert np.array_equal(values[fallback], values[mask])


def test_window_ic_ordered_equals_scan() -> None:
    rng = np.random.default_rng(4)
    k = np.repeat(np.arange(50), 3)
    m = icm.Moments(
        k.astype(np.int64),
        rng.integers(1, 9, k.size).astype(np.float64),
        rng.normal(size=k.size),
        rng.normal(size=k.size),
        rng.random(k.size),
        rng.random(k.size),
        rng.normal(size=k.size) * 0.1,
    )
    for lo in range(0, 50, 7):
        fast = icm.window_ic(m, lo, lo + 20, 5, ordered=True)
        slow = icm.window_ic(m, lo, lo + 20, 5, ordered=False)
        assert fast[1] == slow[1]
        assert fast[0] == slow[0] or (np.isnan(fast[0]) and np.isnan(slow[0]))


def test_prune_keeps_a_view_of_the_later_intervals() -> None:
    keys = np.arange(100, dtype=np.int64)
    live = klm.LiveCounts(keys, np.ones((100, 2, 3), dtype=np.int64))
    pruned = klm.prune(live, 60)
    assert pruned.keys.tolist() == list(range(60, 100))
    assert np.shares_memory(pruned.counts, live.counts)  # before the fix: a copy per evaluation


def test_window_kl_uses_memoised_reference_and_matches_direct_formula() -> None:
    ref = klm.KLReference.from_histograms({"a": {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [5.0, 3.0, 2.0]}})
    live = klm.LiveCounts(np.array([1, 2, 3]), np.array([[[4, 0, 1]], [[2, 2, 2]], [[0, 0, 9]]]))
    got = klm.window_kl(live, ref, 1, 3, 0.5, 1)
    c = np.array([6.0, 2.0, 3.0])
    p, q = (c + 0.5) / (c.sum() + 1.5), (np.array([5.0, 3.0, 2.0]) + 0.5) / 11.5
    assert got == float(np.sum(p * np.log(p / q)))
    assert got == klm.window_kl(live, ref, 1, 3, 0.5, 1)  # second call reads the memo: same bits
    assert np.isnan(klm.window_kl(live, ref, 4, 9, 0.5, 1))

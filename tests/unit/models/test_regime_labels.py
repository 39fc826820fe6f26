"""The labeling rule on hand-made series whose labels are known by construction."""

from __future__ import annotations

import numpy as np

from models.regime_labels import DIRECTIONAL, EVENT, STABLE, UNLABELED, RegimeLabelConfig, label_regimes
from streams.training.regime import time_split

CFG = RegimeLabelConfig(horizon=5, baseline_window=20, baseline_min_bars=10, max_span_factor=2.0)
E = 1e-4


def _series() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """90 bars; r_i = ±E alternating, +E trend at i = 41..50, a 20E jump at 60, a spread shock at 70,
    a 30-minute gap before bar 25. Expected labels by hand for bar t (window r_{t+1..t+5}):
    sigma_t = E / 0.6745 once 10 returns exist (t >= 10); trend efficiency of 5 equal returns = sqrt(5)
    > 2; alternating windows: efficiency <= 1/sqrt(5), RMS = 0.67 sigma -> Stable."""
    n = 90
    r = np.where(np.arange(n) % 2 == 0, E, -E)
    r[41:51] = E
    r[60] = 20 * E
    r[0] = 0.0
    mid = 1.2 * np.exp(np.cumsum(r))
    minutes = np.arange(n) + np.where(np.arange(n) >= 25, 29, 0)
    ts = 1_700_000_000_000 + minutes * 60_000
    widening = np.ones(n)
    widening[70] = 4.0
    expected = np.full(n, 99)  # 99: window mixes states, not asserted
    expected[:10] = UNLABELED
    expected[10:20] = STABLE
    expected[20:25] = UNLABELED  # window spans the gap (34 > 2 * 5 minutes)
    expected[25:36] = STABLE
    expected[40:46] = DIRECTIONAL
    expected[51:55] = STABLE
    expected[55:60] = EVENT  # the jump lies ahead
    expected[60:65] = STABLE
    expected[65:70] = EVENT  # the spread shock lies ahead
    expected[70:85] = STABLE
    expected[85:] = UNLABELED  # incomplete window
    return ts, mid, widening, expected


def test_labels_match_the_hand_derived_rule() -> None:
    ts, mid, widening, expected = _series()
    got = label_regimes(np.full(len(ts), "EURUSD"), ts, mid, widening, CFG)
    known = expected != 99
    np.testing.assert_array_equal(got[known], expected[known])


def test_pairs_are_labeled_independently_of_interleaving() -> None:
    ts, mid, widening, _ = _series()
    alone = label_regimes(np.full(len(ts), "EURUSD"), ts, mid, widening, CFG)
    pair = np.concatenate([np.full(len(ts), "EURUSD"), np.full(len(ts), "GBPUSD")])
    both = np.concatenate([ts, ts + 30_000])
    order = np.argsort(both, kind="stable")
    got = label_regimes(
        pair[order],
        both[order],
        np.concatenate([mid, mid * 1.1])[order],
        np.concatenate([widening, widening])[order],
        CFG,
    )
    back = np.empty_like(got)
    back[order] = got
    np.testing.assert_array_equal(back[: len(ts)], alone)
    np.testing.assert_array_equal(back[len(ts) :], alone)  # scale-free: 1.1 × prices, same labels


def test_time_split_purges_the_label_horizon() -> None:
    ts = np.arange(1000, dtype=np.int64) * 60_000
    usable = np.ones(1000, dtype=bool)
    usable[::7] = False
    train, test, split = time_split(ts, usable, 0.25, CFG.purge_ms)
    assert CFG.purge_ms == 10 * 60_000
    assert ts[train].max() < split - CFG.purge_ms <= split <= ts[test].min()
    assert not (train & ~usable).any()
    assert not (test & ~usable).any()
    assert abs(test.sum() - 0.25 * usable.sum()) <= 2

"""Spread shocks: prices untouched, spreads multiplied as configured, seeded, breach probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.stress import SpreadShock, breach_probability, episodes, shock_bars, spread_multipliers
from streams.core.batch import Batch

START = 1_704_672_000_000  # Monday 2024-01-08 00:00 UTC
PAIRS = ("EURUSD", "GBPUSD", "USDJPY")


def _bars(n_min: int = 2 * 7 * 1440, seed: int = 0) -> Batch:
    """Bars sorted by (ts, pair): one per pair per minute, bid OHLC around 1.0, spreads ~1 pip."""
    rng = np.random.default_rng(seed)
    ts = np.repeat(START + np.arange(n_min, dtype=np.int64) * 60_000, len(PAIRS))
    pair = np.tile(np.array(PAIRS), n_min)
    close = 1.0 + np.cumsum(rng.normal(0, 1e-4, len(ts)))
    open_ = close + rng.normal(0, 5e-5, len(ts))
    high, low = np.maximum(open_, close) + 1e-4, np.minimum(open_, close) - 1e-4
    return Batch(
        {
            "pair": pair,
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.ones(len(ts)),
            "spread": rng.uniform(0.8e-4, 1.2e-4, len(ts)),
            "spread_modeled": np.zeros(len(ts), dtype=bool),
            "source": np.array(["t"] * len(ts)),
        }
    )


BARS = _bars()
NO_CRISIS = {"episodes_per_week": 0.0}


def test_bid_anchor_leaves_prices_untouched_and_multiplies_spreads() -> None:
    mult = spread_multipliers(BARS, SpreadShock(), np.random.default_rng(1))
    out = shock_bars(BARS, mult, "bid")
    for k in ("open", "high", "low", "close", "ts", "pair", "volume"):
        assert np.array_equal(out[k], BARS[k]), k
    np.testing.assert_allclose(out["spread"], BARS["spread"] * mult, rtol=1e-15)
    assert (mult > 0).all()
    assert mult.std() > 0.1


def test_mid_anchor_keeps_the_mid_and_the_bar_ranges() -> None:
    mult = np.random.default_rng(2).uniform(1.0, 20.0, BARS.n)
    out = shock_bars(BARS, mult, "mid")
    np.testing.assert_allclose(
        out["close"] + out["spread"] / 2, BARS["close"] + BARS["spread"] / 2, atol=1e-13
    )
    np.testing.assert_allclose(out["high"] - out["low"], BARS["high"] - BARS["low"], atol=1e-13)
    # a bid quote falls by half the extra spread: 1 pip * (m - 1) / 2
    np.testing.assert_allclose(BARS["close"] - out["close"], BARS["spread"] * (mult - 1) / 2, atol=1e-13)


def test_no_jitter_no_crisis_is_the_identity() -> None:
    mult = spread_multipliers(BARS, SpreadShock(jitter_sigma=0.0, **NO_CRISIS), np.random.default_rng(0))
    assert np.array_equal(mult, np.ones(BARS.n))


def test_jitter_is_mean_one_lognormal_constant_within_blocks() -> None:
    sigma, block = 0.4, 30
    mult = spread_multipliers(
        BARS, SpreadShock(jitter_sigma=sigma, jitter_block_min=block, **NO_CRISIS), np.random.default_rng(3)
    )
    # one draw per (pair, 30-minute block): every block of every pair is constant
    key = BARS["pair"].astype(object) + ((BARS["ts"] - START) // (block * 60_000)).astype(str).astype(object)
    uniq, inv = np.unique(key, return_inverse=True)
    per_block = np.zeros(len(uniq))
    per_block[inv] = mult
    assert np.array_equal(per_block[inv], mult)
    logs = np.log(per_block)  # 3 pairs x 672 blocks: N(-s^2/2, s^2)
    assert abs(logs.mean() + sigma**2 / 2) < 4 * sigma / np.sqrt(len(logs))
    assert abs(logs.std() - sigma) < 0.05
    assert abs(per_block.mean() - 1.0) < 0.04


def test_crisis_episodes_widen_by_the_configured_factor_for_the_configured_time() -> None:
    shock = SpreadShock(
        jitter_sigma=0.0, episodes_per_week=3.0, widen=(8.0, 8.0), duration_min=(60, 60), common_share=1.0
    )
    mult = spread_multipliers(BARS, shock, np.random.default_rng(5))
    assert set(np.unique(mult)) <= {1.0, 8.0}
    assert (mult == 8.0).any()
    by_pair = {p: (mult[BARS["pair"] == p] == 8.0) for p in PAIRS}
    assert all(np.array_equal(by_pair[PAIRS[0]], v) for v in by_pair.values())  # market-wide episodes
    # the same draws (jitter off draws nothing first), re-applied row by row by brute force
    eps = episodes(BARS["ts"], len(PAIRS), shock, np.random.default_rng(5))
    assert eps
    assert all(end - start == 60 * 60_000 and f == 8.0 and who == -1 for start, end, f, who in eps)
    want = np.zeros(BARS.n, dtype=bool)
    for start, end, _, _ in eps:
        want |= (BARS["ts"] >= start) & (BARS["ts"] < end)
    assert np.array_equal(mult == 8.0, want)


def test_single_pair_episodes_touch_one_pair_only() -> None:
    shock = SpreadShock(jitter_sigma=0.0, episodes_per_week=2.0, widen=(5.0, 20.0), common_share=0.0)
    rng = np.random.default_rng(11)
    mult = spread_multipliers(BARS, shock, rng)
    assert mult.min() == 1.0
    assert 5.0 <= mult.max() <= 20.0
    hit = np.stack([mult[BARS["pair"] == p] > 1.0 for p in PAIRS])
    assert hit.any()
    assert not hit.all(axis=0).all()


def test_episode_count_follows_the_configured_rate() -> None:
    ts = BARS["ts"]  # two weeks: per pair 2 x rate episodes expected
    shock = SpreadShock(episodes_per_week=1.5, common_share=0.4)
    counts = [len(episodes(ts, 3, shock, np.random.default_rng(s))) for s in range(400)]
    weeks = (ts.max() - ts.min() + 60_000) / (7 * 86_400_000)
    expected = 1.5 * weeks * 0.4 + 3 * 1.5 * weeks * 0.6  # common episodes count once
    assert abs(np.mean(counts) - expected) < 4 * np.sqrt(expected / 400)


def test_seeded_reproducibility() -> None:
    shock = SpreadShock()
    a = spread_multipliers(BARS, shock, np.random.default_rng(42))
    b = spread_multipliers(BARS, shock, np.random.default_rng(42))
    c = spread_multipliers(BARS, shock, np.random.default_rng(43))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_breach_probability_on_a_constructed_set() -> None:
    dd = np.array([0.0, 0.01, 0.0299, 0.03, 0.049, 0.05, 0.2, 0.04])
    assert breach_probability(dd, 0.03) == pytest.approx(5 / 8)  # 0.03, 0.049, 0.05, 0.2, 0.04
    assert breach_probability(dd, 0.05) == pytest.approx(2 / 8)  # 0.05, 0.2
    assert np.isnan(breach_probability(np.array([]), 0.03))


def test_bad_shock_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="anchor must be 'bid' or 'mid'"):
        SpreadShock(anchor="ask")
    with pytest.raises(ValueError, match="must be positive"):
        SpreadShock(widen=(0.0, 5.0))

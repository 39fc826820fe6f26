"""Statistics against hand computations and independent references (the DSR paper's worked example)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from backtest import stats


def test_sharpe_sortino_by_hand() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0])
    # mean 0.005; sample var = (0.005² + 0.025² + 0.025² + 0.005²) / 3 = 0.0013 / 3
    assert stats.sharpe(r) == pytest.approx(0.005 / np.sqrt(0.0013 / 3))
    assert stats.sharpe(r, 260) == pytest.approx(0.005 / np.sqrt(0.0013 / 3) * np.sqrt(260))
    # downside deviation sqrt((0 + 0.0004 + 0 + 0) / 4) = 0.01
    assert stats.sortino(r) == pytest.approx(0.5)
    assert np.isnan(stats.sharpe(np.array([0.01, 0.01])))


def test_drawdown_and_time_under_water_by_hand() -> None:
    e = np.array([100, 110, 99, 104, 111, 100, 100, 120.0])
    assert stats.max_drawdown(e) == pytest.approx(11 / 110)  # 110 → 99 is deeper than 111 → 100 (11/111)
    frac, longest = stats.time_under_water(e)
    assert frac == pytest.approx(4 / 8)
    assert longest == 2


def test_moments_match_scipy() -> None:
    r = np.random.default_rng(1).standard_t(5, 500)
    skew, kurt = stats.moments(r)
    assert skew == pytest.approx(sps.skew(r))
    assert kurt == pytest.approx(sps.kurtosis(r, fisher=False))


def test_deflated_sharpe_worked_example_of_the_paper() -> None:
    # Bailey & López de Prado (2014), numerical example: annualised SR 2.5 on 5 years of daily data
    # (T = 1250, 250 days a year), N = 100 trials with V[SR] = 1/2 annualised, skew −3, kurtosis 10:
    # SR₀ ≈ 0.1132 per day and DSR ≈ 0.9004.
    sr, var = 2.5 / np.sqrt(250), 0.5 / 250
    assert stats.expected_max_sharpe(var, 100) == pytest.approx(0.1132, abs=5e-5)
    assert stats.deflated_sharpe(sr, 1250, -3.0, 10.0, var, 100) == pytest.approx(0.9004, abs=5e-4)


def test_deflated_sharpe_second_computation_by_simulation() -> None:
    # E[max of N independent N(0, V) Sharpe ratios] by Monte Carlo vs the closed form (≈ 1 % apart).
    rng = np.random.default_rng(3)
    v, n = 0.01, 50
    mc = rng.normal(0, np.sqrt(v), (20_000, n)).max(axis=1).mean()
    assert stats.expected_max_sharpe(v, n) == pytest.approx(mc, rel=0.03)
    # one trial and no dispersion: DSR is the PSR against zero
    assert stats.deflated_sharpe(0.1, 250, 0.0, 3.0, 0.0, 1) == pytest.approx(
        sps.norm.cdf(0.1 * np.sqrt(249) / np.sqrt(1 + 0.5 * 0.01))
    )


def _matrix(rng: np.random.Generator, edge: float) -> np.ndarray:
    R = rng.normal(0.0, 0.01, (400, 20))
    R[:, 7] += edge
    return R


def test_pbo_low_when_one_strategy_is_truly_best() -> None:
    res = stats.pbo_cscv(_matrix(np.random.default_rng(0), 0.004), n_splits=8)
    assert res["n_combinations"] == 70
    assert res["pbo"] < 0.05


def test_pbo_about_half_on_pure_noise() -> None:
    pbos = [stats.pbo_cscv(_matrix(np.random.default_rng(s), 0.0), n_splits=8)["pbo"] for s in range(6)]
    assert 0.3 < np.mean(pbos) < 0.8


def test_pbo_rank_logit_by_hand() -> None:
    # 2 configurations, 4 periods, 2 blocks: IS block 0 → config 0 best IS (SR of [1, 1.1] > [0, 0.1]),
    # OOS block 1 config 0 loses ([−1, −0.9] < [0, 0.1]) → rank 1 of 2, ω = 1/3, λ < 0. The other split
    # picks config 1 (IS block 1: [0, 0.1] beats [−1, −0.9]) which loses OOS in block 0 → λ < 0.
    R = np.array([[1.0, 0.0], [1.1, 0.1], [-1.0, 0.0], [-0.9, 0.1]])
    res = stats.pbo_cscv(R, n_splits=2)
    assert res["pbo"] == 1.0
    assert res["logit_mean"] == pytest.approx(np.log(0.5))


def test_stationary_bootstrap_ci_covers_and_is_seeded() -> None:
    r = np.random.default_rng(5).normal(0.001, 0.01, 500)
    a = stats.bootstrap_sharpe_ci(r, np.random.default_rng(1), n_boot=300)
    b = stats.bootstrap_sharpe_ci(r, np.random.default_rng(1), n_boot=300)
    assert a == b
    assert a[0] < stats.sharpe(r) < a[1]
    # analytic SE of the Sharpe ≈ sqrt((1 + SR²/2) / T): the interval's width is close to ±1.96 SE
    se = np.sqrt((1 + stats.sharpe(r) ** 2 / 2) / len(r))
    assert (a[1] - a[0]) == pytest.approx(2 * 1.96 * se, rel=0.35)


def test_stationary_bootstrap_blocks_have_mean_length() -> None:
    idx = stats.stationary_bootstrap_indices(20_000, 8.0, np.random.default_rng(2))
    breaks = np.sum(np.diff(idx) != 1)
    assert 20_000 / breaks == pytest.approx(8.0, rel=0.1)


def test_spearman_ic_matches_pandas() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=200), rng.normal(size=200)
    y[::7] = np.nan
    ref = pd.Series(x).corr(pd.Series(y), method="spearman")
    assert stats.spearman_ic(x, y) == pytest.approx(ref)

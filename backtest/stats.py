"""Performance statistics of a return series and the overfitting tests of a strategy search.

Conventions: ``r`` are simple per-period returns (daily unless stated), Sharpe ratios are per period
unless a function says *annualised*, kurtosis is the ordinary (non-excess) kurtosis, 3 for a normal.

* :func:`deflated_sharpe` — Bailey & López de Prado (2014), "The Deflated Sharpe Ratio": probability
  that the true Sharpe exceeds the expected maximum Sharpe of ``n_trials`` unskilled configurations
  whose Sharpe ratios have variance ``sr_variance``, corrected for skew and kurtosis.
* :func:`pbo_cscv` — Bailey, Borwein, López de Prado & Zhu (2015), "The Probability of Backtest
  Overfitting": combinatorially symmetric cross-validation over a (periods × configurations) matrix.
* :func:`bootstrap_sharpe_ci` — stationary bootstrap (Politis & Romano 1994) percentile interval.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from streams.core.units import F64

EULER_GAMMA = 0.5772156649015329


def sharpe(r: F64, periods_per_year: float = 1.0) -> float:
    """Mean / sample std (ddof 1) × sqrt(periods_per_year); NaN with < 2 returns or zero std."""
    r = np.asarray(r, dtype=np.float64)
    if len(r) < 2 or not np.std(r, ddof=1) > 0:
        return float("nan")
    return float(np.mean(r) / np.std(r, ddof=1) * np.sqrt(periods_per_year))


def sortino(r: F64, periods_per_year: float = 1.0) -> float:
    """Mean / downside deviation sqrt(mean(min(r, 0)²)) × sqrt(periods_per_year); NaN without losses."""
    r = np.asarray(r, dtype=np.float64)
    dd = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) if len(r) else 0.0
    return float(np.mean(r) / dd * np.sqrt(periods_per_year)) if dd > 0 else float("nan")


def max_drawdown(equity: F64) -> float:
    """Largest fall from a running peak, as a fraction of the peak (0.05 = 5 %)."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) == 0:
        return 0.0
    return float(np.max(1.0 - e / np.maximum.accumulate(e)))


def time_under_water(equity: F64) -> tuple[float, int]:
    """(fraction of points strictly below the running peak, longest run of such points)."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) == 0:
        return 0.0, 0
    under = e < np.maximum.accumulate(e)
    longest, run = 0, 0
    for u in under.tolist():
        run = run + 1 if u else 0
        longest = max(longest, run)
    return float(under.mean()), longest


def moments(r: F64) -> tuple[float, float]:
    """(skewness, non-excess kurtosis) with population (biased) moments, as in the DSR paper."""
    r = np.asarray(r, dtype=np.float64)
    d = r - r.mean()
    m2 = np.mean(d**2)
    if m2 == 0:
        return 0.0, 3.0
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2)


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """E[max SR] of ``n_trials`` zero-skill trials (per period): the DSR's benchmark SR₀.

    SR₀ = sqrt(V) ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))), γ the Euler–Mascheroni constant.
    """
    if n_trials < 2:
        return 0.0
    z1, z2 = norm.ppf(1 - 1 / n_trials), norm.ppf(1 - 1 / (n_trials * np.e))
    return float(np.sqrt(sr_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def probabilistic_sharpe(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurt: float) -> float:
    """PSR: Φ((SR − SR*) sqrt(T − 1) / sqrt(1 − γ₃ SR + (γ₄ − 1)/4 SR²)), per-period SRs."""
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if n_obs < 2 or not denom > 0:
        return float("nan")
    return float(norm.cdf((sr - sr_benchmark) * np.sqrt(n_obs - 1) / np.sqrt(denom)))


def deflated_sharpe(
    sr: float, n_obs: int, skew: float, kurt: float, sr_variance: float, n_trials: int
) -> float:
    """Deflated Sharpe ratio: PSR against SR₀ = :func:`expected_max_sharpe` (all per period).

    Parameters
    ----------
    sr : float
        Per-period Sharpe of the selected configuration.
    n_obs : int
        Number of returns T behind ``sr``.
    skew, kurt : float
        Skewness and non-excess kurtosis of those returns.
    sr_variance : float
        Variance of the per-period Sharpe ratios across the ``n_trials`` configurations tried.
    """
    return probabilistic_sharpe(sr, expected_max_sharpe(sr_variance, n_trials), n_obs, skew, kurt)


def deflated_sharpe_of(returns: F64, chosen: int) -> dict[str, float]:
    """DSR of column ``chosen`` of a (T × N) per-period returns matrix of N configurations tried."""
    R = np.asarray(returns, dtype=np.float64)
    srs = np.array([sharpe(R[:, j]) for j in range(R.shape[1])])
    ok = np.isfinite(srs)
    skew, kurt = moments(R[:, chosen])
    var = float(np.var(srs[ok], ddof=1)) if ok.sum() > 1 else 0.0
    return {
        "sr": float(srs[chosen]),
        "n_obs": float(len(R)),
        "n_trials": float(R.shape[1]),
        "sr_variance": var,
        "sr0": expected_max_sharpe(var, R.shape[1]),
        "skew": skew,
        "kurt": kurt,
        "dsr": deflated_sharpe(float(srs[chosen]), len(R), skew, kurt, var, R.shape[1]),
    }


def _block_sharpe(M: F64) -> F64:
    sd = M.std(axis=0, ddof=1)
    return np.where(sd > 0, M.mean(axis=0) / np.where(sd > 0, sd, 1.0), -np.inf)


def pbo_cscv(returns: F64, n_splits: int = 8) -> dict[str, float]:
    """Probability of backtest overfitting by CSCV.

    ``returns`` (T × N): per-period returns of N configurations. The rows are cut into ``n_splits``
    (even) contiguous blocks; for every choice of half the blocks as in-sample (C(S, S/2) splits) the
    configuration with the best in-sample Sharpe is located in the out-of-sample ranking; ω = its OOS
    rank / (N + 1), λ = ln(ω / (1 − ω)). PBO = share of splits with λ ≤ 0 (the IS winner is at or
    below the OOS median). Also returns the mean λ and the share of splits whose IS winner lost money
    OOS (``prob_oos_loss``).
    """
    R = np.asarray(returns, dtype=np.float64)
    if n_splits % 2 or n_splits < 2:
        raise ValueError("n_splits must be even and >= 2")
    T, N = R.shape
    if N < 2 or 2 * n_splits > T:
        raise ValueError(f"need >= 2 configurations and >= {2 * n_splits} periods, got {R.shape}")
    blocks = np.array_split(np.arange(T), n_splits)
    logits, losses = [], []
    for ins in combinations(range(n_splits), n_splits // 2):
        is_rows = np.concatenate([blocks[i] for i in ins])
        oos_rows = np.concatenate([blocks[i] for i in range(n_splits) if i not in ins])
        best = int(np.argmax(_block_sharpe(R[is_rows])))
        oos = _block_sharpe(R[oos_rows])
        rank = 1 + int((oos < oos[best]).sum()) + 0.5 * (int((oos == oos[best]).sum()) - 1)  # mid-rank ties
        w = rank / (N + 1)
        logits.append(np.log(w / (1 - w)))
        losses.append(R[oos_rows, best].sum() < 0)
    lam = np.array(logits)
    return {
        "pbo": float((lam <= 0).mean()),
        "logit_mean": float(lam.mean()),
        "n_combinations": float(len(lam)),
        "prob_oos_loss": float(np.mean(losses)),
    }


def stationary_bootstrap_indices(
    n: int, mean_block: float, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """One stationary-bootstrap resample of ``range(n)``: blocks start uniformly, lengths ~ Geometric(1/b),
    wrapping around the end."""
    p = 1.0 / max(mean_block, 1.0)
    idx = np.empty(n, dtype=np.int64)
    new_block = rng.random(n) < p
    starts = rng.integers(0, n, n)
    idx[0] = starts[0]
    for t in range(1, n):
        idx[t] = starts[t] if new_block[t] else (idx[t - 1] + 1) % n
    return idx


def bootstrap_sharpe_ci(
    r: F64,
    rng: np.random.Generator,
    *,
    n_boot: int = 2000,
    mean_block: float = 5.0,
    level: float = 0.95,
    periods_per_year: float = 1.0,
) -> tuple[float, float]:
    """Percentile interval of the Sharpe ratio under the stationary bootstrap (keeps serial dependence)."""
    r = np.asarray(r, dtype=np.float64)
    if len(r) < 3:
        return float("nan"), float("nan")
    boots = np.array(
        [
            sharpe(r[stationary_bootstrap_indices(len(r), mean_block, rng)], periods_per_year)
            for _ in range(n_boot)
        ]
    )
    boots = boots[np.isfinite(boots)]
    if len(boots) < 10:  # (almost) no variation in the returns: no interval
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def spearman_ic(x: F64, y: F64) -> float:
    """Spearman rank correlation over rows where both are finite; NaN with < 10 rows."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 10 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(spearmanr(x[ok], y[ok]).statistic)

"""Edge-stage test records: OU samples with a known conditional law and regime.adjusted batches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from streams.core.batch import Batch

MINUTE = 60_000
T0 = 1_546_380_000_000  # 2019-01-01 22:00 UTC


@dataclass(frozen=True)
class OULaw:
    """OU log-price x (mean 0): dx = -theta x dt + sigma dW, theta per minute, sigma per sqrt(minute)."""

    theta: float
    sigma: float

    @property
    def stationary_sd(self) -> float:
        return self.sigma / math.sqrt(2 * self.theta)

    def cond_sd(self, h: float) -> float:
        """sd of x_{t+h} given x_t: sqrt(sigma^2 (1 - e^{-2 theta h}) / (2 theta))."""
        return math.sqrt(self.sigma**2 * (1 - math.exp(-2 * self.theta * h)) / (2 * self.theta))

    def trade_moments(self, x: np.ndarray, h: float) -> tuple[np.ndarray, float]:
        """Mean and sd of the trade return -sign(x) (x_{t+h} - x_t) given x_t = x (closed form)."""
        return np.abs(x) * (1 - math.exp(-self.theta * h)), self.cond_sd(h)

    def analytic(self, x: np.ndarray, h: float, alpha: float = 0.05) -> dict[str, np.ndarray]:
        """Expected return, win probability (normal CDF) and alpha-CVaR of the trade given x_t = x."""
        mu, s = self.trade_moments(x, h)
        z = norm.ppf(alpha)
        return {"expected_return": mu, "win_prob": norm.cdf(mu / s), "cvar": mu - s * norm.pdf(z) / alpha}

    def samples(self, n: int, h: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n independent (x_t, x_{t+h}) draws: x_t stationary, x_{t+h} from the exact transition."""
        x = rng.normal(0.0, self.stationary_sd, n)
        xh = x * math.exp(-self.theta * h) + rng.normal(0.0, self.cond_sd(h), n)
        return x, xh

    def path(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n one-minute steps of the exact AR(1) discretisation, started in the stationary law."""
        b = math.exp(-self.theta)
        e = rng.normal(0.0, self.cond_sd(1.0), n)
        x = np.empty(n)
        x[0] = rng.normal(0.0, self.stationary_sd)
        for i in range(1, n):
            x[i] = b * x[i - 1] + e[i]
        return x


def regime_adjusted(
    n: int, pairs: Sequence[str] = ("EURUSD", "GBPUSD"), *, seed: int = 0, law: OULaw | None = None
) -> Batch:
    """``n`` minutes per pair of regime.adjusted records over an OU log-mid, ordered by (ts, pair).

    Every schema field is present; displacement is the OU deviation in stationary-sd units, its
    percentile the normal CDF of that; gates are mixed (some not ready, not tradeable, overridden).
    """
    law = law or OULaw(theta=0.05, sigma=1e-4)
    rng = np.random.default_rng(seed)
    k = len(pairs)
    x = np.stack([law.path(n, rng) for _ in pairs], axis=1).ravel()
    m = n * k
    mid = 1.2 * np.exp(x)
    spread = np.full(m, 1.2e-5)
    disp = x / law.stationary_sd
    ts = np.repeat(T0 + MINUTE * np.arange(n, dtype=np.int64), k)
    gap = np.repeat(np.r_[0, np.ones(n - 1, dtype=np.int32)], k).astype(np.int32)
    p_stable = rng.uniform(0.3, 1.0, m)
    return Batch(
        {
            "pair": np.tile(np.array(pairs), n),
            "ts": ts,
            "open": mid - spread / 2,
            "high": mid,
            "low": mid - spread,
            "close": mid - spread / 2,
            "volume": np.zeros(m),
            "spread": spread,
            "spread_modeled": np.ones(m, dtype=bool),
            "source": np.full(m, "test"),
            "mid": mid,
            "gap_min": gap,
            "ready": rng.random(m) > 0.05,
            "log_ret": np.zeros(m),
            "gk_vol": np.full(m, 1e-4),
            "spread_widening": rng.lognormal(0, 0.2, m),
            "tick_velocity": np.ones(m),
            "displacement": disp,
            "displacement_pct": norm.cdf(disp),
            "xcorr": np.zeros(m),
            "session_id": rng.integers(0, 5, m).astype(np.int32),
            "session_vol_norm": rng.lognormal(0, 0.3, m),
            "prob_stable": p_stable,
            "prob_directional": (1 - p_stable) / 2,
            "prob_event": (1 - p_stable) / 2,
            "entropy": np.full(m, 0.5),
            "regime": np.where(p_stable > 0.5, "Stable_Flow", "Directional_Vol"),
            "tradeable": p_stable > 0.5,
            "model_version": np.full(m, "test"),
            "event_override": rng.random(m) < 0.05,
            "override_reason": np.full(m, ""),
            "surprise_mode": np.where(rng.random(m) < 0.03, 1, 0).astype(np.int32),
        }
    )

"""Seeded governed-signal streams for the trader tests (no dependency on the upstream stages)."""

from __future__ import annotations

import numpy as np

from streams.core.batch import Batch

START = 1_704_672_000_000  # Monday 2024-01-08 00:00 UTC (market open)
BASE = {
    "EURUSD": 1.10,
    "GBPUSD": 1.27,
    "USDJPY": 150.0,
    "EURGBP": 0.86,
    "AUDUSD": 0.66,
    "USDCHF": 0.88,
    "EURJPY": 162.0,
}


def governed(
    pairs: tuple[str, ...] = ("EURUSD", "GBPUSD", "USDJPY", "EURGBP"),
    n_min: int = 600,
    seed: int = 0,
    pass_prob: float = 0.3,
    theta: float = 0.05,
    sigma: float = 1.5e-4,
    missing: float = 0.02,
    start: int = START,
    bad_regime_prob: float = 0.02,
) -> Batch:
    """Governed-signal records sorted by (ts, pair): OU log-deviations, signals that fade them."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {
        k: []
        for k in (
            "pair",
            "ts",
            "open",
            "high",
            "low",
            "close",
            "spread",
            "mid",
            "regime",
            "tradeable",
            "expected_return",
            "cost",
            "side",
            "passed",
            "half_life_min",
            "ou_valid",
            "horizon_min",
            "alloc_scale",
            "gov_state",
            "win_prob",
            "cvar",
        )
    }
    x = {p: 0.0 for p in pairs}
    prev = {p: BASE[p] for p in pairs}
    for t in range(n_min):
        ts = start + t * 60_000
        for p in sorted(pairs):
            x[p] = x[p] * (1 - theta) + sigma * rng.standard_normal()
            if rng.random() < missing:
                continue
            mid = BASE[p] * np.exp(x[p])
            spread = BASE[p] * rng.uniform(0.5e-4, 1.2e-4)
            close = mid - spread / 2
            rng_hl = BASE[p] * abs(rng.normal(0, 1e-4))
            high = max(prev[p], close) + rng_hl
            low = min(prev[p], close) - BASE[p] * abs(rng.normal(0, 1e-4))
            bad = rng.random() < bad_regime_prob
            z = x[p] / (sigma / np.sqrt(2 * theta))
            side = -int(np.sign(x[p])) if abs(z) > 1.0 else 0
            er = abs(x[p]) * (1 - np.exp(-theta * 30))
            passed = bool(side != 0 and not bad and rng.random() < pass_prob and t > 5)
            cols["pair"].append(p)
            cols["ts"].append(ts)
            cols["open"].append(prev[p])
            cols["high"].append(high)
            cols["low"].append(low)
            cols["close"].append(close)
            cols["spread"].append(spread)
            cols["mid"].append(close + spread / 2)
            cols["regime"].append("Event_Risk" if bad else "Stable_Flow")
            cols["tradeable"].append(not bad)
            cols["expected_return"].append(er)
            cols["cost"].append(spread / mid)
            cols["side"].append(side)
            cols["passed"].append(passed)
            cols["half_life_min"].append(np.log(2) / theta)
            cols["ou_valid"].append(True)
            cols["horizon_min"].append(30)
            cols["alloc_scale"].append(1.0)
            cols["gov_state"].append("NORMAL")
            cols["win_prob"].append(0.6)
            cols["cvar"].append(-0.001)
            prev[p] = close
    dtypes = {"ts": np.int64, "side": np.int32, "horizon_min": np.int32}
    return Batch(
        {k: np.array(v, dtype=dtypes.get(k)) if k in dtypes else np.array(v) for k, v in cols.items()}
    )


def dirty(b: Batch, rng: np.random.Generator) -> Batch:
    """``b`` with NaN / inf prices and spreads, reduced allocations, HALTED and SUSPENDED minutes, NaN
    displacements and a 50-minute stale gap (minutes 200-249), drawn from ``rng`` in a fixed order."""
    n = b.n
    cols = {k: np.array(b[k]) for k in b}
    for name, bad in (("high", np.nan), ("low", np.nan), ("spread", np.inf), ("mid", np.nan)):
        cols[name][rng.random(n) < 0.01] = bad
    cols["alloc_scale"] = np.where(rng.random(n) < 0.1, 0.3, 1.0)
    gov = rng.choice(["HALTED", "SUSPENDED", "NORMAL"], n, p=[0.01, 0.01, 0.98])
    cols["gov_state"] = np.where(gov == "NORMAL", cols["gov_state"], gov)
    cols["displacement"] = np.where(rng.random(n) < 0.02, np.nan, rng.normal(0.0, 1.5, n))
    keep = ~((cols["ts"] >= START + 200 * 60_000) & (cols["ts"] < START + 250 * 60_000))
    return Batch({k: v[keep] for k, v in cols.items()})

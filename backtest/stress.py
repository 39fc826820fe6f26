"""Monte Carlo spread stress: replay a test window many times with its spreads shocked, report outcomes.

The shock is applied to the **bars before replay** (the market data the broker and every stage see),
never inside a stage: a scenario is an ordinary in-process replay of altered input. Per pair, the
spread of every bar is multiplied by

    m = jitter × crisis

* ``jitter``: mean-one lognormal, ``exp(σ Z − σ²/2)``, one draw per pair per block of
  ``jitter_block_min`` minutes (spread regimes persist for a while; 1 = independent per bar);
* ``crisis``: crisis-like widening episodes. Each pair sees on average ``episodes_per_week`` episodes
  per week of window (Poisson), with a uniform random start, a log-uniform duration in
  ``duration_min`` minutes and a log-uniform factor in ``widen`` (default 5–20×). A share
  ``common_share`` of the episodes are market-wide (hit every pair at once, as in March 2020), the
  rest hit one pair. Overlapping episodes take the larger factor, not the product.

``anchor="bid"`` leaves the bid OHLC untouched (the ask widens; the mid moves up by half the extra
spread); ``anchor="mid"`` moves the bid OHLC down by half the extra spread so the mid is unchanged
(a symmetric widening). Each scenario draws from its own ``np.random.Generator`` spawned from one
``SeedSequence``: results depend on ``seed`` only, not on the number of workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from backtest.jsonsafe import clean
from backtest.scenario import (
    equity_on_grid,
    initial_equity,
    quantiles,
    run_pool,
    scenario_metrics,
    time_grid,
)
from streams.config import HSLRConfig, build_config, dump_config
from streams.core.batch import Batch
from streams.core.units import MINUTE_MS

WEEK_MS = 7 * 86_400_000
BREACH_LEVELS = (0.03, 0.05)
"""Drawdown levels whose breach probability is reported (the risk engine's throttle levels)."""


@dataclass(frozen=True)
class SpreadShock:
    """Distribution of the spread multipliers (see the module docstring)."""

    jitter_sigma: float = 0.25
    """σ of the log of the jitter multiplier (0: no jitter)."""
    jitter_block_min: int = 15
    """Minutes per jitter draw (per pair)."""
    episodes_per_week: float = 1.0
    """Mean number of crisis episodes per pair per week of window (0: none)."""
    widen: tuple[float, float] = (5.0, 20.0)
    """Crisis multiplier range (log-uniform)."""
    duration_min: tuple[float, float] = (15.0, 240.0)
    """Episode duration range in minutes (log-uniform)."""
    common_share: float = 0.5
    """Share of episodes that hit every pair at once."""
    anchor: str = "bid"
    """``bid``: bid OHLC untouched; ``mid``: bid OHLC shifted so that the mid is unchanged."""

    def __post_init__(self) -> None:
        if self.anchor not in ("bid", "mid"):
            raise ValueError(f"anchor must be 'bid' or 'mid', got {self.anchor!r}")
        if self.jitter_sigma < 0 or self.episodes_per_week < 0 or not 0 <= self.common_share <= 1:
            raise ValueError("jitter_sigma and episodes_per_week must be >= 0, common_share in [0, 1]")
        if not (0 < self.widen[0] <= self.widen[1] and 0 < self.duration_min[0] <= self.duration_min[1]):
            raise ValueError("widen and duration_min must be positive (low, high) ranges")
        if self.jitter_block_min < 1:
            raise ValueError("jitter_block_min must be >= 1")


def _loguniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    lo, hi = lo_hi
    return lo * (hi / lo) ** rng.uniform(0.0, 1.0, n)  # exactly ``lo`` when lo == hi


def _jitter(
    ts: np.ndarray, pidx: np.ndarray, n_pairs: int, shock: SpreadShock, rng: np.random.Generator
) -> np.ndarray:
    if shock.jitter_sigma == 0:
        return np.ones(len(ts))
    block = (ts - ts.min()) // (shock.jitter_block_min * MINUTE_MS)
    n_blocks = int(block.max()) + 1
    z = rng.standard_normal(n_pairs * n_blocks)
    s = shock.jitter_sigma
    return np.exp(s * z[pidx * n_blocks + block] - s * s / 2.0)


def episodes(
    ts: np.ndarray, n_pairs: int, shock: SpreadShock, rng: np.random.Generator
) -> list[tuple[int, int, float, int]]:
    """Crisis episodes ``(start_ms, end_ms, factor, pair index or -1 for all pairs)`` for a window."""
    weeks = (int(ts.max()) - int(ts.min()) + MINUTE_MS) / WEEK_MS
    rate = shock.episodes_per_week * weeks
    n_common = int(rng.poisson(rate * shock.common_share))
    n_own = rng.poisson(rate * (1.0 - shock.common_share), n_pairs)
    who = np.concatenate([np.full(n_common, -1), np.repeat(np.arange(n_pairs), n_own)]).astype(int)
    start = rng.uniform(int(ts.min()), int(ts.max()) + MINUTE_MS, len(who)).astype(np.int64)
    dur = (_loguniform(rng, shock.duration_min, len(who)) * MINUTE_MS).astype(np.int64)
    factor = _loguniform(rng, shock.widen, len(who))
    return [
        (int(a), int(a + d), float(f), int(p)) for a, d, f, p in zip(start, dur, factor, who, strict=True)
    ]


def spread_multipliers(bars: Batch, shock: SpreadShock, rng: np.random.Generator) -> np.ndarray:
    """Multiplier of each bar's spread, shape (n,), for one scenario (bars sorted by ts)."""
    if bars.n == 0:
        return np.ones(0)
    ts = bars["ts"].astype(np.int64)
    pairs, pidx = np.unique(bars["pair"].astype(str), return_inverse=True)
    pidx = pidx.reshape(-1)
    jitter = _jitter(ts, pidx, len(pairs), shock, rng)
    crisis = np.ones(bars.n)
    for start, end, factor, who in episodes(ts, len(pairs), shock, rng):
        lo, hi = np.searchsorted(ts, [start, end], side="left")
        rows = np.arange(lo, hi)
        if who >= 0:
            rows = rows[pidx[lo:hi] == who]
        crisis[rows] = np.maximum(crisis[rows], factor)
    return jitter * crisis


def shock_bars(bars: Batch, mult: np.ndarray, anchor: str = "bid") -> Batch:
    """``bars`` with ``spread × mult``; with ``anchor="mid"`` the bid OHLC move down by half the change."""
    spread = bars["spread"].astype(np.float64)
    new = spread * mult
    cols: dict[str, np.ndarray] = {"spread": new}
    if anchor == "mid":
        half = (new - spread) / 2.0
        cols.update({k: bars[k] - half for k in ("open", "high", "low", "close")})
    return bars.with_columns(**cols)


# -- scenarios ------------------------------------------------------------------------------------
_SHARED: dict[str, Any] = {}


def _init(bars_cols: dict[str, np.ndarray], config_data: dict[str, Any], grid: np.ndarray) -> None:
    _SHARED.update(bars=Batch(bars_cols), config=build_config(config_data), grid=grid)


def _scenario(shock: SpreadShock, seed: np.random.SeedSequence | None) -> dict[str, Any]:
    from backtest.engine import run_inprocess_engine

    bars, config, grid = _SHARED["bars"], _SHARED["config"], _SHARED["grid"]
    mult = np.ones(bars.n) if seed is None else spread_multipliers(bars, shock, np.random.default_rng(seed))
    out = run_inprocess_engine(shock_bars(bars, mult, shock.anchor), config)
    init = initial_equity(config)
    return {
        **scenario_metrics(out, init),
        "mean_multiplier": float(mult.mean()) if len(mult) else 1.0,
        "equity": equity_on_grid(out["portfolio"], grid, init),
    }


def breach_probability(max_drawdown: np.ndarray, level: float) -> float:
    """Share of scenarios whose max drawdown reached ``level`` (``>=``); NaN for no scenario."""
    dd = np.asarray(max_drawdown, dtype=np.float64)
    return float((dd >= level).mean()) if len(dd) else float("nan")


def run_stress(
    bars: Batch,
    config: HSLRConfig,
    shock: SpreadShock = SpreadShock(),
    n: int = 100,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, Any]:
    """Replay ``bars`` under ``n`` shocked scenarios (plus the unshocked baseline); return a JSON-able report.

    Keys: ``shock`` (the distribution), ``n``, ``seed``, ``baseline`` (metrics of the unshocked replay),
    ``scenarios`` (per-scenario metrics lists), ``quantiles`` (q05…q95 of pnl_usd, return, sharpe,
    max_drawdown), ``breach`` (``{"0.03": P, "0.05": P}``), ``grid_ts`` and ``equity`` (baseline
    and scenario equity on a common grid, shape (n, g), for fan charts).
    """
    seeds = np.random.SeedSequence(seed).spawn(n)
    grid = time_grid(bars)
    tasks = [(shock, None)] + [(shock, s) for s in seeds]
    res = run_pool(_scenario, tasks, workers, _init, (dict(bars.items()), dump_config(config), grid))
    base, scen = res[0], res[1:]
    keys = [k for k in base if k != "equity"]
    table = {k: np.array([r[k] for r in scen], dtype=np.float64) for k in keys}
    return clean(
        {
            "shock": asdict(shock),
            "n": n,
            "seed": seed,
            "baseline": {k: base[k] for k in keys},
            "scenarios": table,
            "quantiles": {
                k: quantiles(table[k]) for k in ("pnl_usd", "return", "sharpe", "max_drawdown", "fill_rate")
            },
            "breach": {f"{lv:g}": breach_probability(table["max_drawdown"], lv) for lv in BREACH_LEVELS},
            "grid_ts": grid,
            "baseline_equity": base["equity"],
            "equity": np.array([r["equity"] for r in scen]) if scen else np.zeros((0, len(grid))),
        }
    )

"""Deterministic, seeded synthetic 1-minute FX market with known ground truth.

:func:`generate_market` simulates bid bars for several pairs plus the truth behind them (regime,
fair value, OU deviation and speed, event minutes), so regime classifiers and mean-reversion
estimators can be tested against known answers. Everything random comes from generators seeded by
``(seed, pair)``: the same seed gives identical output, and a pair's path does not depend on which
other pairs are generated (the common factors depend only on the seed and the time range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.data.bars import BarColumns, sort_order, take_rows
from streams.data.calendar import event_times
from streams.data.spread_model import model_spread
from streams.data.synth_config import TRADING_MINUTES_PER_YEAR, SynthConfig
from streams.data.synth_paths import PathOut, dynamics, simulate
from streams.data.synth_regimes import EVENT, RegimePath, couple, markov_spells, overlay_calendar
from streams.fx.hours import open_minutes
from streams.fx.pairs import currencies, pip_size, validate_pair
from streams.fx.sessions import TimeLike, in_hours, to_ms

TRUTH_FIELDS: tuple[str, ...] = ("pair", "ts", "regime", "fair_value", "deviation", "ou_theta", "event")
"""Truth columns: regime int8 (0 Stable_Flow, 1 Directional_Vol, 2 Event_Risk), fair_value (mid,
price units), deviation (log mid minus log fair value at the close), ou_theta (per minute), event
(True at event minutes, where the jump happens)."""


@dataclass(frozen=True)
class SynthMarket:
    """Generated bars and their ground truth, row-aligned (row i of both is the same pair and minute)."""

    bars: BarColumns
    """Bar columns (``BAR_FIELDS``), sorted by ``(ts, pair)``, source ``synth:<seed>``."""
    truth: dict[str, npt.NDArray[Any]]
    """Truth columns (``TRUTH_FIELDS``) for the same rows."""
    calm_theta: dict[str, float]
    """Calm-regime OU speed per pair, per minute (half-life = ln 2 / theta)."""
    decimals: dict[str, dict[int, int]]
    """Quoted decimals per pair and calendar year."""


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, int.from_bytes(key.encode(), "big")])


def _usd_sign(pair: str) -> float:
    base, quote = currencies(pair)
    return 1.0 if quote == "USD" else -1.0 if base == "USD" else 0.0


def _decimals(
    pair: str, years: npt.NDArray[np.int64], rng: np.random.Generator, cfg: SynthConfig
) -> dict[int, int]:
    jpy = currencies(pair)[1] == "JPY"
    out = {}
    for y in np.unique(years):
        four = rng.random() < cfg.four_decimal_share
        out[int(y)] = cfg.decimals.get(pair, (2 if four else 3) if jpy else (4 if four else 5))
    return out


def _missing(
    grid: npt.NDArray[np.int64], regime: npt.NDArray[np.int8], rng: np.random.Generator, cfg: SynthConfig
) -> npt.NDArray[np.bool_]:
    n = len(grid)
    asian = in_hours(grid, *cfg.asian_hours)
    frac = min(max(float(asian.mean()) if n else 0.0, 1e-9), 1 - 1e-9)
    w = np.where(asian, cfg.missing_asian_share / frac, (1 - cfg.missing_asian_share) / (1 - frac))
    drop = rng.random(n) < cfg.missing_rate * w
    n_gaps = rng.poisson(cfg.long_gaps_per_year * n / TRADING_MINUTES_PER_YEAR)
    for start in rng.integers(0, max(n, 1), size=n_gaps):
        drop[start : start + int(rng.uniform(*cfg.long_gap_hours) * 60)] = True
    # News minutes always trade: keep Event_Risk bars so event studies see every release.
    return np.asarray(drop & (regime != EVENT), dtype=np.bool_)


def _spread(
    pair: str, grid: npt.NDArray[np.int64], path: PathOut, mult: npt.NDArray[np.float64], cfg: SynthConfig
) -> npt.NDArray[np.float64]:
    raw = model_spread(np.full(len(grid), pair), grid, np.exp(path.high), np.exp(path.low), cfg.spread) * mult
    tick = 0.1 * pip_size(pair)
    return np.round(np.maximum(np.round(raw / tick), 1.0) * tick, 10)


def _pair_columns(
    pair: str,
    grid: npt.NDArray[np.int64],
    common: dict[str, Any],
    calendar: Mapping[str, npt.NDArray[Any]] | None,
    seed: int,
    cfg: SynthConfig,
) -> tuple[BarColumns, dict[str, npt.NDArray[Any]], float, dict[int, int]]:
    rng = _rng(seed, pair)
    sigma0 = cfg.annual_vol[pair] / np.sqrt(TRADING_MINUTES_PER_YEAR)
    theta0 = float(np.log(2) / rng.uniform(*cfg.half_life_min))
    sign = _usd_sign(pair)
    coupling = cfg.usd_regime_coupling if sign else cfg.cross_regime_coupling
    regime = couple(markov_spells(len(grid), rng, cfg)[0], common["regime"], common["lengths"], coupling, rng)
    cal_ts = (
        np.zeros(0, dtype=np.int64)
        if calendar is None
        else event_times(calendar, currencies(pair), cfg.calendar_impacts)
    )
    path: RegimePath = overlay_calendar(regime, grid, cal_ts, cfg)
    dyn = dynamics(path, grid, sigma0, theta0, rng, cfg)
    out = simulate(
        dyn,
        float(np.log(cfg.start_price[pair])),
        cfg,
        rng,
        common.get("shocks"),
        sign * np.sqrt(cfg.usd_correlation),
    )
    spread = _spread(pair, grid, out, dyn.spread_mult, cfg)
    years = grid.astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64) + 1970
    decimals = _decimals(pair, years, rng, cfg)
    scale = 10.0 ** np.vectorize(decimals.__getitem__, otypes=[np.int64])(years)
    keep = ~_missing(grid, path.regime, rng, cfg)
    n = int(keep.sum())
    bars: BarColumns = {"pair": np.full(n, pair), "ts": grid[keep]}
    for k in ("open", "high", "low", "close"):
        bars[k] = np.round((np.exp(getattr(out, k)) - spread / 2) * scale)[keep] / scale[keep]
    bars.update(
        volume=np.zeros(n),
        spread=spread[keep],
        spread_modeled=np.ones(n, dtype=bool),
        source=np.full(n, f"synth:{seed}"),
    )
    event = np.zeros(len(grid), dtype=bool)
    event[path.onset] = True
    truth = {
        "pair": bars["pair"],
        "ts": bars["ts"],
        "regime": path.regime[keep],
        "fair_value": np.exp(out.fair_close[keep]),
        "deviation": out.dev_close[keep],
        "ou_theta": dyn.theta[keep],
        "event": event[keep],
    }
    return bars, truth, theta0, decimals


def generate_market(
    pairs: Sequence[str],
    start: TimeLike,
    end: TimeLike,
    seed: int,
    config: SynthConfig | None = None,
    calendar: Mapping[str, npt.NDArray[Any]] | None = None,
) -> SynthMarket:
    """Generate synthetic 1-minute bid bars and their ground truth.

    Parameters
    ----------
    pairs : sequence of str
        Known pair codes; each needs ``annual_vol`` and ``start_price`` in the config.
    start, end : int (ms UTC), str, datetime or numpy/pandas time
        Half-open range ``[start, end)``; naive times are UTC. Only FX-open minutes get bars.
    seed : int
        Non-negative seed; the only source of randomness.
    config : SynthConfig, optional
        Model parameters; defaults to ``SynthConfig()``.
    calendar : mapping of str to ndarray, optional
        Calendar columns (``ts`` ms UTC, ``currency``, ``impact``) as returned by
        :mod:`streams.data.calendar`; events of a pair's currencies with an impact in
        ``config.calendar_impacts`` become Event_Risk windows with a jump at the event minute.

    Returns
    -------
    SynthMarket
        Bars sorted by ``(ts, pair)`` and row-aligned truth.
    """
    cfg = config or SynthConfig()
    for p in pairs:
        validate_pair(p)
    if not pairs:
        raise ValueError("no pairs to generate")
    if to_ms(start) >= to_ms(end):
        raise ValueError(f"empty time range: from {start} is not before to {end}")
    grid = open_minutes(to_ms(start), to_ms(end))
    crng = _rng(seed, "__common__")
    regime, lengths = markov_spells(len(grid), crng, cfg)
    common: dict[str, Any] = {"regime": regime, "lengths": lengths}
    if any(_usd_sign(p) for p in pairs):
        common["shocks"] = tuple(crng.standard_normal((2, len(grid) * cfg.substeps)))
    parts = [_pair_columns(p, grid, common, calendar, seed, cfg) for p in dict.fromkeys(pairs)]
    bars = {k: np.concatenate([b[k] for b, *_ in parts]) for k in parts[0][0]} if parts else {}
    truth = {k: np.concatenate([t[k] for _, t, *_ in parts]) for k in parts[0][1]} if parts else {}
    order = sort_order(bars["ts"], bars["pair"]) if parts else np.zeros(0, dtype=np.intp)
    return SynthMarket(
        bars=take_rows(bars, order),
        truth=take_rows(truth, order),
        calm_theta={p: part[2] for p, part in zip(dict.fromkeys(pairs), parts, strict=True)},
        decimals={p: part[3] for p, part in zip(dict.fromkeys(pairs), parts, strict=True)},
    )

"""A spread model for bid-only bars (HistData M1), calibrated on real bid/ask M1 bars.

``spread = base_pips(pair) * pip * session(pair, clock time) * bar_vol(range) * regime(vol, hours-days)``

* **Base** per pair, pips: the mean spread in the most liquid hours (European morning and the London/New
  York overlap, 02:00-12:00 New York time). GBPUSD and USDJPY are measured on real FXCM bid and ask M1
  bars (Feb 2012, Feb 2013; ``bench/spread_calibration.py``, figures in ``results/spread_model.md``);
  the other pairs keep published ECN averages (assumptions, towards the upper end).
* **Session** windows on the New York clock (so they move with US daylight saving, as the FX day does):
  the rollover at the 17:00 close (16:55-17:15, then 17:15-18:00), Asian hours (18:00-02:00) and the
  New York afternoon (12:00-16:55), each a multiplier per pair. Pairs without a measured profile borrow
  GBPUSD's (``'*'``) or, when quoted in yen, USDJPY's (``'*JPY'``).
* **Bar volatility**: the bar's range over the rolling median range of the preceding ``vol_window``
  bars. Real spreads do not respond to ratios below ~3 (measured); above ``vol_threshold`` the factor
  is ``(ratio / vol_threshold) ** vol_exponent``, clipped to ``[1, vol_cap]``.
* **Volatility regime** (crisis widening over hours and days): ``sqrt`` of an EWMA (half-life
  ``regime_halflife_bars``) of the bar's Parkinson variance ``ln(high/low)**2`` divided by its baseline,
  the EWMA of the same hour of the (New York) day over ``regime_baseline_days`` days. The factor is
  ``(ratio / regime_threshold) ** regime_elasticity`` clipped to ``[1, regime_cap]``. The calibration
  months are calm (ratios mostly below 1.5, one USDJPY episode at 2-3 with spreads +60 %), so the two
  are weakly identified: (1.5, 1.0) had the least error of hourly mean spreads over a declared grid of
  nine (thresholds 1.25/1.5/2, elasticities 0.5/1/2), within 2 % of the others.

Every factor is computed per pair in time order from the bar itself and the bars before it (causal).
The state of the EWMAs starts afresh with each call: model a pair's files together (``hslr ingest``
does) so a new year does not start cold.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from streams.fx.pairs import currencies, pip_sizes, validate_pair
from streams.fx.sessions import minute_of_day

MODEL_NAME = "hslr-spread-v2"

DEFAULT_BASE_PIPS: dict[str, float] = {
    "EURUSD": 0.4,
    "GBPUSD": 0.52,
    "USDJPY": 0.25,
    "USDCHF": 0.9,
    "AUDUSD": 0.6,
    "USDCAD": 0.8,
    "NZDUSD": 1.0,
    "EURGBP": 0.8,
    "EURJPY": 0.9,
    "GBPJPY": 1.6,
    "AUDJPY": 1.1,
    "EURCHF": 1.0,
}
CALIBRATED_PAIRS: tuple[str, ...] = ("GBPUSD", "USDJPY")
"""Pairs whose base and session profile were measured on real bid/ask bars."""


class SessionWindow(BaseModel):
    """A window of the day ``[start_min, end_min)`` in minutes of the model's clock; wraps past midnight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    start_min: int = Field(ge=0, le=1440)
    end_min: int = Field(ge=0, le=1440)


def _w(name: str, start: tuple[int, int], end: tuple[int, int]) -> SessionWindow:
    return SessionWindow(name=name, start_min=start[0] * 60 + start[1], end_min=end[0] * 60 + end[1])


NY_WINDOWS: tuple[SessionWindow, ...] = (
    _w("asia", (18, 0), (2, 0)),
    _w("ny_afternoon", (12, 0), (16, 55)),
    _w("rollover", (16, 55), (17, 15)),
    _w("post_rollover", (17, 15), (18, 0)),
)
_GBPUSD_PROFILE = {"asia": 1.71, "ny_afternoon": 1.43, "rollover": 6.7, "post_rollover": 3.47}
_USDJPY_PROFILE = {"asia": 1.03, "ny_afternoon": 1.36, "rollover": 7.75, "post_rollover": 4.09}
DEFAULT_SESSION_FACTORS: dict[str, dict[str, float]] = {
    "GBPUSD": _GBPUSD_PROFILE,
    "USDJPY": _USDJPY_PROFILE,
    "*": _GBPUSD_PROFILE,
    "*JPY": _USDJPY_PROFILE,
}


class SpreadConfig(BaseModel):
    """Parameters of :func:`model_spread`; immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_pips: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_BASE_PIPS))
    """Base spread per pair in the liquid reference hours, pips."""
    clock: str = "America/New_York"
    """Time zone of the session windows (``'UTC'`` or an IANA name)."""
    windows: tuple[SessionWindow, ...] = NY_WINDOWS
    """Session windows; a later window wins where two overlap; minutes in none have factor 1."""
    session_factors: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_SESSION_FACTORS.items()}
    )
    """Multiplier per window name, per pair, with fall-backs ``'*JPY'`` (yen-quoted) and ``'*'``."""
    vol_window: int = Field(default=60, ge=1)
    """Bars in the rolling median range, per pair."""
    vol_threshold: float = Field(default=3.0, gt=0.0)
    """Range ratio (bar / rolling median) above which the spread widens."""
    vol_exponent: float = Field(default=0.5, ge=0.0)
    """Elasticity of the spread to the range ratio above the threshold."""
    vol_cap: float = Field(default=5.0, ge=1.0)
    """Upper bound of the bar volatility factor."""
    min_range_pips: float = Field(default=0.1, gt=0.0)
    """Floor of the median range (pips) so flat 4-decimal markets do not divide by zero."""
    regime_halflife_bars: float = Field(default=360.0, gt=0.0)
    """Half-life of the short realised-variance EWMA, bars (6 hours of an open market)."""
    regime_baseline_days: float = Field(default=20.0, gt=0.0)
    """Half-life of the per-hour-of-day baseline variance EWMA, trading days."""
    regime_threshold: float = Field(default=1.5, gt=0.0)
    """Volatility ratio (short / baseline) above which the spread widens."""
    regime_elasticity: float = Field(default=1.0, ge=0.0)
    """Elasticity of the spread to the volatility ratio above the threshold; 0 disables the factor."""
    regime_cap: float = Field(default=10.0, ge=1.0)
    """Upper bound of the regime factor."""


def synthetic_spread_config() -> SpreadConfig:
    """Return the spread model of the synthetic market (the pre-calibration model, kept bit for bit).

    UTC clock, Asian hours 22:00-07:00 x1.6, rollover 21:00-22:00 x6, bar factor ``sqrt(ratio)`` with no
    threshold, no regime factor, the original base spreads.
    """
    legacy = {"asian": 1.6, "rollover": 6.0}
    return SpreadConfig(
        base_pips={**DEFAULT_BASE_PIPS, "GBPUSD": 0.8, "USDJPY": 0.5},
        clock="UTC",
        windows=(_w("asian", (22, 0), (7, 0)), _w("rollover", (21, 0), (22, 0))),
        session_factors={"*": legacy},
        vol_threshold=1.0,
        regime_elasticity=0.0,
    )


def describe(config: SpreadConfig) -> dict[str, Any]:
    """Return ``{'model', 'id', 'params'}``: the model name, a 12-hex digest of the parameters, them."""
    params = config.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return {"model": MODEL_NAME, "id": f"{MODEL_NAME}:{digest}", "params": params}


def _per_pair(pairs: npt.NDArray[Any], value: Any) -> npt.NDArray[np.float64]:
    uniq, inv = np.unique(pairs, return_inverse=True)
    return np.asarray([value(str(p)) for p in uniq], dtype=np.float64)[inv.reshape(-1)]


def _base(pair: str, config: SpreadConfig) -> float:
    validate_pair(pair)
    if pair not in config.base_pips:
        raise ValueError(f"no base spread configured for pair {pair!r}")
    return config.base_pips[pair]


def _profile(pair: str, config: SpreadConfig) -> dict[str, float]:
    quote = currencies(pair)[1]
    for key in (pair, f"*{quote}", "*"):
        if key in config.session_factors:
            return config.session_factors[key]
    return {}


def clock_minute_of_day(ts: npt.NDArray[np.int64], clock: str) -> npt.NDArray[np.int64]:
    """Return the minute of the day on ``clock`` (a time zone) for bar times in ms UTC, shape (n,)."""
    ts = np.asarray(ts, dtype=np.int64)
    if clock == "UTC":
        return minute_of_day(ts)
    local = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True)).tz_convert(clock)
    return np.asarray(local.hour * 60 + local.minute, dtype=np.int64)


def _window_mask(mod: npt.NDArray[np.int64], w: SessionWindow) -> npt.NDArray[np.bool_]:
    if w.start_min <= w.end_min:
        return (mod >= w.start_min) & (mod < w.end_min)
    return (mod >= w.start_min) | (mod < w.end_min)


def session_factor(
    ts: npt.NDArray[np.int64], config: SpreadConfig, pair: npt.NDArray[Any] | None = None
) -> npt.NDArray[np.float64]:
    """Return the session multiplier per bar, shape (n,), dimensionless (``'*'`` profile without pairs)."""
    ts = np.asarray(ts, dtype=np.int64)
    pairs = np.full(len(ts), "") if pair is None else np.asarray(pair, dtype=str)
    mod = clock_minute_of_day(ts, config.clock)
    factor = np.ones(len(ts), dtype=np.float64)
    for w in config.windows:
        inside = _window_mask(mod, w)
        if not inside.any():
            continue
        default = config.session_factors.get("*", {}).get(w.name, 1.0)
        values = _per_pair(pairs, lambda p, n=w.name, d=default: _profile(p, config).get(n, 1.0) if p else d)
        factor[inside] = values[inside]
    return factor


def _time_order(pair: npt.NDArray[Any], ts: npt.NDArray[np.int64]) -> list[npt.NDArray[np.intp]]:
    out = []
    for p in np.unique(pair):
        idx = np.flatnonzero(pair == p)
        out.append(idx[np.argsort(ts[idx], kind="stable")])
    return out


def volatility_factor(
    pair: npt.NDArray[Any],
    ts: npt.NDArray[np.int64],
    bar_range: npt.NDArray[np.float64],
    pip: npt.NDArray[np.float64],
    config: SpreadConfig,
) -> npt.NDArray[np.float64]:
    """Return ``clip((range / rolling median / threshold) ** exponent, 1, cap)`` per bar, shape (n,).

    The rolling median runs per pair in time order over the last ``vol_window`` bars (the bar included).
    """
    median = np.empty(len(ts), dtype=np.float64)
    for idx in _time_order(pair, ts):
        rolled = pd.Series(bar_range[idx]).rolling(config.vol_window, min_periods=1).median()
        median[idx] = rolled.to_numpy(dtype=np.float64)
    floor = config.min_range_pips * pip
    ratio = np.maximum(bar_range, 0.0) / np.maximum(median, floor)
    return np.clip((ratio / config.vol_threshold) ** config.vol_exponent, 1.0, config.vol_cap)


def regime_ratio(
    pair: npt.NDArray[Any],
    ts: npt.NDArray[np.int64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    pip: npt.NDArray[np.float64],
    config: SpreadConfig,
) -> npt.NDArray[np.float64]:
    """Return the volatility-regime ratio per bar, shape (n,), dimensionless (about 1 in a usual market).

    ``sqrt(EWMA_short(v / baseline))`` where ``v = ln(high/low)**2`` and ``baseline`` is the EWMA of
    ``v`` over the bars of the same clock hour of the day (half-life ``regime_baseline_days * 60`` of
    them), so the daily cycle of volatility does not look like a regime change.
    """
    hour = clock_minute_of_day(ts, config.clock) // 60
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(np.asarray(high, dtype=np.float64) / np.asarray(low, dtype=np.float64)) ** 2
    v = np.where(np.isfinite(v), v, 0.0)
    floor = (config.min_range_pips * pip / np.maximum(np.asarray(low, dtype=np.float64), 1e-12)) ** 2
    out = np.ones(len(ts), dtype=np.float64)
    for idx in _time_order(pair, ts):
        series = pd.Series(v[idx])
        baseline = series.groupby(hour[idx]).transform(
            lambda s: s.ewm(halflife=config.regime_baseline_days * 60.0).mean()
        )
        x = v[idx] / np.maximum(baseline.to_numpy(dtype=np.float64), floor[idx])
        short = pd.Series(x).ewm(halflife=config.regime_halflife_bars).mean()
        out[idx] = np.sqrt(short.to_numpy(dtype=np.float64))
    return out


def regime_factor(ratio: npt.NDArray[np.float64], config: SpreadConfig) -> npt.NDArray[np.float64]:
    """Return ``clip((ratio / threshold) ** elasticity, 1, cap)``, shape (n,)."""
    return np.clip((ratio / config.regime_threshold) ** config.regime_elasticity, 1.0, config.regime_cap)


def model_spread(
    pair: npt.NDArray[Any],
    ts: npt.NDArray[np.int64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    config: SpreadConfig | None = None,
) -> npt.NDArray[np.float64]:
    """Model the ask-bid spread of bid-only bars.

    Parameters
    ----------
    pair : ndarray of str, shape (n,)
        Pair code per bar; every pair must be known and configured.
    ts : ndarray of int64, shape (n,)
        Bar open time, ms UTC. Rows may be in any order; the rolling factors follow time per pair.
    high, low : ndarray of float64, shape (n,)
        Bar high and low (bid), price units.
    config : SpreadConfig, optional
        Model parameters; defaults to ``SpreadConfig()`` (the calibrated model).

    Returns
    -------
    ndarray of float64, shape (n,)
        Spread in price units (ask - bid), strictly positive.

    Raises
    ------
    ValueError
        For an unknown pair or one without a configured base spread.
    """
    cfg = config or SpreadConfig()
    pair = np.asarray(pair, dtype=str)
    ts = np.asarray(ts, dtype=np.int64)
    if len(pair) == 0:
        return np.zeros(0, dtype=np.float64)
    pip = pip_sizes(pair)
    base = _per_pair(pair, lambda p: _base(p, cfg)) * pip
    high = np.asarray(high, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    vol = volatility_factor(pair, ts, high - low, pip, cfg)
    spread = base * session_factor(ts, cfg, pair) * vol
    if cfg.regime_elasticity > 0.0:
        spread = spread * regime_factor(regime_ratio(pair, ts, high, low, pip, cfg), cfg)
    return spread

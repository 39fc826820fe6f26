"""A configurable spread model for bid-only data (HistData M1, synthetic bars).

``spread = base_pips(pair) * pip(pair) * session_factor(ts) * volatility_factor(range)``

* **Base spread** per pair in pips: typical raw/ECN retail spreads in liquid London/New York hours
  (ECN broker published averages, e.g. IC Markets / Pepperstone raw accounts 2019-2021: EURUSD
  0.1-0.3, USDJPY 0.2-0.4, GBPUSD 0.3-0.8, crosses 0.6-1.5). Those are assumptions, not measurements,
  chosen towards the middle-to-upper end so backtests do not flatter the strategy.
* **Session factor**: Asian hours (17:00-02:00 New York by default, 22:00-07:00 UTC in winter) are
  wider; the daily rollover hour (17:00-18:00 New York, when liquidity providers re-price and swap is
  booked: 21:00 UTC in US summer time, 22:00 in winter) is much wider. Hours are New York wall-clock
  hours, as the market's (:mod:`streams.fx.hours`).
* **Volatility factor**: the bar's high-low range relative to the rolling median range of the same
  pair over the preceding ``vol_window`` bars (the bar itself included), raised to ``vol_exponent``,
  clipped to ``[1, vol_cap]`` -- spreads widen in fast markets but never narrow below base.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from streams.fx.hours import in_local_hours
from streams.fx.pairs import pip_sizes, validate_pair

DEFAULT_BASE_PIPS: dict[str, float] = {
    "EURUSD": 0.4,
    "GBPUSD": 0.8,
    "USDJPY": 0.5,
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


class SpreadConfig(BaseModel):
    """Parameters of :func:`model_spread`; immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_pips: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_BASE_PIPS))
    """Base spread per pair in liquid hours, pips."""
    asian_factor: float = 1.6
    """Multiplier during Asian hours."""
    asian_hours: tuple[int, int] = (17, 2)
    """New York hours ``[start, end)`` counted as Asian session (wraps past midnight)."""
    rollover_factor: float = 6.0
    """Multiplier during the rollover hour; replaces the Asian factor there."""
    rollover_hours: tuple[int, int] = (17, 18)
    """New York hours ``[start, end)`` of the daily rollover."""
    vol_window: int = Field(default=60, ge=1)
    """Bars in the rolling median range, per pair."""
    vol_exponent: float = Field(default=0.5, ge=0.0)
    """Elasticity of the spread to the range ratio."""
    vol_cap: float = Field(default=5.0, ge=1.0)
    """Upper bound of the volatility factor."""
    min_range_pips: float = Field(default=0.1, gt=0.0)
    """Floor of the median range (pips) so flat 4-decimal markets do not divide by zero."""


def _base_pips(pairs: npt.NDArray[Any], config: SpreadConfig) -> npt.NDArray[np.float64]:
    uniq, inv = np.unique(pairs, return_inverse=True)
    values = []
    for p in uniq:
        validate_pair(str(p))
        if str(p) not in config.base_pips:
            raise ValueError(f"no base spread configured for pair {str(p)!r}")
        values.append(config.base_pips[str(p)])
    return np.asarray(values, dtype=np.float64)[inv.reshape(-1)]


def session_factor(ts: npt.NDArray[np.int64], config: SpreadConfig) -> npt.NDArray[np.float64]:
    """Return the session multiplier per bar, shape (n,), dimensionless (>= 1 by default)."""
    factor = np.ones(len(ts), dtype=np.float64)
    factor[in_local_hours(ts, *config.asian_hours)] = config.asian_factor
    factor[in_local_hours(ts, *config.rollover_hours)] = config.rollover_factor
    return factor


def volatility_factor(
    pair: npt.NDArray[Any],
    ts: npt.NDArray[np.int64],
    bar_range: npt.NDArray[np.float64],
    pip: npt.NDArray[np.float64],
    config: SpreadConfig,
) -> npt.NDArray[np.float64]:
    """Return ``clip((range / rolling median range) ** exponent, 1, cap)`` per bar, shape (n,).

    The rolling median runs per pair in time order over the last ``vol_window`` bars.
    """
    median = np.empty(len(ts), dtype=np.float64)
    for p in np.unique(pair):
        idx = np.flatnonzero(pair == p)
        idx = idx[np.argsort(ts[idx], kind="stable")]
        rolled = pd.Series(bar_range[idx]).rolling(config.vol_window, min_periods=1).median()
        median[idx] = rolled.to_numpy(dtype=np.float64)
    floor = config.min_range_pips * pip
    ratio = np.maximum(bar_range, 0.0) / np.maximum(median, floor)
    return np.clip(ratio**config.vol_exponent, 1.0, config.vol_cap)


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
        Bar open time, ms UTC. Rows may be in any order; the rolling median follows time per pair.
    high, low : ndarray of float64, shape (n,)
        Bar high and low (bid), price units.
    config : SpreadConfig, optional
        Model parameters; defaults to ``SpreadConfig()``.

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
    base = _base_pips(pair, cfg) * pip
    bar_range = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    vol = volatility_factor(pair, ts, bar_range, pip, cfg)
    return base * session_factor(ts, cfg) * vol

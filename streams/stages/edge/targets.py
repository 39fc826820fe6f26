"""Training targets of the edge model: the forward return of the mean-reversion trade.

The trade at bar ``t`` takes ``side = -sign(displacement_t)`` (price above its rolling mean: sell
the base) and is valued ``horizon_min`` minutes later at mid::

    r_t = side_t * ln(mid_{t+h} / mid_t)

Only bars passed in are used, so a training window never looks past its own end: the last ``h``
minutes of each pair get ``NaN`` (the purge) because their exit bar lies outside the window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, MINUTE_MS


def trade_side(displacement: F64) -> npt.NDArray[np.int64]:
    """Mean-reversion side per bar, shape (n,): -sign(displacement), 0 when zero or not finite."""
    d = np.asarray(displacement, dtype=np.float64)
    return np.where(np.isfinite(d), -np.sign(d), 0.0).astype(np.int64)


def forward_trade_returns(
    pair: npt.NDArray[Any],
    ts: npt.NDArray[np.int64],
    mid: F64,
    displacement: F64,
    horizon_min: int,
    tolerance_min: int = 0,
) -> F64:
    """Forward trade return per bar over ``horizon_min`` minutes (see the module docstring).

    Parameters
    ----------
    pair, ts, mid, displacement : ndarray, shape (n,)
        Bars of one or more pairs in any order; ``ts`` ms UTC (unique per pair), ``mid`` price units.
    horizon_min : int
        Holding horizon, minutes.
    tolerance_min : int
        When no bar exists exactly at ``t + h`` (a data gap), use the pair's latest bar at or before
        ``t + h`` if it is at most this many minutes earlier; otherwise the target is ``NaN``.

    Returns
    -------
    ndarray, shape (n,)
        Fractional log-return of the trade, ``NaN`` where the exit bar is missing (incl. the purge).
    """
    ts = np.asarray(ts, dtype=np.int64)
    codes = np.unique(np.asarray(pair, dtype=str), return_inverse=True)[1].astype(np.int64)
    key = (codes << 42) + ts  # ms timestamps < 2**42 until the year 2109
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    target = key + horizon_min * MINUTE_MS
    j = np.searchsorted(sorted_key, target, side="right") - 1
    jc = np.clip(j, 0, len(key) - 1)
    found = (j >= 0) & (sorted_key[jc] >= target - tolerance_min * MINUTE_MS) & (sorted_key[jc] > key)
    exit_mid = np.asarray(mid, dtype=np.float64)[order][jc]
    side = trade_side(displacement).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = side * np.log(exit_mid / np.asarray(mid, dtype=np.float64))
    return np.where(found & np.isfinite(r), r, np.nan)

"""Mid prices, gaps, log returns and segments of one pair's bar series."""

from __future__ import annotations

import numpy as np

from streams.core.units import F64, I64, MINUTE_MS


def mid_price(close: F64, spread: F64) -> F64:
    """Return the mid at the close, ``close + spread / 2`` (bid close plus half the spread), shape (n,)."""
    return close + 0.5 * spread


def gap_minutes(ts: I64, last_ts: int) -> I64:
    """Return minutes since the pair's previous bar, shape (k,); 0 for the pair's first bar ever.

    Parameters
    ----------
    ts : ndarray of int64, shape (k,)
        Bar open times (ms UTC) of one pair, strictly increasing.
    last_ts : int
        Open time of the pair's bar before ``ts[0]``, or -1 when there is none.
    """
    prev = np.concatenate([[last_ts], ts[:-1]])
    gap = (ts - prev) // MINUTE_MS
    if last_ts < 0:
        gap[0] = 0
    return gap.astype(np.int64)


def log_returns(mid: F64, last_mid: float, gap: I64) -> F64:
    """Return ``ln(mid_t / mid_{t-1})`` where the previous bar is exactly one minute earlier, else NaN.

    No return ever spans a gap (missing minutes, weekends): the row after a gap has ``log_ret`` NaN.

    Parameters
    ----------
    mid : ndarray, shape (k,)
        Mid prices of one pair's consecutive bars.
    last_mid : float
        Mid of the bar before ``mid[0]`` (NaN when there is none).
    gap : ndarray of int64, shape (k,)
        Minutes since the previous bar, from :func:`gap_minutes`.
    """
    prev = np.concatenate([[last_mid], mid[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.log(mid / prev)
    return np.where(gap == 1, out, np.nan)


def segment_positions(gap: I64, seg0: int, first_ever: bool, max_gap_min: int) -> I64:
    """Return each bar's 1-based position in its segment, shape (k,).

    A segment starts at the pair's first bar and at every bar whose gap exceeds ``max_gap_min``;
    ``seg0`` is the position of the bar before ``gap[0]`` (state). Bar windows only use bars of the
    current segment, so a window of ``w`` bars is full exactly when the position is >= ``w``.
    """
    k = len(gap)
    reset = gap > max_gap_min
    if first_ever:
        reset[0] = True
    idx = np.arange(k)
    last = np.maximum.accumulate(np.where(reset, idx, -1))
    return np.where(last >= 0, idx - last + 1, seg0 + idx + 1).astype(np.int64)

"""Garman-Klass volatility and the activity proxies (spread widening, tick velocity)."""

from __future__ import annotations

import numpy as np

from streams.core.units import F64, I64
from streams.stages.features.windows import median_of_previous, window_sums, with_tail

GK_C = 2.0 * np.log(2.0) - 1.0
"""Garman-Klass weight of the squared open-to-close log return."""


def gk_variance(o: F64, h: F64, lo: F64, c: F64) -> F64:
    """Return the per-bar Garman-Klass variance of log price, shape (n,), per minute (fraction²).

    ``0.5 * ln(H / L)**2 - (2 ln 2 - 1) * ln(C / O)**2`` on the bid OHLC. It can be slightly negative
    for one bar; only its rolling mean is used.
    """
    hl = np.log(h / lo)
    co = np.log(c / o)
    return 0.5 * hl * hl - GK_C * co * co


def rolling_gk_vol(tail: F64, gkv: F64, start: int, seg: I64, w: int) -> F64:
    """Return the rolling Garman-Klass volatility ``sqrt(max(0, mean(gk_var over last w bars)))``.

    Parameters
    ----------
    tail : ndarray, shape (w - 1,)
        GK variances of the pair's ``w - 1`` bars before ``gkv[0]`` (NaN where none).
    gkv : ndarray, shape (k,)
        GK variances of the new bars.
    start : int
        Absolute bar position of ``tail[0]`` (bars seen by the pair minus ``w - 1``).
    seg : ndarray of int64, shape (k,)
        Segment positions; the window is full (value defined) where ``seg >= w``, else NaN.

    Returns
    -------
    ndarray, shape (k,)
        Per-minute volatility of log price (fraction); the window includes the current bar.
    """
    series = np.nan_to_num(with_tail(tail, gkv), nan=0.0)
    mean = window_sums(series, start, w)[w - 1 :] / w
    return np.where(seg >= w, np.sqrt(np.maximum(mean, 0.0)), np.nan)


def spread_widening(tail: F64, spread: F64, seg: I64) -> F64:
    """Return ``spread_t / median(spread over the previous w bars)``, shape (k,), ``w = len(tail)``.

    The median (robust to single spikes) of the ``w`` bars strictly before t, so a spike at t shows
    in full. NaN until the segment holds ``w`` previous bars (``seg > w``) and where the median is 0.
    """
    w = len(tail)
    med = median_of_previous(tail, spread)
    ok = (seg > w) & (med > 0)
    return np.where(ok, spread / np.where(ok, med, 1.0), np.nan)


def tick_velocity(volume: F64, o: F64, h: F64, lo: F64, c: F64, mid: F64) -> F64:
    """Return the bar's activity per minute, shape (n,).

    ``volume`` (ticks or traded volume in the minute) where the source reports it (``volume > 0``);
    otherwise the proxy ``1e4 * (2 (H - L) - |C - O|) / mid``: the shortest bid path that opens at O,
    visits both H and L and closes at C, in basis points of mid. Bars of a volume-less source
    (HistData FX, synthetic data) therefore carry path lengths, bars of a tick feed carry counts.
    """
    path = 1e4 * (2.0 * (h - lo) - np.abs(c - o)) / mid
    return np.where(volume > 0, volume, path)

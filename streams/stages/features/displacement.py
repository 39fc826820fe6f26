"""Displacement of mid from its rolling mean, in volatility units, and its rolling percentile."""

from __future__ import annotations

import numpy as np

from streams.core.units import F64, I64
from streams.stages.features.windows import midrank_pct, window_sums, with_tail


def displacement(mid_tail: F64, mid: F64, start: int, seg: I64, gk_vol: F64, warmup: int) -> F64:
    """Return ``(mid_t - m_t) / (m_t * gk_vol_t * sqrt(w))`` with ``m_t`` the mean mid of the last w bars.

    A z-score of mid against its rolling mean: the fractional deviation ``mid / m - 1`` divided by
    the deviation one would expect over the window's horizon, ``gk_vol * sqrt(w)`` (per-minute vol
    scaled to w minutes). Positive when mid is above its mean.

    Parameters
    ----------
    mid_tail : ndarray, shape (w - 1,)
        Mids of the pair's ``w - 1`` bars before ``mid[0]``.
    mid : ndarray, shape (k,)
        Mids of the new bars (price units).
    start : int
        Absolute bar position of ``mid_tail[0]``.
    seg : ndarray of int64, shape (k,)
        Segment positions; NaN where ``seg < warmup`` (= max(vol window, w)) or ``gk_vol`` is 0.
    gk_vol : ndarray, shape (k,)
        Rolling Garman-Klass volatility per minute.

    Returns
    -------
    ndarray, shape (k,)
        Displacement in volatility units (dimensionless).
    """
    w = len(mid_tail) + 1
    series = np.nan_to_num(with_tail(mid_tail, mid), nan=0.0)
    mean = window_sums(series, start, w)[w - 1 :] / w
    ok = (seg >= warmup) & (gk_vol > 0)
    scale = np.where(ok, mean * gk_vol * np.sqrt(w), 1.0)
    return np.where(ok, (mid - mean) / scale, np.nan)


def displacement_pct(disp_tail: F64, disp: F64, start: int, seg: I64, warmup: int) -> F64:
    """Return the percentile rank (0..1) of each displacement among its own last M values.

    ``M = len(disp_tail) + 1`` values, the current one included; rank r (1..M, ties averaged) maps to
    ``(r - 1) / (M - 1)``. Defined where the segment has ``warmup + M - 1`` bars (all M displacements
    computed) and all M are finite, else NaN.

    Parameters
    ----------
    disp_tail : ndarray, shape (M - 1,)
        Displacements of the pair's ``M - 1`` bars before ``disp[0]``.
    disp : ndarray, shape (k,)
        Displacements of the new bars.
    start : int
        Absolute bar position of ``disp_tail[0]``.
    seg : ndarray of int64, shape (k,)
        Segment positions.
    warmup : int
        Segment bars needed before a displacement exists.
    """
    m = len(disp_tail) + 1
    series = with_tail(disp_tail, disp)
    finite = window_sums(np.isfinite(series).astype(np.float64), start, m)[m - 1 :]
    pct = midrank_pct(disp_tail, disp)
    ok = (seg >= warmup + m - 1) & (finite == m)
    return np.where(ok, pct, np.nan)

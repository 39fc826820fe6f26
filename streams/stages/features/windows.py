"""Rolling-window helpers whose results do not depend on how a series is split into batches.

A stage sees a pair's series in pieces: the state keeps a fixed-size tail of the latest values and each
batch appends new ones. To make every window's result bit-identical however the series was cut, a
window sum is never derived from a running cumulative sum (whose rounding depends on where it started).
Instead positions are absolute (bar counter or minute index) and grouped in blocks of ``w`` aligned to
multiples of ``w``; a trailing window ``[i - w + 1, i]`` is the prefix of ``i``'s block (summed upwards
from the block start) plus the suffix of the previous block (summed downwards from its end). Both
partial sums only touch values inside the window, in an order fixed by absolute positions, so the
result is a function of the window's values alone, at O(1) cost per position.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from streams.core.units import F64

_CHUNK = 1 << 15
"""Rows per chunk of the O(n * w) window scans (bounds their temporary memory)."""


def window_sums(x: F64, start: int, w: int) -> F64:
    """Sum trailing windows of ``w`` positions, reproducibly (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (k,) or (k, m)
        Values at absolute positions ``start .. start + k - 1`` along axis 0 (m independent series);
        NaN must already be replaced.
    start : int
        Absolute position of ``x[0]`` (may be negative).
    w : int
        Window length in positions.

    Returns
    -------
    ndarray, same shape as ``x``
        ``out[j] = sum(x at positions [start + j - w + 1, start + j])``; positions before ``start``
        count as 0, so callers mask windows that reach before their data.
    """
    k = x.shape[0]
    lead = start % w
    rows = -(-(lead + k) // w)
    flat = np.zeros((rows * w, *x.shape[1:]))
    flat[lead : lead + k] = x
    blocks = flat.reshape((rows, w, *x.shape[1:]))
    out = np.cumsum(blocks, axis=1)
    suffix = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    out[1:, :-1] += suffix[:-1, 1:]
    return out.reshape(flat.shape)[lead : lead + k]


def with_tail(tail: F64, new: F64) -> F64:
    """Return ``tail`` followed by ``new`` as one float array, shape (len(tail) + len(new),)."""
    return np.concatenate([tail, new.astype(np.float64, copy=False)])


def new_tail(tail: F64, new: F64) -> F64:
    """Return the last ``len(tail)`` values of ``tail`` followed by ``new`` (the state's next tail)."""
    out = with_tail(tail, new)[len(new) :].copy()
    out.flags.writeable = False
    return out


def empty_tail(length: int) -> F64:
    """Return a read-only NaN tail of ``length`` values (no history yet)."""
    out = np.full(length, np.nan)
    out.flags.writeable = False
    return out


def median_of_previous(tail: F64, new: F64) -> F64:
    """Median of the ``w = len(tail)`` values before each new value, shape (len(new),).

    ``tail`` holds the ``w`` values preceding ``new[0]``. Computed by partition (the two middle order
    statistics averaged when ``w`` is even, as ``numpy.median`` and pandas do).
    """
    w = len(tail)
    series = with_tail(tail, new)
    out = np.empty(len(new))
    lo_mid, hi_mid = (w - 1) // 2, w // 2
    for lo in range(0, len(new), _CHUNK):
        win = sliding_window_view(series[lo : lo + min(_CHUNK, len(new) - lo) + w - 1], w)
        ordered = np.sort(win, axis=1)  # faster than a two-kth partition for short rows
        out[lo : lo + len(win)] = 0.5 * (ordered[:, lo_mid] + ordered[:, hi_mid])
    return out


def midrank_pct(tail: F64, new: F64) -> F64:
    """Percentile rank of each new value among the last ``w`` values, current included, shape (len(new),).

    ``tail`` holds the ``w - 1`` values preceding ``new[0]``, ``w = len(tail) + 1``. The rank is the
    average rank (1..w) of the current value in its window, mapped to ``(rank - 1) / (w - 1)`` in
    [0, 1]: 0 when it is the window's minimum, 1 when its maximum. NaN values never count as smaller
    or equal; callers mask windows that contain NaN.
    """
    w = len(tail) + 1
    series = with_tail(tail, new)
    less = np.empty(len(new), dtype=np.int64)
    for lo in range(0, len(new), _CHUNK):
        win = sliding_window_view(series[lo : lo + min(_CHUNK, len(new) - lo) + w - 1], w)
        less[lo : lo + len(win)] = np.count_nonzero(win < win[:, -1:], axis=1)
    return (less + 0.5 * (_ties(series, w) - 1)) / (w - 1)


def _ties(series: F64, w: int) -> npt.NDArray[np.int64]:
    # Values equal to the current one (itself included). Exact repeats are rare (a flat mid gives
    # displacement 0), so find the repeated values with one sort and scan only those windows.
    cur = series[w - 1 :]
    ties = np.ones(len(cur), dtype=np.int64)
    ordered = np.sort(series[np.isfinite(series)])
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    rows = np.flatnonzero(np.isin(cur, repeated))
    if len(rows):
        win = sliding_window_view(series, w)[rows]
        ties[rows] = np.count_nonzero(win == win[:, -1:], axis=1)
    return ties


def last_window_sums(series: F64, q: npt.NDArray[np.int64]) -> F64:
    """Sum each row's whole window exactly as :func:`window_sums` sums its last position.

    Parameters
    ----------
    series : ndarray, shape (m, w)
        Row i holds one series' ``w`` values ending at an absolute position ``p_i`` (NaN replaced).
    q : ndarray of int64, shape (m,)
        ``p_i % w`` for each row.

    Returns
    -------
    ndarray, shape (m,)
        ``window_sums(series[i], p_i - w + 1, w)[-1]`` for each row, bit for bit: each row is
        placed in a zero column of ``2 w`` positions with its last value at ``w + q_i``, so
        :func:`window_sums` sees the same block alignment and sums the same values in the same order.
    """
    m, w = series.shape
    cols = np.zeros((2 * w, m))
    rows = q[:, None] + 1 + np.arange(w)
    cols[rows, np.arange(m)[:, None]] = series
    return window_sums(cols, 0, w)[w + q, np.arange(m)]

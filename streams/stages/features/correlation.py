"""Cross-pair correlation: each pair's 1-minute returns against an equal-weight basket of the others.

The join is on calendar minutes and never waits: ``xcorr`` at (pair p, minute t) uses only minutes
``t - W .. t - 1``, strictly before t. The input is in event-time order (``bars.clean`` is one
partition, each batch ordered by (ts, pair)), so when (p, t) is processed every bar of every earlier
minute has arrived, whether or not the other pairs' bars of minute t have, and wherever a batch
boundary falls. The state keeps the returns of every pair of the universe for the latest minute seen
and the W minutes before it (a batch may start inside that minute; its rows need those W minutes).

For minute m, ``r_q(m)`` is pair q's ``log_ret`` (NaN when q has no bar at m or its return spans a
gap). The basket of p is ``b_p(m) = mean(r_q(m) for q != p with r_q(m) finite)``, defined when at
least one other pair has a return. Minute m enters p's window when both ``r_p(m)`` and ``b_p(m)``
exist; ``xcorr`` is their Pearson correlation over those minutes, NaN when fewer than
``min_obs`` minutes qualify or either side has zero variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.core.units import F64, I64
from streams.stages.features.windows import window_sums


@dataclass(frozen=True)
class XcorrState:
    """The last ``W + 1`` minutes of returns of every pair of the universe."""

    end_min: int
    """Latest minute (ts // 60000) seen, -1 before any."""
    ret: F64
    """Returns, shape (W + 1, P): row i is minute ``end_min - W + i``, columns the universe's pairs."""

    @classmethod
    def empty(cls, window: int, n_pairs: int) -> XcorrState:
        ret = np.full((window + 1, n_pairs), np.nan)
        ret.flags.writeable = False
        return cls(-1, ret)


def _positions(minutes: I64, w: int) -> I64:
    # Dense row of each (sorted, unique) minute. Gaps longer than w are shrunk, keeping the row
    # congruent to the minute modulo w (window_sums' blocks stay aligned to absolute minutes) and
    # keeping at least w empty rows before a minute, so its window sees the same (empty) minutes.
    d = np.diff(minutes)
    d = np.where(d > w, w + 1 + (d - w - 1) % w, d)
    return w + minutes[0] % w + np.concatenate([[0], np.cumsum(d)])


def _dense(state: XcorrState, col: I64, minute: I64, ret: F64) -> tuple[F64, I64, I64]:
    w = state.ret.shape[0] - 1
    hist = np.arange(state.end_min - w, state.end_min + 1) if state.end_min >= 0 else minute[:0]
    allm = np.unique(np.concatenate([hist, minute]))
    pos = _positions(allm, w)
    dense = np.full((pos[-1] + 1, state.ret.shape[1]), np.nan)
    if len(hist):
        dense[pos[np.searchsorted(allm, hist)]] = state.ret
    rows = pos[np.searchsorted(allm, minute)]
    dense[rows, col] = ret
    return dense, rows, pos


def _moments(dense: F64) -> F64:
    # (count, x, y, x^2, y^2, xy) per minute and pair, x the pair's return and y its basket's,
    # both zeroed where the minute does not qualify; shape (T, 6, P).
    fin = np.isfinite(dense)
    z = np.where(fin, dense, 0.0)
    total = z[:, 0].copy()
    for j in range(1, z.shape[1]):  # fixed left-to-right order: identical sums in every batching
        total += z[:, j]
    others = fin.sum(axis=1)[:, None] - fin
    valid = fin & (others >= 1)
    y = np.where(valid, (total[:, None] - z) / np.maximum(others, 1), 0.0)
    x = np.where(valid, z, 0.0)
    return np.stack([valid.astype(np.float64), x, y, x * x, y * y, x * y], axis=1)


def cross_correlation(
    state: XcorrState, col: I64, minute: I64, ret: F64, min_obs: int
) -> tuple[XcorrState, F64]:
    """Return the new state and ``xcorr`` for each row (see the module docstring).

    Parameters
    ----------
    state : XcorrState
        Returns of the last W + 1 minutes before this batch.
    col : ndarray of int64, shape (n,)
        Universe column of each row's pair, -1 for pairs outside the universe (their xcorr is NaN).
    minute : ndarray of int64, shape (n,)
        ``ts // 60000`` of each row; rows are in non-decreasing time order across calls.
    ret : ndarray, shape (n,)
        1-minute log return of each row (NaN across gaps).
    min_obs : int
        Minimum qualifying minutes in the window.

    Returns
    -------
    (XcorrState, ndarray of shape (n,))
        Correlations in [-1, 1] or NaN.
    """
    out = np.full(len(col), np.nan)
    inu = np.flatnonzero(col >= 0)
    if len(inu) == 0:
        return state, out
    w = state.ret.shape[0] - 1
    dense, rows, pos = _dense(state, col[inu], minute[inu], ret[inu])
    # Only pairs with a return in this span enter any basket or window: a column without one adds
    # exact zeros to every sum, so leaving it out changes no bit and spares (T, 6, P) temporaries
    # over the whole universe (a one-pair replay has no basket at all).
    active = np.flatnonzero(np.isfinite(dense).any(axis=0))
    if len(active) >= 2:
        at = np.full(dense.shape[1], -1, dtype=np.int64)
        at[active] = np.arange(len(active))
        # Windows end at minute t - 1 and reach w rows back: only rows lo .. max(rows) - 1 are summed
        # (a window sum is a function of the window's values and its aligned start alone, so the
        # rows before lo change no bit; a one-minute batch sums w rows, not the whole span).
        lo = int(rows.min()) - w
        sums = window_sums(_moments(dense[lo : int(rows.max()), active]), lo, w)
        j = at[col[inu]]  # -1: the row's pair has no return in the span, so no window qualifies
        n, sx, sy, sxx, syy, sxy = sums[rows - 1 - lo, :, np.maximum(j, 0)].T
        cov, vx, vy = n * sxy - sx * sy, n * sxx - sx * sx, n * syy - sy * sy
        ok = (j >= 0) & (n >= min_obs) & (vx > 0) & (vy > 0)
        corr = cov / np.sqrt(np.where(ok, vx * vy, 1.0))
        out[inu] = np.where(ok, np.clip(corr, -1.0, 1.0), np.nan)
    last = pos[-1]
    kept = dense[last - w : last + 1].copy()
    kept.flags.writeable = False
    return XcorrState(int(max(state.end_min, minute[inu].max())), kept), out

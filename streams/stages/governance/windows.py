"""IC and KL of many evaluation times at once (the compiled evaluation path of :mod:`.stage`).

An evaluation's IC and KL depend only on its time: the moments and live counts of the intervals in its
windows (pruning never removes an interval that a later window holds). So the stage computes them for
every interval end that has data in a window (:func:`data_grid`), in one pass, and the sequential part
(:mod:`.schedule`) only looks them up. The arithmetic is the one of :func:`.ic.window_ic` and
:func:`.kl.window_kl`, operation for operation: the same BLAS ``np.dot`` per window for the means (its
summation order is OpenBLAS's), the numpy-exact pairwise sum (:mod:`streams.core.npsum`) for the
centred moments, numpy's own ``log`` (its SIMD code is elementwise, the same bits in a 2-D array as in
one row) and row sums for the KL terms. Integer counts are summed by prefix sums (exact).
"""

from __future__ import annotations

import math

import numpy as np

from streams.core.jit import njit
from streams.core.npsum import np_sum
from streams.core.units import F64, I64
from streams.stages.governance import ic as icm
from streams.stages.governance import kl as klm


def data_grid(keys: I64, first: int, last: int, span: int) -> I64:
    """The interval ends ``k`` in ``[first, last]`` with some key in ``[k - span, k)``, sorted, shape (E,).

    ``keys`` sorted, shape (K,); ``span``: the longer window in intervals.
    """
    if keys.size == 0 or span <= 0 or last < first:
        return np.empty(0, dtype=np.int64)
    start = np.maximum(keys + 1, first)
    end = np.minimum(keys + span, last)  # inclusive
    ok = start <= end
    start, end = start[ok], end[ok]
    if start.size == 0:
        return np.empty(0, dtype=np.int64)
    reach = np.maximum.accumulate(end)
    new = np.concatenate([[True], start[1:] > reach[:-1]])
    heads = np.flatnonzero(new)
    lo = start[heads]
    hi = reach[np.append(heads[1:] - 1, reach.size - 1)]
    length = hi - lo + 1
    offset = np.repeat(lo - np.concatenate([[0], np.cumsum(length)[:-1]]), length)
    return (np.arange(int(length.sum()), dtype=np.int64) + offset).astype(np.int64, copy=False)


def window_ics(m: icm.Moments, lo: I64, hi: I64, min_obs: int) -> tuple[F64, I64]:
    """:func:`.ic.window_ic` of the windows ``m[lo[e]:hi[e]]`` (ordered keys), shape (E,) each."""
    total = _totals(m.n, lo, hi)
    mx = np.zeros(lo.size)
    my = np.zeros(lo.size)
    scored = total >= max(min_obs, 2)
    at = np.flatnonzero(scored)
    w_n, w_x, w_y = m.n, m.mx, m.my
    for e, a, b, t in zip(at.tolist(), lo[at].tolist(), hi[at].tolist(), total[at].tolist(), strict=True):
        n = w_n[a:b]  # BLAS ddot per window, as window_ic (its summation order is OpenBLAS's)
        mx[e] = n.dot(w_x[a:b]) / t
        my[e] = n.dot(w_y[a:b]) / t
    ic = _ics(m.n, m.mx, m.my, m.sxx, m.syy, m.sxy, lo, hi, mx, my, scored)
    return ic, total.astype(np.int64, copy=False)


@njit
def _totals(n: F64, lo: I64, hi: I64) -> F64:
    out = np.empty(lo.size)
    for e in range(lo.size):
        out[e] = np_sum(n, lo[e], max(hi[e] - lo[e], 0))
    return out


@njit
def _ics(
    n: F64, mx: F64, my: F64, sxx: F64, syy: F64, sxy: F64, lo: I64, hi: I64, gx: F64, gy: F64, ok: np.ndarray
) -> F64:
    out = np.full(lo.size, np.nan)
    tx = np.empty(n.size)
    ty = np.empty(n.size)
    txy = np.empty(n.size)
    for e in range(lo.size):
        if not ok[e]:
            continue
        a, b = lo[e], hi[e]
        for i in range(a, b):
            dx = mx[i] - gx[e]
            dy = my[i] - gy[e]
            tx[i] = sxx[i] + n[i] * dx * dx
            ty[i] = syy[i] + n[i] * dy * dy
            txy[i] = sxy[i] + n[i] * dx * dy
        s_xx = np_sum(tx, a, b - a)
        s_yy = np_sum(ty, a, b - a)
        if s_xx <= 0.0 or s_yy <= 0.0:
            continue
        out[e] = np_sum(txy, a, b - a) / math.sqrt(s_xx * s_yy)
    return out


def window_kls(
    live: klm.LiveCounts, ref: klm.KLReference, lo: I64, hi: I64, alpha: float, min_count: int
) -> F64:
    """:func:`.kl.window_kl` of the windows ``live[lo[e]:hi[e]]`` (sorted keys), shape (E,).

    Needs ``alpha > 0`` (every smoothed bin positive), as :func:`.kl.window_kl`'s mask is then all True.
    """
    best = np.full(lo.size, np.nan)
    has = hi > lo
    if not has.any() or live.keys.size == 0:
        return best
    cum = np.concatenate(
        [np.zeros((1, *live.counts.shape[1:]), dtype=np.int64), np.cumsum(live.counts, axis=0)]
    )
    rows = np.flatnonzero(has)
    total = cum[hi[rows]] - cum[lo[rows]]  # (E', F, B): exact integer window sums
    for f, ref_counts in enumerate(ref.counts):
        c = total[:, f, : ref_counts.size].astype(np.float64)
        csum = c.sum(axis=1)
        use = np.flatnonzero(csum >= min_count)
        if use.size == 0:
            continue
        c, csum = c[use], csum[use]
        p = (c + alpha) / (csum + alpha * ref_counts.size)[:, None]
        q = ref.smoothed(f, alpha)
        kl = np.sum(p * np.log(p / q), axis=1)
        for r in np.flatnonzero(~(p > 0).all(axis=1)).tolist():  # an underflowed bin: kl masks it
            kl[r] = klm.kl_to(c[r], q, alpha)
        at = rows[use]
        cur = best[at]
        best[at] = np.where(np.isnan(cur) | (kl > cur), kl, cur)
    return best

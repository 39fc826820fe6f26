"""Pending signals meet their forward return: one compiled pass over every pair of a batch.

A signal at ``t`` with horizon ``h`` resolves at its pair's first bar at or after ``t + h`` (numpy's
``searchsorted(side="left")`` over the pair's rows, as the per-pair loop this replaces did), if that
bar is at most ``max_lag_ms`` late and has a finite mid; it waits while no such bar has arrived, and
is dropped otherwise. The pass keeps the per-pair loop's order everywhere: pairs sorted by name, each
pair's earlier pending signals before the batch's, observations in signal order. When a pair's bars
are out of time order (the market stage prevents it), the search replays numpy's own binary search
step by step, so even then the answer is numpy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.groups import group_rows
from streams.core.jit import njit
from streams.core.units import F64, I64, MINUTE_MS
from streams.stages.governance.ic import Observations, Pending, direction, eligible


def resolve(
    pending: dict[str, Pending], batch: Batch, wm: I64, key_ms: int, max_lag_ms: int, universe: str
) -> tuple[dict[str, Pending], Observations]:
    """Add the batch's signals to ``pending`` and resolve every signal whose horizon bar arrived.

    Parameters
    ----------
    pending : pair -> Pending signals from earlier batches.
    batch : signal records; ``ts`` strictly increasing per pair (the market stage guarantees it).
    wm : event time (running max ``ts``, ms) of each row, shape (n,).
    key_ms : evaluation interval, ms; observations are keyed by ``wm // key_ms`` of the resolving bar.
    max_lag_ms : largest accepted delay of the resolving bar after ``ts + horizon``.

    Returns
    -------
    (new pending, the observations resolved in this batch)
    """
    d = direction(batch)
    ok = eligible(batch, universe, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mid = np.log(batch["mid"].astype(np.float64, copy=False))
    ts = batch["ts"].astype(np.int64, copy=False)
    due = ts + batch["horizon_min"].astype(np.int64, copy=False) * MINUTE_MS
    groups = group_rows(batch["pair"])
    names = [p for p, _ in groups]
    rows = np.concatenate([r for _, r in groups]).astype(np.int64, copy=False)
    offsets = np.cumsum([0, *(r.size for _, r in groups)]).astype(np.int64)
    olds = [pending[p] for p in names if p in pending]
    old_n = np.cumsum([0, *(pending[p].sig_ts.size if p in pending else 0 for p in names)]).astype(np.int64)
    old = (
        _cat([o.sig_ts for o in olds], np.int64),
        _cat([o.due for o in olds], np.int64),
        _cat([o.x for o in olds], np.float64),
        _cat([o.direction for o in olds], np.float64),
        _cat([o.log_mid for o in olds], np.float64),
    )
    batch_cols = (ts, due, batch["expected_return"].astype(np.float64, copy=False), d, log_mid, wm, ok)
    got = _resolve(batch_cols, rows, offsets, old, old_n, max_lag_ms, key_ms)
    (key, sig, x, y, n_obs), (new, new_n) = got
    out = dict(pending)
    for g, p in enumerate(names):
        a, b = int(new_n[g]), int(new_n[g + 1])
        out[p] = Pending(new[0][a:b], new[1][a:b], new[2][a:b], new[3][a:b], new[4][a:b])
    pair = np.repeat(np.array(names, dtype=str), n_obs)
    return out, Observations(key, sig, pair, x, y)


def _cat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


@njit
def _resolve(
    cols: tuple[I64, I64, F64, F64, F64, I64, np.ndarray],
    rows: I64,
    offsets: I64,
    old: tuple[I64, I64, F64, F64, F64],
    old_n: I64,
    max_lag_ms: int,
    key_ms: int,
) -> tuple[tuple[I64, I64, F64, F64, I64], tuple[tuple[I64, I64, F64, F64, F64], I64]]:
    ts, due, x, d, lm, wm, ok = cols
    o_sig, o_due, o_x, o_dir, o_lm = old
    groups = offsets.size - 1
    size = old_n[-1] + rows.size
    c_sig = np.empty(size, dtype=np.int64)  # candidates: each pair's old pending, then its new signals
    c_due = np.empty(size, dtype=np.int64)
    c_x = np.empty(size, dtype=np.float64)
    c_dir = np.empty(size, dtype=np.float64)
    c_lm = np.empty(size, dtype=np.float64)
    c_off = np.zeros(groups + 1, dtype=np.int64)
    m = 0
    for g in range(groups):
        for i in range(old_n[g], old_n[g + 1]):
            c_sig[m], c_due[m], c_x[m], c_dir[m], c_lm[m] = o_sig[i], o_due[i], o_x[i], o_dir[i], o_lm[i]
            m += 1
        for r in rows[offsets[g] : offsets[g + 1]]:
            if ok[r]:
                c_sig[m], c_due[m], c_x[m], c_dir[m], c_lm[m] = ts[r], due[r], x[r], d[r], lm[r]
                m += 1
        c_off[g + 1] = m
    key = np.empty(m, dtype=np.int64)
    sig = np.empty(m, dtype=np.int64)
    ox = np.empty(m, dtype=np.float64)
    oy = np.empty(m, dtype=np.float64)
    n_obs = np.zeros(groups, dtype=np.int64)
    wait = np.zeros(m, dtype=np.bool_)
    nh = 0
    for g in range(groups):
        pr = rows[offsets[g] : offsets[g + 1]]
        ts_p = ts[pr]
        first = _first_at(ts_p, c_due[c_off[g] : c_off[g + 1]])
        for i in range(c_off[g], c_off[g + 1]):
            j = first[i - c_off[g]]
            if j >= ts_p.size:
                wait[i] = True
            elif ts_p[j] - c_due[i] <= max_lag_ms and np.isfinite(lm[pr[j]]):
                key[nh] = wm[pr[j]] // key_ms
                sig[nh] = c_sig[i]
                ox[nh] = c_x[i]
                oy[nh] = c_dir[i] * (lm[pr[j]] - c_lm[i])
                n_obs[g] += 1
                nh += 1
    new_n = np.zeros(groups + 1, dtype=np.int64)
    for g in range(groups):
        new_n[g + 1] = new_n[g] + wait[c_off[g] : c_off[g + 1]].sum()
    new = (c_sig[wait], c_due[wait], c_x[wait], c_dir[wait], c_lm[wait])
    return (key[:nh], sig[:nh], ox[:nh], oy[:nh], n_obs), (new, new_n)


@njit
def _first_at(ts: I64, due: I64) -> I64:
    """``np.searchsorted(ts, due, side="left")``: galloping from the previous answer when ``ts`` is
    sorted (dues of neighbouring signals are close), else numpy's own search replayed."""
    out = np.empty(due.size, dtype=np.int64)
    for k in range(1, ts.size):
        if ts[k] < ts[k - 1]:
            return _numpy_search(ts, due, out)
    j = 0
    for i in range(due.size):
        j = _search_near(ts, due[i], j)
        out[i] = j
    return out


@njit
def _numpy_search(arr: I64, keys: I64, out: I64) -> I64:
    """numpy's ``binsearch`` (side left), step for step: its answer also on unsorted ``arr``."""
    lo, hi = 0, arr.size
    last = keys[0] if keys.size else 0
    for i in range(keys.size):
        v = keys[i]
        if last < v:
            hi = arr.size
        else:
            lo = 0
            hi = hi + 1 if hi < arr.size else arr.size
        last = v
        while lo < hi:
            mid = lo + ((hi - lo) >> 1)
            if arr[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo
    return out


@njit
def _search_near(ts: I64, v: int, j: int) -> int:
    """``np.searchsorted(ts, v, side="left")`` of sorted ``ts``, galloping from ``j``."""
    step = 1
    if j > 0 and ts[j - 1] >= v:  # the answer is before j
        lo, hi = j - 1, j - 1  # ts[hi] >= v
        while lo > 0 and ts[lo] >= v:
            hi = lo
            lo = max(hi - step, 0)
            step *= 2
    else:  # the answer is j or after
        lo, hi = j, j
        while hi < ts.size and ts[hi] < v:
            lo = hi + 1
            hi = lo + step
            step *= 2
        hi = min(hi, ts.size)
    while lo < hi:
        mid = (lo + hi) // 2
        if ts[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo

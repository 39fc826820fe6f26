"""Rolling information coefficient of ``expected_return`` versus the REALIZED forward return.

IC here is the **Pearson** correlation, over a rolling event-time window, between each signal's
``expected_return`` and the log-return of ``mid`` that followed over its ``horizon_min``, both in the
direction of the proposed trade. Pearson rather than Spearman because it decomposes into per-bucket
moments: the state holds one (n, means, centred second moments) row per evaluation interval, the
30-day IC is an exact parallel combination of at most ``window / interval`` rows, and the checkpoint
stays a few kilobytes. A rank IC would need the whole window's raw values in the state and an
O(n log n) sort at every evaluation.

No look-ahead: a signal at ``t`` is pending until the first bar of its pair at or after
``t + horizon_min`` arrives; the observation then belongs to the interval of that bar's event time.
A signal whose resolving bar is more than ``resolve_max_lag_min`` late (a weekend, a feed gap) is
dropped. Observations of an interval are combined only once the interval is closed, in a canonical
order (signal time, pair), so the IC is bit-identical however the records are split into batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.groups import order_ranks
from streams.core.jit import njit
from streams.core.units import F64, I64

_EMPTY_F = np.empty(0, dtype=np.float64)
_EMPTY_I = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Pending:
    """Signals of one pair waiting for their forward return (arrays of equal length)."""

    sig_ts: I64
    due: I64
    x: F64
    """expected_return."""
    direction: F64
    """+1 / -1: side, or -sign(displacement) when side is 0."""
    log_mid: F64


@dataclass(frozen=True)
class Observations:
    """Resolved (expected, realized) pairs whose interval is still open."""

    key: I64 = field(default_factory=lambda: _EMPTY_I)
    """Interval index (event time // interval) of the resolving bar."""
    sig_ts: I64 = field(default_factory=lambda: _EMPTY_I)
    pair: npt.NDArray[np.str_] = field(default_factory=lambda: np.empty(0, dtype=str))
    x: F64 = field(default_factory=lambda: _EMPTY_F)
    y: F64 = field(default_factory=lambda: _EMPTY_F)


@dataclass(frozen=True)
class Moments:
    """Per closed interval: key, count, means and centred second moments (arrays of equal length)."""

    key: I64 = field(default_factory=lambda: _EMPTY_I)
    n: F64 = field(default_factory=lambda: _EMPTY_F)
    mx: F64 = field(default_factory=lambda: _EMPTY_F)
    my: F64 = field(default_factory=lambda: _EMPTY_F)
    sxx: F64 = field(default_factory=lambda: _EMPTY_F)
    syy: F64 = field(default_factory=lambda: _EMPTY_F)
    sxy: F64 = field(default_factory=lambda: _EMPTY_F)


def eligible(batch: Batch, universe: str, d: F64 | None = None) -> npt.NDArray[np.bool_]:
    """Rows that make an IC observation, shape (n,): ready, finite estimate and mid, a direction
    (``d``: :func:`direction` of ``batch`` when the caller has it)."""
    d = direction(batch) if d is None else d
    ok = (
        batch["ready"].astype(bool, copy=False)
        & np.isfinite(batch["expected_return"])
        & np.isfinite(batch["mid"])
    )
    ok &= (batch["mid"] > 0) & (batch["horizon_min"] > 0) & (d != 0)
    if universe == "passed":
        ok &= batch["passed"].astype(bool, copy=False)
    return ok


def direction(batch: Batch) -> F64:
    """Trade direction per row, shape (n,): ``side``, else the mean-reversion sign -sign(displacement)."""
    side = batch["side"].astype(np.float64, copy=False)
    disp = batch["displacement"].astype(np.float64, copy=False)
    fallback = -np.sign(np.where(np.isnan(disp), 0.0, disp))  # NaN: no sign (as nan_to_num)
    return np.where(side != 0, np.sign(side), fallback)


def append(a: Observations, b: Observations) -> Observations:
    """Open observations ``a`` followed by ``b``."""
    if b.key.size == 0:
        return a
    return Observations(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in ("key", "sig_ts", "pair", "x", "y"))
    )


def close(obs: Observations, moments: Moments, upto_key: int) -> tuple[Observations, Moments]:
    """Fold the open observations with ``key < upto_key`` (closed intervals) into per-interval moments."""
    closed = obs.key < upto_key
    done = np.flatnonzero(closed)
    if done.size == 0:
        return obs, moments
    rest = Observations(*(getattr(obs, f)[~closed] for f in ("key", "sig_ts", "pair", "x", "y")))
    # canonical order (interval, signal time, pair): per-interval sums are bit-identical however split
    m = done[_canonical(obs.key[done], obs.sig_ts[done], obs.pair[done])]
    key, x, y = obs.key[m], obs.x[m], obs.y[m]
    first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    n = np.diff(np.append(first, key.size)).astype(np.float64, copy=False)
    mx, my = np.add.reduceat(x, first) / n, np.add.reduceat(y, first) / n
    dx, dy = (
        x - np.repeat(mx, n.astype(np.int64, copy=False)),
        y - np.repeat(my, n.astype(np.int64, copy=False)),
    )
    new = (
        key[first],
        n,
        mx,
        my,
        np.add.reduceat(dx * dx, first),
        np.add.reduceat(dy * dy, first),
        np.add.reduceat(dx * dy, first),
    )
    fields = ("key", "n", "mx", "my", "sxx", "syy", "sxy")
    return rest, Moments(
        *(np.concatenate([getattr(moments, f), v]) for f, v in zip(fields, new, strict=True))
    )


def _canonical(key: I64, sig_ts: I64, pair: npt.NDArray[np.str_]) -> npt.NDArray[np.intp]:
    """The stable order of rows by (key, sig_ts, pair): ``np.lexsort((pair, sig_ts, key))``, computed
    as the identity when already in order, else as one stable sort of the three packed in an int64
    when they fit, else by lexsort itself (all three give the same permutation)."""
    codes = order_ranks(pair)  # ints in the order of the strings
    order = (pair if codes is None else codes, sig_ts, key)
    if _in_order(order):
        return np.arange(key.size)
    packed = None if codes is None else _pack(key, sig_ts, codes)
    return np.lexsort(order) if packed is None or packed.size == 0 else np.argsort(packed, kind="stable")


@njit
def _pack(key: I64, sig_ts: I64, codes: I64) -> I64:
    """(key, sig_ts, pair rank) packed so that int order is their lexicographic order; empty when they
    need more than 62 bits."""
    k0, s0 = key.min(), sig_ts.min()
    kb = _bits(key.max() - k0)
    sb = _bits(sig_ts.max() - s0)
    pb = _bits(codes.max())
    if k0 < 0 or s0 < 0 or kb + sb + pb > 62:
        return np.empty(0, dtype=np.int64)
    out = np.empty(key.size, dtype=np.int64)
    for i in range(key.size):
        out[i] = ((key[i] - k0) << (sb + pb)) | ((sig_ts[i] - s0) << pb) | codes[i]
    return out


@njit
def _bits(v: int) -> int:
    b = 0
    while v > 0:
        v >>= 1
        b += 1
    return b


def _in_order(keys: tuple[npt.NDArray[Any], ...]) -> bool:
    """True when the rows are already sorted by ``keys`` (last key primary, as ``np.lexsort``): the
    stable sort would then be the identity (one pair's observations usually arrive in order)."""
    tied = np.ones(max(keys[0].size - 1, 0), dtype=bool)
    for k in reversed(keys):
        step = k[1:] > k[:-1]
        if (tied & (k[1:] < k[:-1])).any():
            return False
        tied &= ~step
    return True


def prune(moments: Moments, from_key: int) -> Moments:
    """Drop the intervals with ``key < from_key`` (outside every future window)."""
    keep = moments.key >= from_key
    return Moments(*(getattr(moments, f)[keep] for f in ("key", "n", "mx", "my", "sxx", "syy", "sxy")))


def is_ordered(keys: I64) -> bool:
    """True when ``keys`` (shape (K,)) never decrease: a key window is then a slice (:func:`key_span`)."""
    return bool(keys.size < 2 or (keys[1:] >= keys[:-1]).all())


def key_span(keys: I64, from_key: int, to_key: int, ordered: bool) -> slice | npt.NDArray[np.bool_]:
    """The entries with ``from_key <= key < to_key``: a slice (O(log K)) when ``keys`` are ordered,
    else a mask. Both select the same entries in the same order."""
    if ordered:
        lo, hi = np.searchsorted(keys, (from_key, to_key), side="left").tolist()
        return slice(lo, max(lo, hi))
    return (keys >= from_key) & (keys < to_key)


def window_ic(
    moments: Moments, from_key: int, to_key: int, min_obs: int, ordered: bool = False
) -> tuple[float, int]:
    """Pearson IC of the intervals with ``from_key <= key < to_key`` and their observation count.

    Returns NaN when there are fewer than ``min_obs`` observations or either variance is 0.
    ``ordered``: ``moments.key`` is known to be non-decreasing (:func:`is_ordered`), so the window is
    found by binary search instead of a scan of every interval kept.
    """
    sel = key_span(moments.key, from_key, to_key, ordered)
    n = moments.n[sel]
    total = float(n.sum())
    if total < max(min_obs, 2):
        return float("nan"), int(total)
    mx = float(np.dot(n, moments.mx[sel]) / total)
    my = float(np.dot(n, moments.my[sel]) / total)
    dx, dy = moments.mx[sel] - mx, moments.my[sel] - my
    sxx = float(np.sum(moments.sxx[sel] + n * dx * dx))
    syy = float(np.sum(moments.syy[sel] + n * dy * dy))
    sxy = float(np.sum(moments.sxy[sel] + n * dx * dy))
    if sxx <= 0.0 or syy <= 0.0:
        return float("nan"), int(total)
    return sxy / np.sqrt(sxx * syy), int(total)

"""Market-aware bar checks of the market stage: event-time horizon and single-bar price spikes.

Both checks are sequential by nature (a quarantined bar does not move the watermark or the reference
price), yet outputs must not depend on batching. The horizon check reaches the sequential answer by a
vectorised fixed point; the spike check runs a short per-row loop only for a pair whose batch holds a
suspect jump (rare), and is vectorised otherwise.

Spike rule (per pair, over bars valid on their own and in order). ``ref`` is the close of the last
accepted bar; ``sigma`` the median absolute 1-minute log return of the previous ``spike_window`` valid
bars (spikes included: a median ignores them); ``thr = max(spike_sigmas * sigma * sqrt(min(gap, 1 day)
in minutes), spike_min_jump)``. A bar whose open/high/low/close deviates from ``ref`` by more than
``thr`` (log) is quarantined as a ``price spike``. If the next valid bar is within ``thr`` of that
spike's close, the new level is confirmed (a real level shift such as CHF on 2015-01-15): the bar is
accepted and becomes the reference. So a reverting outlier never reaches the DAG, and a level shift
costs its first bar only; handling the shift is the throttle's and the kill switch's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MINUTE_MS = 60_000
DAY_MIN = 1440
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PairPrices:
    """Spike-check memory of one pair."""

    ref: float = float("nan")
    """Close of the last accepted bar (NaN: none yet)."""
    suspect: float = float("nan")
    """Close of the previous valid bar when it was quarantined as a spike, else NaN."""
    closes: tuple[float, ...] = ()
    """Closes of the last valid bars (at most ``spike_window + 1``), oldest first."""
    last_ts: int = -1
    """Time of the last valid bar (ms)."""


def beyond_horizon(ts: I64, valid: npt.NDArray[np.bool_], wm: int, horizon_ms: int) -> npt.NDArray[np.bool_]:
    """Rows more than ``horizon_ms`` ahead of the event-time watermark at their position, shape (n,).

    The watermark is the largest ``ts`` accepted before the row (``wm`` before the batch, -1: none);
    a far row is not accepted, so it moves no watermark. The fixed point of "drop the far rows and
    recompute" equals the sequential answer (each pass only removes rows the sequential check rejects).
    """
    far = np.zeros(ts.size, dtype=bool)
    while True:
        ok = valid & ~far
        prior = np.maximum.accumulate(np.concatenate([[wm], np.where(ok, ts, -1)]))[:-1]
        new = ok & (prior >= 0) & (ts > prior + horizon_ms)
        if not new.any():
            return far
        far |= new


def spikes(
    prices: PairPrices,
    ts: I64,
    ohlc: F64,
    *,
    sigmas: float,
    min_jump: float,
    window: int,
) -> tuple[PairPrices, npt.NDArray[np.bool_], F64, F64]:
    """Spike flags of one pair's valid bars in order; ``ohlc`` shape (n, 4), prices.

    Returns the new memory, ``spike`` (n,), the log jump from the reference (n,) and the threshold (n,)
    (the threshold is computed only where a jump exceeds ``min_jump``: below it no bar is a spike, so
    the common case costs one vectorised pass).
    """
    n = ts.size
    closes = np.concatenate([np.asarray(prices.closes, dtype=np.float64), ohlc[:, 3]])
    k = len(prices.closes)
    r = np.abs(np.diff(np.log(closes)))
    times = np.concatenate([[prices.last_ts], ts])
    gap_min = np.clip((times[1:] - times[:-1]) // MINUTE_MS, 1, DAY_MIN)
    gap_min = np.where(times[:-1] < 0, 1, gap_min)

    def thr_at(i: int) -> float:
        past = r[max(0, k + i - window) : k + i]  # the returns up to this bar's own
        if past.size < 5:
            return min_jump
        return max(min_jump, sigmas * float(np.median(past)) * float(np.sqrt(gap_min[i])))

    logs = np.log(ohlc)
    prev_close = np.concatenate([[prices.ref], ohlc[:-1, 3]])
    jump = np.nan_to_num(np.max(np.abs(logs - np.log(prev_close)[:, None]), axis=1), nan=0.0)
    thr = np.full(n, min_jump)
    for c in np.flatnonzero(jump > min_jump).tolist():
        thr[c] = thr_at(c)
    spike = np.zeros(n, dtype=bool)
    big = np.flatnonzero(jump > thr)
    ref, suspect = prices.ref, prices.suspect
    if big.size or not np.isnan(suspect):
        start = 0 if not np.isnan(suspect) else int(big[0])
        ref = float(ohlc[start - 1, 3]) if start > 0 else ref
        ref, suspect = _walk(start, ref, suspect, logs, ohlc, (spike, jump, thr), thr_at, min_jump)
    elif n:
        ref = float(ohlc[-1, 3])
    memory = PairPrices(
        ref, suspect, tuple(closes[-(window + 1) :].tolist()), int(ts[-1]) if n else prices.last_ts
    )
    return memory, spike, jump, thr


def quiet_bars(
    prices: Sequence[PairPrices], ts: I64, ohlc: F64, *, min_jump: float, window: int
) -> list[PairPrices | None]:
    """:func:`spikes` for one valid bar of each of ``P`` pairs at once, where that is trivial.

    A bar whose log jump from its pair's reference is at most ``min_jump`` while no spike is pending
    is accepted whatever the volatility; its new memory is returned. ``None`` marks the other pairs
    (a larger jump or a pending spike), which :func:`spikes` must decide. ``ts`` shape (P,), ``ohlc``
    shape (P, 4); the memories are those :func:`spikes` returns, value for value.
    """
    ref = np.array([p.ref for p in prices], dtype=np.float64)
    suspect = np.array([p.suspect for p in prices], dtype=np.float64)
    jump = np.nan_to_num(np.max(np.abs(np.log(ohlc) - np.log(ref)[:, None]), axis=1), nan=0.0)
    quiet = ((jump <= min_jump) & np.isnan(suspect)).tolist()
    close, times = ohlc[:, 3].tolist(), ts.tolist()
    return [
        PairPrices(close[i], p.suspect, (*p.closes, close[i])[-(window + 1) :], times[i])
        if quiet[i]
        else None
        for i, p in enumerate(prices)
    ]


def _walk(
    start: int,
    ref: float,
    suspect: float,
    logs: F64,
    ohlc: F64,
    out: tuple[npt.NDArray[np.bool_], F64, F64],
    thr_at: Callable[[int], float],
    min_jump: float,
) -> tuple[float, float]:
    """The sequential rule from ``start``; fills ``out`` in place. After an accepted bar the next bars
    are the vectorised pass's until its next big jump, so the walk skips straight there: it costs one
    step per suspect bar, not per bar."""
    spike, jump, thr = out
    n = logs.shape[0]
    big = np.flatnonzero(jump > thr)
    i = start
    while i < n:
        lg = logs[i]
        dev = float(np.max(np.abs(lg - np.log(ref)))) if not np.isnan(ref) else 0.0
        if dev > min_jump:
            thr[i] = thr_at(i)
        if dev <= thr[i] or (not np.isnan(suspect) and np.max(np.abs(lg - np.log(suspect))) <= thr[i]):
            ref, suspect = float(ohlc[i, 3]), float("nan")  # accepted (or a confirmed new level)
            k = int(np.searchsorted(big, i, side="right"))
            if k == big.size:
                return float(ohlc[n - 1, 3]), suspect
            i = int(big[k])
            ref = float(ohlc[i - 1, 3])
            continue
        spike[i], suspect, jump[i] = True, float(ohlc[i, 3]), dev
        i += 1
    return ref, suspect

"""Compiled kernels of the quiet-minute fast path: valuation of a stretch and the event search.

:func:`value` is :func:`~streams.stages.trader.portfolio.fastpath.curve` (unrealised PnL summed over
held pairs left to right, high-water mark as a NaN-propagating running maximum, drawdown, throttle
levels in order) and :func:`first_event` is ``FastPath.next_event``'s per-pair test, minute by minute
with the same comparisons (the throttle from the running high-water mark since the search's start, as
the stretch is then valued). Same float operations in the same order, no
fastmath: the same bits as the numpy path, which stays for brokers other than the two built in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.jit import njit

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

NO_ORDER, ALWAYS, ORDER = 0, 1, 2
"""Per-pair order test: no working order (a constant), always an event, or the working order's test."""


@njit
def _nanmax(a: float, b: float) -> float:
    # np.maximum: NaN if either is NaN
    if a != a or b != b:
        return np.nan
    return a if a >= b else b


@njit
def _nanmin(a: float, b: float) -> float:
    # np.minimum: NaN if either is NaN
    if a != a or b != b:
        return np.nan
    return a if a <= b else b


@njit
def _unrealised(held: I64, pos: F64, avg: F64, mid: F64, rate: F64, t: int) -> float:
    u = 0.0
    for j in held:
        u = u + pos[j] * (mid[t, j] - avg[j]) * rate[t, j]
    return u


@njit
def _throttle(dd: float, th: F64, mu: F64) -> float:
    f = 1.0
    for i in range(len(th)):
        if dd > th[i]:
            f = mu[i]
    return f


@njit
def value(
    pos: F64, avg: F64, mid: F64, rate: F64, a: int, b: int, base: float, hwm0: float, th: F64, mu: F64
) -> tuple[F64, F64, F64, F64]:
    """Equity, high-water mark, drawdown and throttle of minutes ``[a, b)``, each shape (b - a,)."""
    held = np.flatnonzero(pos != 0.0)
    n = b - a
    eq, hwm, dd, thr = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    h = hwm0
    for i in range(n):
        e = base + _unrealised(held, pos, avg, mid, rate, a + i)
        h = _nanmax(h, e)
        d = 1.0 - e / h
        eq[i], hwm[i], dd[i], thr[i] = e, h, d, _throttle(d, th, mu)
    return eq, hwm, dd, thr


@njit
def _order_event(
    t: int, j: int, q: int, ts: I64, hi: F64, lo: F64, sp: F64, ebad: B, mx: F64, oi: I64, of: F64
) -> bool:
    # oi: kind, paper broker, side, active_ts, created_ts, is_exit, side of delta, replace_ms;
    # of: price, leaves, |delta|, lot
    if oi[q, 0] != ORDER:
        return oi[q, 0] == ALWAYS
    side, price = oi[q, 2], of[q, 0]
    if oi[q, 1] and ts[t] >= oi[q, 3]:
        through = price - (lo[t, j] + sp[t, j]) if side > 0 else hi[t, j] - price
        if through >= 0.0:
            return True
    if ts[t] + 60_000 - oi[q, 4] >= oi[q, 7] or (not oi[q, 5] and ebad[t, j]):
        return True
    qty = _nanmin(of[q, 2], _nanmax(mx[t, j], of[q, 3]))
    return qty != of[q, 1] or oi[q, 6] != side


@njit
def _exit_event(t: int, j: int, q: int, ts: I64, xbad: B, disp: F64, pi: I64, pf: F64) -> bool:
    # pi: pair, check exits, exit_due, decommissioned, check reversion, check reduction; pf: target, ...
    if not pi[q, 1]:
        return False
    due = pi[q, 2]
    if xbad[t, j] or (ts[t] >= due and due >= 0) or pi[q, 3]:
        return True
    return bool(pi[q, 4]) and pf[q, 0] != 0.0 and np.sign(pf[q, 0]) * disp[t, j] > 0.0


@njit
def _pair_event(
    t: int, thr: float, ts: I64, present: B, xbad: B, ebad: B, disp: F64, alloc: F64,
    hi: F64, lo: F64, sp: F64, mx: F64, pi: I64, pf: F64, oi: I64, of: F64,
) -> bool:  # fmt: skip
    for q in range(pi.shape[0]):
        j = pi[q, 0]
        if not present[t, j]:
            continue
        if _exit_event(t, j, q, ts, xbad, disp, pi, pf):
            return True
        if pi[q, 5] and thr * _nanmin(alloc[t, j], pf[q, 1]) < pf[q, 2] * (1.0 - 1e-9):
            return True
        if _order_event(t, j, q, ts, hi, lo, sp, ebad, mx, oi, of):
            return True
    return False


@njit
def first_event(
    k: int,
    limit: int,
    ts: I64,
    stale: B,
    passed: B,
    flags: I64,
    present: B,
    xbad: B,
    ebad: B,
    disp: F64,
    alloc: F64,
    hi: F64,
    lo: F64,
    sp: F64,
    mx: F64,
    mid: F64,
    rate: F64,
    book: F64,
    th: F64,
    mu: F64,
    pi: I64,
    pf: F64,
    oi: I64,
    of: F64,
) -> int:
    """First minute in ``[k, limit)`` with an event (``limit`` if none).

    ``stale``/``passed``: a stale gap / a passed signal per minute; ``flags``: kill switch on, orders
    allowed at all (no global HALT, no kill switch). ``book``: pos (P), avg (P), base,
    hwm. Per active pair q: ``pi``/``pf`` its exit and reduction inputs (pf: target, control
    allocation, sized scale), ``oi``/``of`` its order test (see :func:`_order_event`).
    """
    p = present.shape[1]
    pos, avg, base, hwm0 = book[:p], book[p : 2 * p], book[2 * p], book[2 * p + 1]
    held = np.flatnonzero(pos != 0.0)
    reduce, pairs = False, pi.shape[0] > 0
    for q in range(pi.shape[0]):
        reduce = reduce or bool(pi[q, 5])
    h = hwm0
    for t in range(k, limit):
        if (stale[t] and not flags[0]) or (flags[1] and passed[t]):
            return t
        thr = 1.0
        if reduce:
            e = base + _unrealised(held, pos, avg, mid, rate, t)
            h = _nanmax(h, e)
            thr = _throttle(1.0 - e / h, th, mu)
        if pairs and _pair_event(
            t, thr, ts, present, xbad, ebad, disp, alloc, hi, lo, sp, mx, pi, pf, oi, of
        ):
            return t
    return limit

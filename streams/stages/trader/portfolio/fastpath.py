"""Fast-forward of quiet minutes: event detection and array arithmetic equal to the per-minute path.

A minute needs the per-minute path when something can change there: a due control command or broker
report (``fill_source = "broker"``; its :class:`NoFills` broker makes no bar a fill event), a stale
gap, a passed signal, an exit or risk-reduction trigger of a held pair, a working order that the
bar could fill, that went stale or that the router would cancel or replace, or a position that differs
from its target. Every other minute only marks the book to market (and resolves mark-outs), which is
done here over whole stretches with the same float operations as the per-minute path, so results
are identical whichever path a minute takes (and hence whatever the batch boundaries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import MINUTE_MS, B
from streams.stages.trader.execution.broker import Broker, NoFills, PaperBroker
from streams.stages.trader.execution.toxicity import resolve
from streams.stages.trader.portfolio import scan
from streams.stages.trader.portfolio.accounting import equity_curve, gross_rows, unrealised_usd
from streams.stages.trader.portfolio.book import Book
from streams.stages.trader.portfolio.minutes import Minutes
from streams.stages.trader.risk.decide import reverted
from streams.stages.trader.risk.throttle import throttle_factor


@dataclass(frozen=True)
class Static:
    """Per-batch event inputs that do not depend on the book."""

    stale: B
    passed_any: B
    exit_bad: B
    """present and (regime invalid or gov_state HALTED/DECOMMISSIONED), (m, P)."""
    entry_bad: B
    """regime invalid or gov_state not NORMAL/REDUCED, (m, P)."""
    max_units: npt.NDArray[np.float64]
    """Largest order (base units, whole lots) per minute and pair, (m, P)."""


def static(mn: Minutes, stale: B, max_order_usd: float, lot: float) -> Static:
    with np.errstate(invalid="ignore", divide="ignore"):
        max_units = np.floor(max_order_usd / (mn.mid_ff * mn.rate) / lot) * lot
    return Static(
        stale,
        np.asarray(mn.passed.any(axis=1), dtype=bool),
        mn.present & (mn.bad_regime | mn.gov_flat),
        mn.bad_regime | ~mn.gov_ok,
        max_units,
    )


def curve(book: Book, mn: Minutes, a: int, b: int, base: float, levels: Any) -> tuple[Any, Any, Any, Any]:
    """Value minutes ``[a, b)``: equity, hwm, drawdown and throttle arrays, shape (b - a,) (numpy; the
    compiled :func:`scan.value` gives the same bits)."""
    eq = base + unrealised_usd(book.pos, book.avg, mn.mid_ff[a:b], mn.rate[a:b])
    hwm, dd = equity_curve(eq, book.hwm)
    return eq, hwm, dd, throttle_factor(dd, levels)


def _throttle(dd: float, levels: list[tuple[float, float]]) -> float:
    f = 1.0  # scan._throttle: the last level whose threshold the drawdown exceeds
    for th, mu in levels:
        if dd > th:
            f = mu
    return f


_NO_PAIRS = (np.zeros((0, 6), np.int64), np.zeros((0, 3)), np.zeros((0, 8), np.int64), np.zeros((0, 4)))


class FastPath:
    """Event search and fast-forward for one stage configuration."""

    def __init__(
        self,
        pairs: tuple[str, ...],
        broker: Broker,
        lot: float,
        replace_after_min: int,
        initial_equity: float,
        levels: Any,
        tox_cfg: Any,
        exit_on_reversion: bool = False,
        compiled: bool = True,
    ) -> None:
        self.pairs, self.broker, self.lot = pairs, broker, lot
        self.replace_ms = replace_after_min * MINUTE_MS
        self.initial, self.levels, self.tox = initial_equity, levels, tox_cfg
        self.exit_on_reversion = exit_on_reversion
        self.th = np.array([t for t, _ in levels], dtype=np.float64)
        self.mu = np.array([m for _, m in levels], dtype=np.float64)
        self._levels = list(zip(self.th.tolist(), self.mu.tolist(), strict=True))
        self.compiled = compiled and isinstance(broker, PaperBroker | NoFills)
        """The compiled kernels (:mod:`scan`) for the built-in brokers; numpy otherwise."""

    def curve(self, book: Book, mn: Minutes, a: int, b: int) -> tuple[Any, Any, Any, Any]:
        """Value minutes ``[a, b)``: equity, hwm, drawdown and throttle arrays, shape (b - a,)."""
        if self.compiled:
            pos, avg, m, r = book.pos, book.avg, mn.mid_ff, mn.rate
            return scan.value(pos, avg, m, r, a, b, self.base(book), book.hwm, self.th, self.mu)
        return curve(book, mn, a, b, self.base(book), self.levels)

    def mark(self, book: Book, mn: Minutes, k: int) -> tuple[float, float, float, float]:
        """Value minute ``k`` alone: ``(equity, hwm, drawdown, throttle)``, :meth:`curve` on one minute."""
        if self.compiled:  # scan.value's operations on Python floats (no kernel call for one minute)
            u, mid, rate = 0.0, mn.mid_ff[k].tolist(), mn.rate[k].tolist()
            for j, (p, a) in enumerate(zip(book.pos.tolist(), book.avg.tolist(), strict=True)):
                if p != 0.0:
                    u = u + p * (mid[j] - a) * rate[j]
            e, h = self.base(book) + u, book.hwm
            h = math.nan if e != e or h != h else h if h >= e else e
            if h != 0.0:  # else numpy's division (inf or NaN, no exception)
                d = 1.0 - e / h
                return e, h, d, _throttle(d, self._levels)
        eq, hwm, dd, thr = self.curve(book, mn, k, k + 1)
        return float(eq[0]), float(hwm[0]), float(dd[0]), float(thr[0])

    def base(self, book: Book) -> float:
        return self.initial + book.realized_usd

    def next_event(self, book: Book, mn: Minutes, st: Static, k: int) -> int:
        """Return the first minute >= ``k`` that needs the per-minute path (``len(mn.ts)`` if none)."""
        limit = len(mn.ts)
        cs = book.control
        for queue in (cs.queue, book.broker.queue):  # a due control command or broker report
            if queue:
                limit = min(limit, int(np.searchsorted(mn.ts, queue[0].ts - MINUTE_MS, side="left")))
        if self.compiled and k < limit:
            return self._scan(book, mn, st, k, limit)
        return self._search(book, mn, st, k, limit)

    def _scan(self, book: Book, mn: Minutes, st: Static, k: int, limit: int) -> int:
        cs = book.control
        flags = np.array([cs.killed, not cs.blocks_all("")], dtype=np.int64)
        state = np.concatenate([book.pos, book.avg, [self.base(book), book.hwm]])
        pi, pf, oi, of = self._pair_inputs(book) if flags[1] else _NO_PAIRS
        return int(
            scan.first_event(
                k, limit, mn.ts, st.stale, st.passed_any, flags, mn.present, st.exit_bad, st.entry_bad,
                mn.disp, mn.alloc, mn.high, mn.low, mn.spread, st.max_units, mn.mid_ff, mn.rate, state,
                self.th, self.mu, pi, pf, oi, of,
            )
        )  # fmt: skip

    def _pair_inputs(self, book: Book) -> tuple[Any, Any, Any, Any]:
        """The kernel's per-pair inputs (:func:`scan.first_event`) of the pairs ``_pair_events`` tests."""
        cs = book.control
        active = book.held()
        active[list(book.orders)] = True
        pi, pf, oi, of = [], [], [], []
        for j in map(int, np.flatnonzero(active)):
            pair = self.pairs[j]
            if cs.blocks_all(pair):
                continue
            tgt, pos, due = float(book.target[j]), float(book.pos[j]), int(book.exit_due[j])
            pi.append([j, tgt != 0.0 or due >= 0, due, cs.in_scope(cs.decommissioned, pair),
                       self.exit_on_reversion, tgt != 0.0])  # fmt: skip
            pf.append([tgt, cs.alloc(pair), float(book.sized_scale[j])])
            delta, o = tgt - pos, book.orders.get(j)
            kind = scan.ALWAYS if abs(delta) >= self.lot / 2.0 else scan.NO_ORDER
            if o is not None and not (
                abs(delta) < self.lot / 2.0 or (o.leg != "exit" and cs.blocks_entries(pair))
            ):
                kind = scan.ORDER
            elif o is not None:
                kind = scan.ALWAYS
            paper = isinstance(self.broker, PaperBroker)
            side = 1 if delta > 0.0 else -1
            if o is None:
                oi.append([kind, 0, 0, 0, 0, 0, side, self.replace_ms])
                of.append([0.0, 0.0, abs(delta), self.lot])
            else:
                oi.append(
                    [kind, paper, o.side, o.active_ts, o.created_ts, o.leg == "exit", side, self.replace_ms]
                )
                of.append([o.price, o.leaves, abs(delta), self.lot])
        if not pi:
            return _NO_PAIRS
        return (np.array(pi, dtype=np.int64), np.array(pf, dtype=np.float64),
                np.array(oi, dtype=np.int64), np.array(of, dtype=np.float64))  # fmt: skip

    def _search(self, book: Book, mn: Minutes, st: Static, k: int, limit: int) -> int:
        span, cs, start = 256, book.control, k
        while k < limit:
            e = min(limit, k + span)
            ev = st.stale[k:e] & (not cs.killed)
            if not cs.blocks_all(""):
                ev = ev | st.passed_any[k:e] | self._pair_events(book, mn, st, k, e, start)
            hit = np.flatnonzero(ev)
            if len(hit):
                return k + int(hit[0])
            k, span = e, span * 4
        return limit

    def _pair_events(self, book: Book, mn: Minutes, st: Static, a: int, b: int, start: int) -> B:
        ev = np.zeros(b - a, dtype=bool)
        cs = book.control
        thr = None
        active = book.held()
        active[list(book.orders)] = True
        for j in map(int, np.flatnonzero(active)):
            pair = self.pairs[j]
            if cs.blocks_all(pair):
                continue
            pr = mn.present[a:b, j]
            tgt, pos = float(book.target[j]), float(book.pos[j])
            trig = np.zeros(b - a, dtype=bool)
            if tgt != 0.0 or book.exit_due[j] >= 0:
                trig |= st.exit_bad[a:b, j] | (mn.ts[a:b] >= book.exit_due[j]) & (book.exit_due[j] >= 0)
                if cs.in_scope(cs.decommissioned, pair):
                    trig |= True
                if self.exit_on_reversion:
                    trig |= reverted(tgt, mn.disp[a:b, j])
            if tgt != 0.0:
                if thr is None:
                    thr = self.curve(book, mn, start, b)[3][a - start :]  # hwm from the search's start
                combined = thr * np.minimum(mn.alloc[a:b, j], cs.alloc(pair))
                trig |= combined < book.sized_scale[j] * (1.0 - 1e-9)
            trig |= self._order_events(book, mn, st, a, b, j, tgt - pos)
            ev |= pr & trig
        return ev

    def _order_events(self, book: Book, mn: Minutes, st: Static, a: int, b: int, j: int, delta: float) -> Any:
        o = book.orders.get(j)
        if o is None:
            return abs(delta) >= self.lot / 2.0
        if abs(delta) < self.lot / 2.0 or (o.leg != "exit" and book.control.blocks_entries(self.pairs[j])):
            return True
        trig = self.broker.may_fill(o, mn.ts[a:b], mn.high[a:b, j], mn.low[a:b, j], mn.spread[a:b, j])
        trig |= mn.ts[a:b] + MINUTE_MS - o.created_ts >= self.replace_ms
        if o.leg != "exit":
            trig |= st.entry_bad[a:b, j]
        qty = np.minimum(abs(delta), np.maximum(st.max_units[a:b, j], self.lot))
        return trig | (qty != o.leaves) | ((1 if delta > 0.0 else -1) != o.side)

    def forward(self, book: Book, mn: Minutes, a: int, b: int) -> tuple[int, dict[str, Any] | None]:
        """Fast-forward minutes ``[a, b')``; return ``b'`` (< b when toxic flow cuts the stretch)
        and the account rows (None when no position is open)."""
        b, changes = self._markouts(book, mn, a, b)
        if b <= a:
            return a, None
        eq, hwm, dd, thr = self.curve(book, mn, a, b)
        book.equity, book.hwm, book.throttle = float(eq[-1]), float(hwm[-1]), float(thr[-1])
        if not (book.pos != 0.0).any():
            return b, None
        n = b - a
        tox = np.full(n, changes[0][1])
        for r, value in changes[1:]:
            tox[r - a :] = value
        return b, {
            "pair": np.full(n, ""),
            "ts": mn.ts[a:b],
            "position_units": np.zeros(n),
            "avg_price": np.zeros(n),
            "mid": np.full(n, np.nan),
            "unrealized_pnl_usd": eq - self.base(book),
            "realized_pnl_usd": np.full(n, book.realized_usd),
            "equity_usd": eq,
            "hwm_usd": hwm,
            "drawdown": dd,
            "throttle": thr,
            "gross_usd": gross_rows(book.pos, mn.mid_ff[a:b], mn.rate[a:b]),
            "n_positions": np.full(n, int((book.pos != 0.0).sum())),
            "kill_active": np.full(n, book.control.killed),
            "toxicity_bps": tox,
        }

    def toxicity(self, windows: dict[int, tuple[float, ...]]) -> float:
        """Mean mark-out (bps) of the toxicity horizon's window; NaN before any."""
        w = windows.get(self.tox.toxicity_horizon_min, ())
        return sum(w) / len(w) if w else math.nan

    def _markouts(self, book: Book, mn: Minutes, a: int, b: int) -> tuple[int, list[tuple[int, float]]]:
        """Resolve mark-outs due in ``[a, b)`` in per-minute order; stop before a toxic minute.

        Returns the new end and ``(minute, toxicity after it)`` changes, starting with ``(a, current)``.
        """
        changes = [(a, self.toxicity(book.windows))]
        if not book.markouts:
            return b, changes
        res = []
        for i, m in enumerate(book.markouts):
            ok = np.flatnonzero((mn.ts[a:b] >= m.due_ts) & mn.present[a:b, m.pair_idx])
            if len(ok):
                res.append((a + int(ok[0]), i))
        res.sort()
        windows = dict(book.windows)
        done: set[int] = set()
        for r, group in _by_minute(res):
            trial, toxic = resolve([book.markouts[i] for i in group], windows, mn.mid[r], self.tox)
            if toxic:
                b = r
                break
            windows = trial
            done.update(group)
            changes.append((r, self.toxicity(windows)))
        book.windows = windows
        book.markouts = [m for i, m in enumerate(book.markouts) if i not in done]
        return b, changes


def _by_minute(res: list[tuple[int, int]]) -> list[tuple[int, list[int]]]:
    out: list[tuple[int, list[int]]] = []
    for r, i in res:
        if out and out[-1][0] == r:
            out[-1][1].append(i)
        else:
            out.append((r, [i]))
    return out

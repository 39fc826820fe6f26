"""One minute of execution: cancel sweeps, paper fills, mark-outs, and order routing per pair.

Emits ``orders`` rows (router instructions NEW / CANCEL), ``fills`` rows (execution reports NEW,
PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED) and ``control`` rows (the kill switch's KILL) into
:class:`Out`. Event times: instructions and acknowledgements at the decision time (bar close),
fills at the close of the bar that filled them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from streams.core.units import MINUTE_MS
from streams.stages.trader.execution.broker import Broker, after_fill
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.killswitch import fire
from streams.stages.trader.execution.pretrade import pre_trade_reason
from streams.stages.trader.execution.report_queue import remember_cancel
from streams.stages.trader.execution.router import Order, client_order_id, leg_of, limit_price, needs_replace
from streams.stages.trader.execution.toxicity import resolve, schedule
from streams.stages.trader.portfolio.accounting import apply_fill, gross_usd
from streams.stages.trader.portfolio.book import Book
from streams.stages.trader.portfolio.minutes import Minutes
from streams.stages.trader.risk.config import RiskConfig


@dataclass
class Out:
    targets: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    control: list[dict[str, Any]] = field(default_factory=list)


def report(
    o: Order,
    ts: int,
    status: str,
    reason: str = "",
    last_qty: float = 0.0,
    last_price: float = 0.0,
    pnl: float = 0.0,
) -> dict[str, Any]:
    return {
        "ts": ts,
        "pair": o.pair,
        "client_order_id": o.client_order_id,
        "status": status,
        "side": o.side,
        "order_qty": o.qty,
        "last_qty": last_qty,
        "last_price": last_price,
        "cum_qty": o.cum,
        "leaves_qty": o.leaves,
        "limit_price": o.price,
        "leg": o.leg,
        "reason": reason,
        "realized_pnl_usd": pnl,
    }


def _instruction(o: Order, ts: int, action: str, bid: float, ask: float, reason: str) -> dict[str, Any]:
    return {
        "ts": ts,
        "pair": o.pair,
        "client_order_id": o.client_order_id,
        "action": action,
        "side": o.side,
        "qty": o.qty,
        "limit_price": o.price,
        "bid": bid,
        "ask": ask,
        "leg": o.leg,
        "reason": reason,
    }


class Executor:
    """Execution steps bound to one configuration and pair universe."""

    def __init__(
        self,
        ecfg: ExecutionConfig,
        rcfg: RiskConfig,
        pairs: tuple[str, ...],
        pips: np.ndarray,
        broker: Broker,
    ) -> None:
        self.ecfg, self.rcfg, self.pairs, self.pips, self.broker = ecfg, rcfg, pairs, pips, broker

    def cancel(self, book: Book, j: int, ts: int, reason: str, out: Out) -> None:
        o = book.orders.pop(j)
        if self.ecfg.fill_source == "broker":  # a fill may still race this cancel at the broker
            book.broker = remember_cancel(book.broker, o)
        out.orders.append(_instruction(o, ts, "CANCEL", math.nan, math.nan, reason))
        out.reports.append(report(o, ts, "CANCELLED", reason))

    def sweep(self, book: Book, ts: int, out: Out) -> None:
        """Cancel every working order the control state now forbids (kill switch, HALT)."""
        cs = book.control
        for j in sorted(book.orders):
            if cs.blocks_all(self.pairs[j]):
                self.cancel(book, j, ts, "kill_switch" if cs.killed else "halt", out)

    def kill(self, book: Book, ts: int, reason: str, out: Out) -> None:
        """Fire the kill switch (once), announce it on ``control`` and cancel everything."""
        if not book.control.killed:
            book.control = fire(book.control, ts, reason)
            out.control.append(
                {
                    "command_id": f"execution:KILL:{ts}",
                    "ts": ts,
                    "action": "KILL",
                    "scale": 1.0,
                    "pair": "",
                    "issuer": "execution",
                    "reason": reason,
                }
            )
        self.sweep(book, ts, out)

    def pause(self, book: Book, ts: int, until: int, reason: str, out: Out) -> None:
        """Feed gap: cancel working orders, no new entries before ``until``; announced on ``control``
        as a notice (action NONE: it changes no one's state, the pause clears by itself)."""
        book.control = replace(book.control, paused_until=until)
        out.control.append(
            {
                "command_id": f"execution:PAUSE:{ts}",
                "ts": ts,
                "action": "NONE",
                "scale": 1.0,
                "pair": "",
                "issuer": "execution",
                "reason": reason,
            }
        )
        for j in sorted(book.orders):
            self.cancel(book, j, ts, "stale_input", out)

    def fills(self, book: Book, mn: Minutes, k: int, out: Out) -> list[int]:
        """Fill working orders against minute ``k``'s bars; return the pairs that filled."""
        filled = []
        bar_ts = int(mn.ts[k])
        for j in sorted(book.orders):
            if not mn.present[k, j]:
                continue
            o = book.orders[j]
            q = self.broker.fill_qty(
                o,
                bar_ts,
                float(mn.high[k, j]),
                float(mn.low[k, j]),
                float(mn.spread[k, j]),
                float(self.pips[j]),
            )
            if q <= 0.0:
                continue
            filled.append(j)
            self.fill(book, mn, k, o, q, o.price, bar_ts + MINUTE_MS, out)
        return filled

    def fill(
        self,
        book: Book,
        mn: Minutes,
        k: int,
        o: Order,
        q: float,
        price: float,
        ts: int,
        out: Out,
        status: str = "",
        working: bool = True,
    ) -> None:
        """Book ``q`` base units of ``o`` filled at ``price`` in minute ``k``: position, average price,
        realised PnL (USD at the minute's rate), the ``fills`` report at ``ts`` (``status``: the
        broker's, else FILLED / PARTIALLY_FILLED by the leaves) and the mark-outs. ``working``: ``o`` is
        pair ``j``'s working order (its leaves are updated; it is removed once done)."""
        j = o.pair_idx
        book.pos[j], book.avg[j], pnl_q = apply_fill(
            float(book.pos[j]), float(book.avg[j]), o.side * q, price
        )
        pnl = pnl_q * float(mn.rate[k, j]) if pnl_q else 0.0
        book.realized_usd += pnl
        o = after_fill(o, q)
        status = status or ("FILLED" if o.leaves <= 0.0 else "PARTIALLY_FILLED")
        out.reports.append(report(o, ts, status, "", q, price, pnl))
        if o.leg in self.ecfg.toxicity_legs:
            book.markouts.extend(schedule(int(mn.ts[k]), j, o.side, price, self.ecfg))
        if not working:
            return
        if o.leaves <= 0.0 or status == "FILLED":
            del book.orders[j]
        else:
            book.orders[j] = o

    def markouts(self, book: Book, mn: Minutes, k: int, out: Out) -> None:
        """Resolve due mark-outs at minute ``k``; fire the kill switch on toxic flow."""
        ts = int(mn.ts[k])
        due = [m.due_ts <= ts and bool(mn.present[k, m.pair_idx]) for m in book.markouts]
        book.windows, toxic = resolve(
            [m for m, d in zip(book.markouts, due, strict=True) if d], book.windows, mn.mid[k], self.ecfg
        )
        book.markouts = [m for m, d in zip(book.markouts, due, strict=True) if not d]
        if toxic:
            mean = sum(book.windows[self.ecfg.toxicity_horizon_min]) / self.ecfg.toxicity_window
            self.kill(
                book,
                ts + MINUTE_MS,
                f"toxicity: mean {self.ecfg.toxicity_horizon_min}-min "
                f"mark-out {mean:.2f} bps over {self.ecfg.toxicity_window} fills",
                out,
            )

    def route(self, book: Book, mn: Minutes, k: int, j: int, out: Out) -> None:
        """Bring pair ``j``'s working order in line with its target at minute ``k`` (bar present)."""
        pair, d = self.pairs[j], int(mn.ts[k]) + MINUTE_MS
        cs, o = book.control, book.orders.get(j)
        if cs.blocks_all(pair):
            return
        pos, lot = float(book.pos[j]), self.rcfg.lot_units
        blocked = bool(mn.bad_regime[k, j] or not mn.gov_ok[k, j] or cs.blocks_entries(pair))
        if o is not None and o.leg != "exit" and blocked:
            self.cancel(book, j, d, "entry_invalidated", out)
            o = None
        delta = float(book.target[j]) - pos
        adds = abs(book.target[j]) > abs(pos) or float(book.target[j]) * pos < 0.0
        if blocked and adds:
            book.target[j] = pos  # an entry that may not be placed is abandoned, not left pending
            delta = 0.0
        if abs(delta) < lot / 2.0:
            if o is not None:
                self.cancel(book, j, d, "target_reached", out)
            return
        self._post(book, mn, k, j, delta, o, out)

    def _post(self, book: Book, mn: Minutes, k: int, j: int, delta: float, o: Order | None, out: Out) -> None:
        d, pos = int(mn.ts[k]) + MINUTE_MS, float(book.pos[j])
        upu = float(mn.mid_ff[k, j] * mn.rate[k, j])
        side = 1 if delta > 0.0 else -1
        max_units = math.floor(self.rcfg.max_order_usd / upu / self.rcfg.lot_units) * self.rcfg.lot_units
        qty = min(abs(delta), max(max_units, self.rcfg.lot_units))
        if o is not None:
            if not needs_replace(o, side, qty, d, self.ecfg):
                return
            self.cancel(book, j, d, "replace", out)
        bid, spread = float(mn.close[k, j]), float(mn.spread[k, j])
        price = limit_price(side, bid, spread, self.ecfg.improve_fraction)
        if not math.isfinite(price):
            return
        leg = leg_of(delta, pos)
        coid = client_order_id(self.ecfg.strategy_id, self.pairs[j], d, leg)
        if coid in book.seen_ids:
            return
        book.seen_ids.append(coid)
        new = Order(coid, self.pairs[j], j, side, qty, qty, price, d, d + self.ecfg.latency_ms, leg)
        if book.sent and book.sent[0] <= d - MINUTE_MS:
            book.sent = [t for t in book.sent if t > d - MINUTE_MS]  # keep the rate window short
        reason = pre_trade_reason(
            side * qty,
            pos,
            0.0,
            upu,
            gross_usd(book.pos, mn.mid_ff[k], mn.rate[k]),
            price,
            float(mn.mid_ff[k, j]),
            d,
            book.sent,
            self.rcfg,
        )
        out.orders.append(_instruction(new, d, "NEW", bid, bid + spread, reason))
        if reason:
            rejected = report(new, d, "REJECTED", reason)
            rejected["leaves_qty"] = 0.0
            out.reports.append(rejected)
            book.target[j] = pos
            return
        book.orders[j] = new
        book.sent.append(d)
        out.reports.append(report(new, d, "NEW"))

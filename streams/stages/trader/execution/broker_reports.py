"""Live fills: a broker's execution reports applied to the trader's book (``fill_source = "broker"``).

Each decided minute (decision time ``d`` = bar close), before the book is marked to market, every
queued report (:mod:`streams.stages.trader.execution.report_queue`) with ``ts <= d`` is applied in
``(ts, arrival)`` order:

* a fill (FILLED / PARTIALLY_FILLED) of the working order with that client id goes through the same
  accounting as a paper fill (:meth:`Executor.fill`: leaves, position, average price, realised PnL,
  the ``fills`` report with the broker's status, price and time, mark-outs);
* a fill of an order the trader cancelled itself (the cancel raced the fill at the broker) is real:
  it moves the position, nothing else;
* a fill whose client id the trader does not hold as working or recently cancelled (or carries none)
  moves the position too (the broker's position is reality) and HALTs the pair: a ``control`` record
  (issuer ``execution``) with the reason, so the operator sees it and resumes when resolved;
* a fill's ``commission_usd`` (charged) and ``financing_usd`` (received > 0, paid < 0) move cash:
  realised USD PnL (hence equity) by ``financing - commission``; its ``fills`` report carries them and
  ``half_spread_cost_usd`` (information: in the price already). A ``FINANCING`` report (a pair's daily
  financing) moves realised PnL by its ``financing_usd`` and nothing else;
* CANCELLED / REJECTED removes the working order with that client id (an expiry, a broker-side
  cancel or reject) with the broker's reason; a REJECTED entry is abandoned (target = position), as
  a pre-trade reject is. A cancel of an order that is not working (the echo of our own cancel) is
  ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.core.units import MINUTE_MS
from streams.stages.trader.execution.killswitch import Command, apply
from streams.stages.trader.execution.report_queue import (
    FILL_STATUSES,
    FINANCING,
    BrokerReport,
    pop_due,
    remember_cancel,
)
from streams.stages.trader.execution.router import Order, leg_of
from streams.stages.trader.execution.step import Executor, Out, report

if TYPE_CHECKING:
    from streams.stages.trader.portfolio.book import Book
    from streams.stages.trader.portfolio.minutes import Minutes


def apply_due(ex: Executor, book: Book, mn: Minutes, k: int, out: Out) -> list[int]:
    """Apply the reports due at minute ``k`` (``ts <= d``); return the pairs whose position moved."""
    d = int(mn.ts[k]) + MINUTE_MS
    book.broker, due = pop_due(book.broker, d)
    moved: list[int] = []
    for r in due:
        if r.status in FILL_STATUSES:
            _fill(ex, book, mn, k, r, d, out)
            _costs(book, r, out.reports[-1])
            moved.append(r.pair_idx)
        elif r.status == FINANCING:
            book.realized_usd += r.financing_usd
        else:
            _end(book, r, out)
    return sorted(set(moved))


def _fill(ex: Executor, book: Book, mn: Minutes, k: int, r: BrokerReport, d: int, out: Out) -> None:
    j = r.pair_idx
    o = book.orders.get(j)
    if o is not None and r.client_order_id == o.client_order_id and r.side == o.side:
        ex.fill(book, mn, k, o, r.last_qty, r.last_price, r.ts, out, r.status)
        return
    leg = dict(book.broker.cancelled).get(r.client_order_id) if r.client_order_id else None
    qty = max(r.order_qty, r.last_qty + r.leaves_qty)
    ghost = Order(
        r.client_order_id,
        ex.pairs[j],
        j,
        r.side,
        qty,
        r.last_qty + r.leaves_qty,
        r.limit_price if r.limit_price > 0.0 else r.last_price,
        r.ts,
        r.ts,
        leg or leg_of(r.side * r.last_qty, float(book.pos[j])),
    )
    ex.fill(book, mn, k, ghost, r.last_qty, r.last_price, r.ts, out, r.status, working=False)
    if leg is None:
        _halt(book, r, ex.pairs[j], d, out)


def _costs(book: Book, r: BrokerReport, rec: dict[str, object]) -> None:
    book.realized_usd += r.financing_usd - r.commission_usd
    rec.update(
        commission_usd=r.commission_usd,
        financing_usd=r.financing_usd,
        half_spread_cost_usd=r.half_spread_cost_usd,
    )


def _halt(book: Book, r: BrokerReport, pair: str, d: int, out: Out) -> None:
    what = f"order {r.client_order_id}" if r.client_order_id else "no client order id"
    reason = (
        f"unknown broker fill ({what}): {pair} {r.side * r.last_qty:+g} units at {r.last_price:g}, "
        f"broker time {r.ts}; applied to the position, {pair} halted until an operator resumes it"
    )
    cmd = Command(f"execution:HALT:{pair}:{r.key}", d, "HALT", 1.0, pair, "execution", reason)
    book.control = apply(book.control, cmd)
    out.control.append(
        {
            "command_id": cmd.command_id,
            "ts": d,
            "action": "HALT",
            "scale": 1.0,
            "pair": pair,
            "issuer": "execution",
            "reason": reason,
        }
    )


def _end(book: Book, r: BrokerReport, out: Out) -> None:
    j = r.pair_idx
    o = book.orders.get(j)
    if o is None or o.client_order_id != r.client_order_id:
        return
    del book.orders[j]
    book.broker = remember_cancel(book.broker, o)
    out.reports.append(report(o, r.ts, r.status, r.reason or f"broker {r.status.lower()}"))
    if r.status == "REJECTED":
        book.target[j] = book.pos[j]

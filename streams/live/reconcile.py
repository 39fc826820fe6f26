"""Reconciliation (pure): the broker's working orders, positions and open trades vs the system's book.

Any difference blocks trading at startup until a person resolves it, with one reason per difference:

* ``unknown_order``: a working order at the broker the system does not know (placed by hand, by
  another process, or by us before a lost checkpoint);
* ``missing_order``: an order the system thinks is working that the broker does not hold (filled or
  cancelled while we were away: the fill was missed);
* ``order_differs``: same client id, other units, or a price more than one price increment (a tenth of
  a pip: the broker holds the price rounded to its precision) away;
* ``position``: a net position of another size (``units`` differ by more than ``tolerance``);
* ``trades``: where both net positions agree, the broker's open trades do not add up to them (or hold
  both long and short units: a hedging account, which this system does not model);
* ``avg_price``: where positions and trades agree, the units-weighted price of the open trades is
  more than ``avg_tol_pips`` from the system's average entry price. The broker closes trades first in
  first out, the trader keeps an average cost: after a partial close the two differ legitimately (buy
  at 1.3000 and 1.3030, sell the first lot: the broker's open price is 1.3030, the trader's average
  1.3015, 15 pips apart), so the tolerance bounds that gap; it is no rounding allowance.

The running check (:class:`BookWatch`) compares the same books every few seconds while trading, leaving
out orders in flight (:class:`InFlight`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.fx.pairs import pip_size
from streams.live.v20_orders import OpenTrades, WorkingOrder

AVG_TOL_OFF = math.inf
"""The default ``avg_tol_pips``: no average-price check (v20 closes trades FIFO, the trader keeps an
average cost, so after a partial close the two differ with nothing wrong)."""


@dataclass(frozen=True)
class Book:
    """One side's view: working orders by client id and net signed units per pair.

    ``avg_prices``: average entry price per pair with a position (the system's book; the broker's
    comes from its trades). ``trades``: the broker's open trades per pair (None: not read). ``as_of``:
    the event time (ms) the system's book is at (its checkpoint's last decided minute; -1 unknown).
    """

    orders: Mapping[str, WorkingOrder]
    positions: Mapping[str, float]
    avg_prices: Mapping[str, float] = field(default_factory=dict)
    trades: Mapping[str, OpenTrades] | None = None
    as_of: int = -1


@dataclass(frozen=True)
class Mismatch:
    kind: str
    pair: str
    detail: str
    ref: str = ""
    """The client id of an order mismatch ("" for positions and trades)."""

    def __str__(self) -> str:
        return f"{self.kind} {self.pair}: {self.detail}"


def _order_mismatches(broker: Book, system: Book, tolerance: float) -> list[Mismatch]:
    out: list[Mismatch] = []
    for cid, o in sorted(broker.orders.items()):
        mine = system.orders.get(cid)
        if mine is None:
            detail = f"broker holds {cid} ({o.units:+.0f} @ {o.price}) the system does not know"
            out.append(Mismatch("unknown_order", o.pair, detail, cid))
        elif abs(mine.units - o.units) > tolerance or abs(mine.price - o.price) > 0.1001 * pip_size(o.pair):
            detail = f"{cid}: broker {o.units:+.0f} @ {o.price}, system {mine.units:+.0f} @ {mine.price}"
            out.append(Mismatch("order_differs", o.pair, detail, cid))
    for cid, o in sorted(system.orders.items()):
        if cid not in broker.orders:
            detail = f"system's working order {cid} ({o.units:+.0f}) is not at the broker (filled or cancelled unseen)"
            out.append(Mismatch("missing_order", o.pair, detail, cid))
    return out


def _trade_mismatch(
    pair: str, trades: OpenTrades, system: Book, tolerance: float, avg_tol_pips: float
) -> Mismatch | None:
    net = system.positions.get(pair, 0.0)
    if trades.long_units and trades.short_units:
        detail = (
            f"open trades long {trades.long_units:+.0f} and short {trades.short_units:+.0f} units (hedging)"
        )
        return Mismatch("trades", pair, detail)
    if abs(trades.units - net) > tolerance:
        detail = f"open trades add up to {trades.units:+.0f} units ({trades.count} trades), net position {net:+.0f}"
        return Mismatch("trades", pair, detail)
    mine = system.avg_prices.get(pair, math.nan)
    off = abs(trades.avg_price - mine) / pip_size(pair)
    if net and math.isfinite(mine) and not off <= avg_tol_pips:
        detail = (
            f"open trades' average price {trades.avg_price:.6g}, system's average entry {mine:.6g} "
            f"({off:.1f} pips apart, tolerance {avg_tol_pips:g})"
        )
        return Mismatch("avg_price", pair, detail)
    return None


def reconcile(
    broker: Book, system: Book, tolerance: float = 0.5, avg_tol_pips: float = AVG_TOL_OFF
) -> list[Mismatch]:
    """Every difference between ``broker`` and ``system`` (empty: trading may start).

    ``tolerance`` in base units; ``avg_tol_pips`` in pips of the pair. The trade checks run where the
    broker's book carries its open trades and both net positions agree (else the position says it).
    """
    out = _order_mismatches(broker, system, tolerance)
    trades = broker.trades
    for pair in sorted(set(broker.positions) | set(system.positions) | set(trades or {})):
        b, s = broker.positions.get(pair, 0.0), system.positions.get(pair, 0.0)
        if abs(b - s) > tolerance:
            out.append(Mismatch("position", pair, f"broker {b:+.0f} units, system {s:+.0f}"))
        elif trades is not None:
            m = _trade_mismatch(pair, trades.get(pair, OpenTrades()), system, tolerance, avg_tol_pips)
            out.extend([m] if m else [])
    return out


@dataclass
class InFlight:
    """Orders whose last event may not be in the trader's checkpoint yet, so the running check leaves
    them out: sent, cancelled or reported by the broker within ``window_ms`` of wall time, or whose
    event (the instruction's decision, the report's transaction time) is after the checkpoint's
    ``as_of`` (the trader applies a report at the first minute whose close is at or after it).
    """

    window_ms: int = 30_000
    touched: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Client id -> (wall ms of the last touch, latest event ms)."""

    def touch(self, client_id: str, wall_ms: int, event_ms: int) -> None:
        """Record that ``client_id`` was sent, cancelled or reported at ``wall_ms`` for event ``event_ms``."""
        last = self.touched.get(client_id, (wall_ms, event_ms))[1]
        self.touched[client_id] = (wall_ms, max(last, event_ms))

    def ids(self, now_ms: int, as_of: int) -> frozenset[str]:
        """The client ids in flight at ``now_ms`` for a checkpoint at ``as_of``; the rest are forgotten."""
        self.touched = {
            c: (w, e) for c, (w, e) in self.touched.items() if now_ms - w < self.window_ms or e > as_of
        }
        return frozenset(self.touched)


@dataclass
class BookWatch:
    """The running check (pure): working orders and net positions, broker vs system, every few seconds
    while trading (open trades are compared at startup only).

    Orders in flight are left out of both books. A remaining difference can still be in flight for
    one check (a fill the trader's last checkpoint has not seen), so only one seen on ``confirm``
    consecutive checks (per pair, and per client id for orders) raises, once per episode; a check that
    agrees ends the episode.
    """

    tolerance: float = 0.5
    confirm: int = 2
    streak: dict[tuple[str, str], int] = field(default_factory=dict)
    raised: bool = False

    def check(self, broker: Book, system: Book, in_flight: frozenset[str] = frozenset()) -> str | None:
        """The HALT reason when a difference has persisted for ``confirm`` checks (first time only)."""
        found = reconcile(_settled(broker, in_flight), _settled(system, in_flight), self.tolerance)
        self.streak = {(m.pair, m.ref): self.streak.get((m.pair, m.ref), 0) + 1 for m in found}
        lasting = [m for m in found if self.streak[(m.pair, m.ref)] >= self.confirm]
        if not found:
            self.raised = False
        if not lasting or self.raised:
            return None
        self.raised = True
        kinds = {"positions" if m.kind == "position" else "working orders" for m in lasting}
        what = " and ".join(sorted(kinds))
        return f"{what} differ on {self.confirm} consecutive checks: " + "; ".join(str(m) for m in lasting)


def _settled(book: Book, in_flight: frozenset[str]) -> Book:
    return Book({c: o for c, o in book.orders.items() if c not in in_flight}, book.positions)

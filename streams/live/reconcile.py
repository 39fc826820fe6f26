"""Startup reconciliation (pure): the broker's working orders and positions vs the system's book.

Any difference blocks trading until a person resolves it, with one reason per difference:

* ``unknown_order``: a working order at the broker the system does not know (placed by hand, by
  another process, or by us before a lost checkpoint);
* ``missing_order``: an order the system thinks is working that the broker does not hold (filled or
  cancelled while we were away: the fill was missed);
* ``order_differs``: same client id, other units, or a price more than one price increment (a tenth of
  a pip: the broker holds the price rounded to its precision) away;
* ``position``: a net position of another size (``units`` differ by more than ``tolerance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.fx.pairs import pip_size
from streams.live.v20_orders import WorkingOrder


@dataclass(frozen=True)
class Book:
    """One side's view: working orders by client id and net signed units per pair."""

    orders: Mapping[str, WorkingOrder]
    positions: Mapping[str, float]


@dataclass(frozen=True)
class Mismatch:
    kind: str
    pair: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.pair}: {self.detail}"


def reconcile(broker: Book, system: Book, tolerance: float = 0.5) -> list[Mismatch]:
    """Every difference between ``broker`` and ``system`` (empty: trading may start)."""
    out: list[Mismatch] = []
    for cid, o in sorted(broker.orders.items()):
        mine = system.orders.get(cid)
        if mine is None:
            out.append(
                Mismatch(
                    "unknown_order",
                    o.pair,
                    f"broker holds {cid} ({o.units:+.0f} @ {o.price}) the system does not know",
                )
            )
        elif abs(mine.units - o.units) > tolerance or abs(mine.price - o.price) > 0.1001 * pip_size(o.pair):
            out.append(
                Mismatch(
                    "order_differs",
                    o.pair,
                    f"{cid}: broker {o.units:+.0f} @ {o.price}, system {mine.units:+.0f} @ {mine.price}",
                )
            )
    for cid, o in sorted(system.orders.items()):
        if cid not in broker.orders:
            out.append(
                Mismatch(
                    "missing_order",
                    o.pair,
                    f"system's working order {cid} ({o.units:+.0f}) is not at the broker (filled or cancelled unseen)",
                )
            )
    for pair in sorted(set(broker.positions) | set(system.positions)):
        b, s = broker.positions.get(pair, 0.0), system.positions.get(pair, 0.0)
        if abs(b - s) > tolerance:
            out.append(Mismatch("position", pair, f"broker {b:+.0f} units, system {s:+.0f}"))
    return out


@dataclass
class PositionWatch:
    """The running check (pure): net positions, broker vs system, every few seconds while trading.

    An in-flight fill makes a one-off difference (the broker has it, the trader's last checkpoint not
    yet), so only a difference in the same pair on ``confirm`` consecutive checks raises, once per
    episode; a check that agrees ends the episode.
    """

    tolerance: float = 0.5
    confirm: int = 2
    streak: dict[str, int] = field(default_factory=dict)
    raised: bool = False

    def check(self, broker: Mapping[str, float], system: Mapping[str, float]) -> str | None:
        """The HALT reason when a difference has persisted for ``confirm`` checks (first time only)."""
        found = reconcile(Book({}, broker), Book({}, system), self.tolerance)
        self.streak = {m.pair: self.streak.get(m.pair, 0) + 1 for m in found}
        lasting = [m for m in found if self.streak[m.pair] >= self.confirm]
        if not found:
            self.raised = False
        if not lasting or self.raised:
            return None
        self.raised = True
        return f"positions differ on {self.confirm} consecutive checks: " + "; ".join(str(m) for m in lasting)

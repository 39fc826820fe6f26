"""The order gateway: the trader's instructions (``hslr.orders``) -> a live broker, behind the
startup reconciliation (pure apart from the broker it is given).

Until :meth:`OrderGateway.start` has reconciled the broker with the system's book and found no
difference, no NEW instruction is sent; a difference keeps it blocked with its reasons (the command
turns them into a log line, a metric and a HALT control record). Cancels always pass: withdrawing an
order only makes the book safer. NEW instructions the trader's pre-trade checks refused (non-empty
``reason``) are never sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.live.oanda_broker import LiveBroker
from streams.live.reconcile import AVG_TOL_OFF, Book, Mismatch, reconcile
from streams.live.v20_orders import Ack


@dataclass
class OrderGateway:
    broker: LiveBroker
    blocked: list[str] = field(default_factory=lambda: ["not reconciled yet"])
    acks: list[Ack] = field(default_factory=list)

    def start(self, system: Book, avg_tol_pips: float = AVG_TOL_OFF) -> list[Mismatch]:
        """Reconcile (:func:`~streams.live.reconcile.reconcile`); trading opens only when the books agree."""
        found = reconcile(self.broker.book(), system, avg_tol_pips=avg_tol_pips)
        self.blocked = [str(m) for m in found]
        return found

    def apply(self, rec: dict[str, Any], redelivered: bool = False) -> Ack | None:
        """Send one instruction; None when it is not for the broker (a refused NEW)."""
        cid = str(rec["client_order_id"])
        if rec["action"] == "CANCEL":
            ack = self.broker.cancel(cid)
        elif rec.get("reason"):
            return None
        elif self.blocked:
            ack = Ack(cid, "BLOCKED", "", "; ".join(self.blocked))
        else:
            ack = self.broker.submit(rec, lookup_first=redelivered)
        self.acks.append(ack)
        return ack

"""Execution router: passive limit orders strictly inside the spread, never market orders.

Price rule: a buy is posted at ``bid + f * spread`` and a sell at ``ask - f * spread`` with
``0 < f < 0.5`` (default 0.25), from the close of the decision bar (bid = close, ask = close + spread).
When the spread is zero or too small for the price to differ from bid and ask in floating point, no
order is posted (reason ``spread_too_narrow``).

Client order ids are ``sha1("strategy|pair|decision_ts|leg")[:20]`` (leg ``entry``, ``exit`` or
``adjust``): a decision replayed from the same data yields the same id, and the stage never posts an
id it has seen, so replays create no second order. One working order per pair at most.

Replacement: a working order whose remaining quantity or side no longer matches the wanted delta, or
that is older than ``replace_after_min`` minutes, is cancelled and re-posted at the current price
rule (new id from the new decision time).

Cancellation: entry orders (those that increase |position|) are cancelled when the pair's bar is not
tradeable, the regime is Event_Risk, gov_state is not NORMAL/REDUCED, or entries are suspended; every
working order is cancelled on HALT or when the kill switch is active.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from streams.stages.trader.execution.config import ExecutionConfig


@dataclass(frozen=True)
class Order:
    """A working limit order (quantities in base units, prices in quote per base)."""

    client_order_id: str
    pair: str
    pair_idx: int
    side: int
    qty: float
    leaves: float
    price: float
    created_ts: int
    active_ts: int
    leg: str

    @property
    def cum(self) -> float:
        return self.qty - self.leaves


def client_order_id(strategy: str, pair: str, decision_ts: int, leg: str) -> str:
    """Return the deterministic client order id (20 hex chars) of one decision."""
    return hashlib.sha1(f"{strategy}|{pair}|{decision_ts}|{leg}".encode()).hexdigest()[:20]  # noqa: S324


def limit_price(side: int, bid: float, spread: float, f: float) -> float:
    """Return the limit price for ``side`` (+1 buy, -1 sell) or NaN when it cannot sit strictly inside.

    Parameters
    ----------
    bid, spread : float
        Bid price and ask - bid (price units) at the decision bar's close.
    f : float
        Improvement fraction in (0, 0.5).
    """
    ask = bid + spread
    price = bid + f * spread if side > 0 else ask - f * spread
    return price if bid < price < ask else float("nan")


def leg_of(delta: float, position: float) -> str:
    """Name the order leg: ``exit`` reduces |position| (at most to flat), ``entry`` opens from flat."""
    if position != 0.0 and (delta > 0.0) != (position > 0.0) and abs(delta) <= abs(position):
        return "exit"
    return "entry" if position == 0.0 else "adjust"


def needs_replace(order: Order, side: int, qty: float, decision_ts: int, cfg: ExecutionConfig) -> bool:
    """Return True when ``order`` no longer matches the wanted ``side``/``qty`` or has gone stale."""
    stale = decision_ts - order.created_ts >= cfg.replace_after_min * 60_000
    return stale or order.side != side or order.leaves != qty

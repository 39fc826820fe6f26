"""A live broker's execution reports (topic ``broker.fills``) as the trader queues them.

Records are validated and keyed here; :mod:`streams.stages.trader.execution.broker_reports` applies
them to the book when their minute is decided. The queue is part of the trader's checkpointed state
(:class:`ReportState`), like the control queue: a report waits, sorted by ``(ts, arrival)``, until
the first decided minute whose decision time (bar close) is at or after its ``ts``.

Idempotent: a report is keyed by ``(client_order_id, pair, status, ts, cum_qty, last_qty)``; a key
seen before (the most recent :data:`SEEN` keys) is dropped, so an at-least-once redelivery is applied
once. The ids of the orders the trader cancelled itself (the most recent :data:`CANCELLED`) are kept
so that a fill which raced the cancel at the broker is recognised as ours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from streams.core.batch import Batch
from streams.fx.pairs import normalize_pair
from streams.stages.trader.execution.router import Order

FILL_STATUSES = ("FILLED", "PARTIALLY_FILLED")
END_STATUSES = ("CANCELLED", "REJECTED")
FINANCING = "FINANCING"
"""A pair's daily financing (no order): ``financing_usd`` only."""
COSTS = ("commission_usd", "financing_usd", "half_spread_cost_usd")
"""Optional fields (0 when absent: records written before they existed)."""
FIELDS = (
    "pair",
    "ts",
    "client_order_id",
    "status",
    "side",
    "order_qty",
    "last_qty",
    "last_price",
    "cum_qty",
    "leaves_qty",
    "limit_price",
    "reason",
)
SEEN = 5000
"""Report keys remembered for redelivery de-duplication."""
CANCELLED = 500
"""Ids of orders the trader cancelled itself, remembered for fills that race the cancel."""


@dataclass(frozen=True)
class BrokerReport:
    """One validated execution report of the broker (quantities in base units, prices quote/base)."""

    key: str
    ts: int
    pair_idx: int
    client_order_id: str
    status: str
    side: int
    order_qty: float
    last_qty: float
    last_price: float
    leaves_qty: float
    limit_price: float
    reason: str
    commission_usd: float = 0.0
    financing_usd: float = 0.0
    half_spread_cost_usd: float = 0.0


@dataclass(frozen=True)
class ReportState:
    """Reports not yet applied, keys already taken in, and recently self-cancelled orders."""

    queue: tuple[BrokerReport, ...] = ()
    """Sorted by ts (stable: arrival order within a ts)."""
    seen: tuple[str, ...] = ()
    cancelled: tuple[tuple[str, str], ...] = ()
    """(client order id, leg) of the orders the trader cancelled, most recent last."""


def _report(r: Mapping[str, Any], index: Mapping[str, int]) -> BrokerReport:
    coid, status = str(r["client_order_id"] or ""), str(r["status"])
    where = f"broker report {coid or '(no client order id)'} at ts {r['ts']}"
    try:
        pair = normalize_pair(str(r["pair"]))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if pair not in index:
        raise ValueError(f"{where}: pair {pair} is not traded (not in [trader.portfolio] pairs)")
    if status not in (*FILL_STATUSES, *END_STATUSES, FINANCING):
        raise ValueError(
            f"{where}: status {status!r} is not one of {(*FILL_STATUSES, *END_STATUSES, FINANCING)}"
        )
    side, last_qty, price = int(r["side"]), float(r["last_qty"]), float(r["last_price"])
    costs = [float(r.get(c, 0.0)) for c in COSTS]
    if not all(math.isfinite(c) for c in costs):
        raise ValueError(f"{where}: costs {dict(zip(COSTS, costs, strict=True))} are not all finite")
    if side not in (1, -1) and status != FINANCING:
        raise ValueError(f"{where}: side {side} is not +1 or -1")
    if status in FILL_STATUSES and not (last_qty > 0.0 and math.isfinite(last_qty) and price > 0.0):
        raise ValueError(
            f"{where}: a fill needs last_qty > 0 and a positive last_price ({last_qty}, {price})"
        )
    ts, cum = int(r["ts"]), float(r["cum_qty"])
    return BrokerReport(
        f"{coid}|{pair}|{status}|{ts}|{cum!r}|{last_qty!r}",
        ts,
        index[pair],
        coid,
        status,
        side,
        float(r["order_qty"]),
        last_qty,
        price,
        float(r["leaves_qty"]),
        float(r["limit_price"]),
        str(r["reason"] or ""),
        *costs,
    )


def parse(batch: Batch, index: Mapping[str, int]) -> list[BrokerReport]:
    """Validate ``execution_report`` records of a broker; ``index`` maps traded pairs to columns.

    Raises
    ------
    ValueError
        A missing field, a pair that is not traded, an unknown status, a side other than +1/-1, or a
        fill without a positive quantity and price (the runtime dead-letters the record with this
        reason and announces a HALT).
    """
    missing = [f for f in FIELDS if f not in batch]
    if missing:
        raise ValueError(f"broker reports lack the fields {missing}")
    return [_report(r, index) for r in batch.to_records()]


def enqueue(rs: ReportState, reports: list[BrokerReport]) -> ReportState:
    """``rs`` with the reports whose key is new queued (in time order, arrivals kept in order)."""
    seen, new = set(rs.seen), []
    for r in reports:
        if r.key not in seen:
            seen.add(r.key)
            new.append(r)
    if not new:
        return rs
    queue = tuple(sorted((*rs.queue, *new), key=lambda r: r.ts))
    return replace(rs, queue=queue, seen=(*rs.seen, *(r.key for r in new))[-SEEN:])


def pop_due(rs: ReportState, decision_ts: int) -> tuple[ReportState, list[BrokerReport]]:
    """Split off the queued reports with ``ts <= decision_ts`` (in queue order)."""
    n = next((i for i, r in enumerate(rs.queue) if r.ts > decision_ts), len(rs.queue))
    return (replace(rs, queue=rs.queue[n:]), list(rs.queue[:n])) if n else (rs, [])


def remember_cancel(rs: ReportState, order: Order) -> ReportState:
    """``rs`` remembering that the trader cancelled ``order``."""
    return replace(rs, cancelled=(*rs.cancelled, (order.client_order_id, order.leg))[-CANCELLED:])

"""Our order instructions <-> OANDA v20 order requests and responses (pure).

A NEW instruction (``schemas/order.avsc``) becomes ``{"order": {"type": "LIMIT", "instrument",
"units" (signed string), "price", "timeInForce": "GTD"+"gtdTime" or "GTC", "positionFill",
"clientExtensions": {"id": <client_order_id>, "tag", "comment"}}}``. The price is written at the
instrument's precision (5 decimals, 3 for JPY quotes), rounded *away from the market* (buys down,
sells up): never a worse price than the router chose. Responses become an :class:`Ack`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from streams.fx.pairs import normalize_pair, pip_size
from streams.live.quotes import instrument, parse_time_ns

TAG = "hslr"


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """A limit order as both sides see it: signed base units, limit price."""

    client_id: str
    pair: str
    units: float
    price: float


@dataclass(frozen=True, slots=True)
class Ack:
    """What the broker did with a request: ``state`` PENDING, FILLED, CANCELLED, REJECTED, NOT_FOUND
    or UNKNOWN (no answer: look it up before resending)."""

    client_id: str
    state: str
    broker_id: str = ""
    reason: str = ""
    filled_units: float = 0.0
    fill_price: float = math.nan


def price_text(pair: str, price: float, side: int) -> str:
    """``price`` at the pair's precision, rounded down for buys and up for sells."""
    digits = 3 if pip_size(pair) == 0.01 else 5
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(repr(price)).quantize(q, rounding=ROUND_FLOOR if side > 0 else ROUND_CEILING))


def rfc3339_ms(ts_ms: int) -> str:
    from datetime import UTC, datetime

    secs, ms = divmod(ts_ms, 1000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}000000Z"


def order_request(rec: dict[str, Any], gtd_min: int = 0, position_fill: str = "DEFAULT") -> dict[str, Any]:
    """The v20 body of a NEW instruction ``rec`` (an ``order.avsc`` record); GTD ``gtd_min`` after the
    decision when > 0, else GTC.

    Raises
    ------
    ValueError
        Not a NEW instruction, zero or fractional quantity, no finite positive price.
    """
    if rec["action"] != "NEW":
        raise ValueError(f"only NEW instructions become orders, got {rec['action']!r}")
    pair, side, qty, px = (
        normalize_pair(rec["pair"]),
        int(rec["side"]),
        float(rec["qty"]),
        float(rec["limit_price"]),
    )
    if side not in (1, -1) or qty <= 0 or qty != int(qty):
        raise ValueError(f"order {rec['client_order_id']}: side {side} qty {qty} is not an order")
    if not (math.isfinite(px) and px > 0):
        raise ValueError(f"order {rec['client_order_id']}: limit price {px} is not a price")
    order: dict[str, Any] = {
        "type": "LIMIT",
        "instrument": instrument(pair),
        "units": str(side * int(qty)),
        "price": price_text(pair, px, side),
        "timeInForce": "GTD" if gtd_min > 0 else "GTC",
        "positionFill": position_fill,
        "clientExtensions": {"id": rec["client_order_id"], "tag": TAG, "comment": str(rec.get("leg", ""))},
    }
    if gtd_min > 0:
        order["gtdTime"] = rfc3339_ms(int(rec["ts"]) + gtd_min * 60_000)
    return {"order": order}


def parse_create(client_id: str, status: int, body: dict[str, Any]) -> Ack:
    """The ``POST /orders`` answer: 201 (created, maybe filled or cancelled at once) or 400/404."""
    if status == 201:
        create = body.get("orderCreateTransaction", {})
        if "orderFillTransaction" in body:
            fill = body["orderFillTransaction"]
            return Ack(
                client_id,
                "FILLED",
                str(create.get("id", "")),
                "",
                float(fill.get("units", 0)),
                float(fill.get("price", "nan")),
            )
        if "orderCancelTransaction" in body:
            return Ack(
                client_id,
                "CANCELLED",
                str(create.get("id", "")),
                str(body["orderCancelTransaction"].get("reason", "")),
            )
        return Ack(client_id, "PENDING", str(create.get("id", "")))
    reject = body.get("orderRejectTransaction", {})
    code = str(body.get("errorCode") or reject.get("rejectReason") or f"HTTP {status}")
    return Ack(client_id, "REJECTED", "", code)


def parse_order(client_id: str, status: int, body: dict[str, Any]) -> Ack:
    """The ``GET /orders/@id`` answer."""
    if status == 404:
        return Ack(client_id, "NOT_FOUND", "", str(body.get("errorCode", "")))
    o = body.get("order", {})
    state = str(o.get("state", "UNKNOWN"))
    return Ack(client_id, state, str(o.get("id", "")), "", float(o["units"]) if state == "FILLED" else 0.0)


def working_orders(body: dict[str, Any]) -> dict[str, WorkingOrder]:
    """``GET /pendingOrders`` -> working limit orders by client id (orders without one keyed by
    ``broker:<id>``: unknown to us by construction)."""
    out: dict[str, WorkingOrder] = {}
    for o in body.get("orders", []):
        if "instrument" not in o:  # take-profit/stop-loss orders on trades carry no instrument
            continue
        cid = o.get("clientExtensions", {}).get("id") or f"broker:{o.get('id')}"
        out[cid] = WorkingOrder(
            cid, normalize_pair(o["instrument"]), float(o["units"]), float(o.get("price", "nan"))
        )
    return out


def net_positions(body: dict[str, Any]) -> dict[str, float]:
    """``GET /openPositions`` -> net signed units per pair (long units + short units)."""
    out: dict[str, float] = {}
    for p in body.get("positions", []):
        net = float(p.get("long", {}).get("units", 0)) + float(p.get("short", {}).get("units", 0))
        if net:
            out[normalize_pair(p["instrument"])] = net
    return out


@dataclass(frozen=True, slots=True)
class OpenTrades:
    """A pair's open trades at the broker: signed units (sum, long part, short part), how many, and the
    units-weighted average open price (NaN without trades)."""

    units: float = 0.0
    long_units: float = 0.0
    short_units: float = 0.0
    count: int = 0
    avg_price: float = math.nan


def open_trades(body: dict[str, Any]) -> dict[str, OpenTrades]:
    """``GET /openTrades`` -> the open trades per pair (``currentUnits`` signed, ``price`` each).

    Raises
    ------
    ValueError
        A trade without a readable instrument, units or price (the book cannot be trusted).
    """
    rows: dict[str, list[tuple[float, float]]] = {}
    for t in body.get("trades", []):
        try:
            pair, units, price = normalize_pair(t["instrument"]), float(t["currentUnits"]), float(t["price"])
        except (KeyError, TypeError, ValueError) as exc:
            tid = t.get("id", "?") if isinstance(t, dict) else "?"
            raise ValueError(f"open trade {tid} unreadable: {type(exc).__name__} {exc}") from None
        if units:
            rows.setdefault(pair, []).append((units, price))
    out: dict[str, OpenTrades] = {}
    for pair, tr in rows.items():
        size = sum(abs(u) for u, _ in tr)
        out[pair] = OpenTrades(
            sum(u for u, _ in tr),
            sum(u for u, _ in tr if u > 0),
            sum(u for u, _ in tr if u < 0),
            len(tr),
            sum(abs(u) * p for u, p in tr) / size,
        )
    return out


def transaction_time_ns(txn: dict[str, Any]) -> int:
    return parse_time_ns(str(txn["time"]))

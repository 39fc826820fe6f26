"""OANDA v20 transactions -> execution reports for ``broker.fills`` (pure).

The transaction stream (``GET /v3/accounts/{id}/transactions/stream``) and ``GET
/transactions/sinceid`` deliver JSON transactions: ``id`` (a string of an increasing integer), ``type``,
``time`` (RFC 3339, ns digits), ``accountID``, ``batchID`` and type-specific fields. The stream adds
``{"type": "HEARTBEAT", "lastTransactionID", "time"}`` every 5 s.

* ``ORDER_FILL`` -> one report: ``side`` from the sign of ``units``, ``last_qty`` = ``|units|``,
  ``last_price`` = ``price`` (``fullVWAP`` when absent: v20 deprecates ``price``), ``realized_pnl_usd``
  = ``pl`` (the account's home currency, USD for our accounts), status ``PARTIALLY_FILLED`` while the
  order we sent still has units left, else ``FILLED``. Quantities and the limit price come from what
  the gateway sent (:meth:`TransactionSession.expect`); for an order it never sent (a fill of an order
  from a previous run, a stop-out, a hand-placed order) ``order_qty`` = ``cum_qty`` = ``last_qty``,
  ``leaves_qty`` 0, ``limit_price`` 0 and ``client_order_id`` = ``clientOrderID`` or ``""``. Its costs:
  ``commission_usd`` = ``commission`` (charged, >= 0), ``financing_usd`` = ``financing`` (received > 0,
  paid < 0), ``half_spread_cost_usd`` = ``halfSpreadCost`` (information: in the price already); 0
  when absent.
* ``ORDER_CANCEL`` of an order with a ``clientOrderID`` (ours carry one) -> ``CANCELLED`` with the
  broker's reason (``CLIENT_REQUEST``, ``TIME_IN_FORCE_EXPIRED``, ``INSUFFICIENT_MARGIN`` ...).
* ``DAILY_FINANCING`` -> one ``FINANCING`` report per entry of ``positionFinancings`` (``pair``,
  ``financing_usd`` = its ``financing``; no order: client id "", side 0, quantities 0).
* Every other type (``LIMIT_ORDER``, ...) is counted and ignored.

A line or transaction that cannot be read becomes a quarantine record with the reason, never an
exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from streams.fx.pairs import normalize_pair
from streams.live.feed import FeedStatus
from streams.live.quotes import BadLine, parse_time_ns
from streams.live.session import quarantine_record

STAGE = "oanda-transactions"
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Transaction:
    """One v20 transaction: integer ``id``, ``kind`` (its ``type``), ``ts_ns`` (ns UTC), the raw object."""

    id: int
    kind: str
    ts_ns: int
    obj: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TxnHeartbeat:
    last_id: int
    ts_ns: int


TxnEvent = Transaction | TxnHeartbeat | BadLine


def parse_transaction(obj: object, raw: bytes = b"") -> Transaction | TxnHeartbeat | BadLine:
    """Read one decoded stream/sinceid object; ``raw`` is kept for the quarantine record."""
    raw = raw or json.dumps(obj).encode()
    if not isinstance(obj, dict):
        return BadLine(raw, "not a JSON object")
    try:
        if obj.get("type") == "HEARTBEAT":
            return TxnHeartbeat(int(obj["lastTransactionID"]), parse_time_ns(str(obj["time"])))
        return Transaction(int(obj["id"]), str(obj["type"]), parse_time_ns(str(obj["time"])), obj)
    except (KeyError, TypeError, ValueError) as exc:
        return BadLine(raw, f"bad transaction: {exc!r}")


def parse_transaction_line(line: bytes) -> TxnEvent | None:
    """One stream line; ``None`` for a blank keep-alive line."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return BadLine(line, f"not JSON: {exc}")
    return parse_transaction(obj, line)


@dataclass
class SentOrder:
    """What the gateway sent: signed ``side``, ``qty`` (base units), ``limit_price``; ``cum`` filled so far."""

    pair: str
    side: int
    qty: float
    limit_price: float
    cum: float = 0.0


@dataclass
class TxnPublished:
    reports: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TransactionSession:
    """Transactions -> execution reports, remembering the orders the gateway sent."""

    orders: dict[str, SentOrder] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def expect(self, rec: dict[str, Any]) -> None:
        """Remember a NEW instruction (``order.avsc``) before it is sent, so its fills carry its sizes."""
        self.orders[str(rec["client_order_id"])] = SentOrder(
            normalize_pair(str(rec["pair"])), int(rec["side"]), float(rec["qty"]), float(rec["limit_price"])
        )

    def handle(self, ev: TxnEvent | FeedStatus, wall_ms: int) -> TxnPublished:
        """Take one event; ``wall_ms`` stamps quarantine records of lines without a time."""
        out = TxnPublished()
        if isinstance(ev, BadLine):
            self._count("bad_line")
            out.quarantine.append(quarantine_record("", wall_ms, ev.reason, _text(ev.line), STAGE))
        elif isinstance(ev, Transaction):
            try:
                recs = self.report(ev)
            except (KeyError, TypeError, ValueError) as exc:
                self._count("bad_transaction")
                payload = json.dumps(ev.obj)
                out.quarantine.append(
                    quarantine_record("", ev.ts_ns // _NS_PER_MS, f"bad {ev.kind}: {exc!r}", payload, STAGE)
                )
            else:
                out.reports.extend(recs)
        else:
            self._count(type(ev).__name__)
        return out

    def report(self, txn: Transaction) -> list[dict[str, Any]]:
        """The execution reports of ``txn`` (none for a type that makes none: counted).

        Raises
        ------
        KeyError, TypeError, ValueError
            A fill or cancel without the fields it must carry (the caller quarantines it).
        """
        if txn.kind == "ORDER_FILL":
            self._count("ORDER_FILL")
            return [self._fill(txn)]
        if txn.kind == "ORDER_CANCEL" and txn.obj.get("clientOrderID"):
            self._count("ORDER_CANCEL")
            return [self._cancel(txn)]
        if txn.kind == "DAILY_FINANCING":
            self._count("DAILY_FINANCING")
            return self._financing(txn)
        self._count(f"ignored:{txn.kind}")
        return []

    def _fill(self, txn: Transaction) -> dict[str, Any]:
        o = txn.obj
        pair = normalize_pair(str(o["instrument"]))
        units = float(o["units"])
        price = float(o["price"] if "price" in o else o["fullVWAP"])
        pl = float(o.get("pl", 0.0))
        if not all(math.isfinite(x) for x in (units, price, pl)) or units == 0 or price <= 0:
            raise ValueError(f"units {units}, price {price}, pl {pl} do not make a fill")
        cid = str(o.get("clientOrderID", ""))
        qty = abs(units)
        rec = _report(pair, txn.ts_ns, cid, "FILLED", (units > 0) - (units < 0))
        rec.update(last_qty=qty, last_price=price, order_qty=qty, cum_qty=qty, realized_pnl_usd=pl)
        rec.update(
            commission_usd=_amount(o, "commission"),
            financing_usd=_amount(o, "financing"),
            half_spread_cost_usd=_amount(o, "halfSpreadCost"),
        )
        sent = self.orders.get(cid) if cid else None
        if sent is not None and sent.pair == pair:
            sent.cum += qty
            leaves = max(sent.qty - sent.cum, 0.0)
            rec.update(order_qty=sent.qty, cum_qty=sent.cum, leaves_qty=leaves, limit_price=sent.limit_price)
            if leaves > 0.5:
                rec["status"] = "PARTIALLY_FILLED"
            else:
                del self.orders[cid]
        return rec

    def _financing(self, txn: Transaction) -> list[dict[str, Any]]:
        out = []
        for p in txn.obj["positionFinancings"]:
            rec = _report(normalize_pair(str(p["instrument"])), txn.ts_ns, "", "FINANCING", 0)
            rec["financing_usd"] = _amount(p, "financing")
            out.append(rec)
        return out

    def _cancel(self, txn: Transaction) -> dict[str, Any]:
        cid = str(txn.obj["clientOrderID"])
        sent = self.orders.pop(cid, None)
        rec = _report(sent.pair if sent else "", txn.ts_ns, cid, "CANCELLED", sent.side if sent else 0)
        rec["reason"] = str(txn.obj.get("reason", ""))
        if sent is not None:
            rec.update(order_qty=sent.qty, cum_qty=sent.cum, limit_price=sent.limit_price)
        return rec

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


def _report(pair: str, ts_ns: int, cid: str, status: str, side: int) -> dict[str, Any]:
    """An ``execution_report.avsc`` record with every quantity and price 0 (the caller fills them in)."""
    return {
        "pair": pair,
        "ts": ts_ns // _NS_PER_MS,
        "client_order_id": cid,
        "status": status,
        "side": side,
        "order_qty": 0.0,
        "last_qty": 0.0,
        "last_price": 0.0,
        "cum_qty": 0.0,
        "leaves_qty": 0.0,
        "limit_price": 0.0,
        "leg": "",
        "reason": "",
        "realized_pnl_usd": 0.0,
        "commission_usd": 0.0,
        "financing_usd": 0.0,
        "half_spread_cost_usd": 0.0,
    }


def _amount(obj: dict[str, Any], name: str) -> float:
    """A v20 account-currency amount (0 when absent).

    Raises
    ------
    ValueError
        Not a finite number.
    """
    x = float(obj.get(name, 0.0))
    if not math.isfinite(x):
        raise ValueError(f"{name} {x} is not an amount")
    return x


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace")

"""The OANDA v20 broker adapter and the order gateway against the local v20 server (loopback HTTP
only): LIMIT orders, rejects, idempotent retries by client-id lookup, cancels, the request rate
limit, and startup reconciliation that blocks trading on seeded mismatches."""

from __future__ import annotations

import time
from typing import Any

from streams.live.endpoint import V20Endpoint
from streams.live.gateway import OrderGateway
from streams.live.oanda_broker import OandaBroker
from streams.live.reconcile import Book
from streams.live.v20_orders import WorkingOrder
from tests.kit.v20_server import V20Server

TS = 1_551_765_660_000


def rec(cid: str = "c1", **kw: Any) -> dict[str, Any]:
    base = {"pair": "GBPUSD", "ts": TS, "client_order_id": cid, "action": "NEW", "side": 1,
            "qty": 10000.0, "limit_price": 1.3, "leg": "entry", "reason": ""}  # fmt: skip
    return {**base, **kw}


def test_order_lifecycle() -> None:
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url), gtd_min=3)
        ack = broker.submit(rec())
        assert ack.state == "PENDING"
        sent = server.order_log[0][1]["order"]
        assert sent["timeInForce"] == "GTD"
        assert sent["clientExtensions"]["id"] == "c1"
        assert broker.lookup("c1").state == "PENDING"
        assert broker.cancel("c1").state == "CANCELLED"
        assert broker.cancel("c1").state == "CANCELLED"  # a second cancel says what became of it
        server.reject_next.append("INSUFFICIENT_MARGIN")
        rej = broker.submit(rec("c2"))
        assert (rej.state, rej.reason) == ("REJECTED", "INSUFFICIENT_MARGIN")


def test_lost_answer_is_not_resent_after_the_lookup_finds_the_order() -> None:
    with V20Server() as server:
        server.drop_next = 1
        broker = OandaBroker(V20Endpoint.local(server.url), timeout_s=1.0)
        ack = broker.submit(rec())
        assert ack.state == "PENDING"
        assert len(server.order_log) == 1  # one POST; the retry was a lookup
        assert [o["state"] for o in server.orders.values()] == ["PENDING"]


def test_retry_after_a_fill_is_caught_by_the_lookup_not_the_broker() -> None:
    with V20Server() as server:
        server.fill_on_create = True
        broker = OandaBroker(V20Endpoint.local(server.url))
        assert broker.submit(rec()).state == "FILLED"
        # the broker accepts a used client id once the first order is filled: only the lookup stops it
        again = broker.submit(rec(), lookup_first=True)
        assert again.state == "FILLED"
        assert len(server.order_log) == 1
        assert server.positions == {"GBP_USD": 10000.0}


def test_duplicate_pending_client_id_is_resolved_by_lookup() -> None:
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        broker.submit(rec())
        assert broker.submit(rec()).state == "PENDING"  # 400 CLIENT_ORDER_ID_ALREADY_EXISTS -> lookup
        assert len(server.orders) == 1


def test_request_rate_stays_within_the_limit() -> None:
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url), per_s=20)
        t0 = time.monotonic()
        for _ in range(30):
            broker.lookup("nothing")
        assert time.monotonic() - t0 >= 0.95  # the 21st request waits for the first to leave the 1 s window


def test_gateway_blocks_on_seeded_mismatches_and_opens_on_agreement() -> None:
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        server.fill_on_create = True
        broker.submit(rec("theirs", pair="USDCAD", qty=2000.0))  # a fill the system never saw
        server.fill_on_create = False
        broker.submit(rec("stranger", pair="USDJPY", limit_price=110.0))  # an order it does not know
        gw = OrderGateway(broker)
        system = Book({"mine": WorkingOrder("mine", "GBPUSD", 10000.0, 1.3)}, {"USDCAD": 3000.0})
        kinds = [m.kind for m in gw.start(system)]
        assert kinds == ["unknown_order", "missing_order", "position"]
        blocked = gw.apply(rec("new1"))
        assert blocked is not None
        assert blocked.state == "BLOCKED"
        assert "stranger" in blocked.reason
        assert len(server.order_log) == 2  # nothing sent while blocked
        assert gw.apply(rec("stranger", action="CANCEL")).state == "CANCELLED"  # cancels pass
        agreed = Book({}, {"USDCAD": 2000.0})
        assert gw.start(agreed) == []
        assert gw.apply(rec("new1")).state == "PENDING"
        assert gw.apply(rec("refused", reason="max_position")) is None


def test_startup_compares_open_trades_with_the_position_and_its_average() -> None:
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        server.fill_on_create = True
        broker.submit(rec("b1", qty=10000.0, limit_price=1.3))
        broker.submit(rec("b2", qty=5000.0, limit_price=1.303))
        gw = OrderGateway(broker)
        # open trades 10000 @ 1.30000 + 5000 @ 1.30300: (13000 + 6515) / 15000 = 1.30100, the trader's average
        assert gw.start(Book({}, {"GBPUSD": 15000.0}, {"GBPUSD": 1.301})) == []
        off = Book({}, {"GBPUSD": 15000.0}, {"GBPUSD": 1.3022})  # 12 pips off: another fill price
        assert gw.start(off) == []  # the price check is off by default
        found = gw.start(off, avg_tol_pips=10.0)
        assert [str(m) for m in found] == [
            "avg_price GBPUSD: open trades' average price 1.301, system's average entry 1.3022 "
            "(12.0 pips apart, tolerance 10)"
        ]
        assert gw.apply(rec("n1")).state == "BLOCKED"
        # selling 8000 closes the oldest trade first (FIFO): 2000 @ 1.30000 + 5000 @ 1.30300 stay open,
        # (2600 + 6515) / 7000 = 1.302143; the trader's average cost stays 1.30100: 11.4 pips apart with
        # nothing wrong (README: the FIFO gap), over a 10-pip tolerance, under a wider one
        broker.submit(rec("s1", side=-1, qty=8000.0, limit_price=1.3045))
        assert [(t["price"], t["currentUnits"]) for t in server.trades] == [
            ("1.30000", "2000"),
            ("1.30300", "5000"),
        ]
        system = Book({}, {"GBPUSD": 7000.0}, {"GBPUSD": 1.301})
        assert gw.start(system) == []  # the price check is off by default
        assert [str(m) for m in gw.start(system, avg_tol_pips=10.0)] == [
            "avg_price GBPUSD: open trades' average price 1.30214, system's average entry 1.301 "
            "(11.4 pips apart, tolerance 10)"
        ]
        assert gw.start(system, avg_tol_pips=12.0) == []
        del server.trades[0]  # the broker's trades no longer add up to the position both sides hold
        assert [str(m) for m in gw.start(system)] == [
            "trades GBPUSD: open trades add up to +5000 units (1 trades), net position +7000"
        ]

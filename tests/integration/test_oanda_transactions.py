"""The OANDA v20 transaction stream against the local v20 server: a line cut mid-way and a reconnect
lose nothing and repeat nothing (``sinceid`` catch-up, duplicates dropped), a silent stream is
detected and reconnected, a heartbeat past the last transaction seen fetches the gap; and through Kafka:
fills and cancels made at the server arrive on ``broker.fills`` as the hand-derived records, a malformed
line on ``quarantine``, transactions before reconciliation are not replayed; the running book check
publishes a HALT for a seeded difference that lasts two checks, not for one that does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from streams.binding.book_check import BookCheck
from streams.binding.kafka_io import Out, ensure_topics, read_to_end
from streams.binding.live import BrokerFills, OrderConsumer
from streams.binding.workers import fresh_namespace
from streams.infra import bootstrap_servers
from streams.live.endpoint import V20Endpoint
from streams.live.feed import FeedStatus
from streams.live.gateway import OrderGateway
from streams.live.health import StreamHealth
from streams.live.oanda_broker import OandaBroker
from streams.live.oanda_transactions import OandaTransactionStream
from streams.live.pacing import Backoff
from streams.live.reconcile import Book, InFlight
from streams.live.v20_orders import WorkingOrder
from streams.live.v20_transactions import SentOrder, Transaction, TransactionSession, TxnHeartbeat
from tests.kit.v20_server import V20Server

pytestmark = pytest.mark.integration

TS = 1_551_765_660_000  # 2019-03-05T06:01:00Z
CLOCK_NS = TS * 10**6 + 2_500_000_123  # every server transaction at 06:01:02.500000123Z
FIRST = 1001  # the local server's first transaction id


def rec(
    cid: str, side: int = 1, qty: float = 10000.0, px: float = 1.3, action: str = "NEW"
) -> dict[str, Any]:
    return {"pair": "GBPUSD", "ts": TS, "client_order_id": cid, "action": action, "side": side, "qty": qty,
            "limit_price": px, "bid": px, "ask": px + 0.0002, "leg": "entry", "reason": ""}  # fmt: skip


class Collector(threading.Thread):
    def __init__(self, stream: OandaTransactionStream) -> None:
        super().__init__(daemon=True)
        self.stream, self.events = stream, list[object]()

    def run(self) -> None:
        for ev in self.stream.events():
            self.events.append(ev)

    def ids(self) -> list[int]:
        return [e.id for e in self.events if isinstance(e, Transaction)]

    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, FeedStatus)]


def wait(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def stream(server: V20Server, since: int, silent_s: float = 2.0) -> Collector:
    c = Collector(
        OandaTransactionStream(
            V20Endpoint.local(server.url),
            since,
            health=StreamHealth(silent_after_s=silent_s),
            backoff=Backoff(initial_s=0.05, cap_s=0.1),
        )
    )
    c.start()
    return c


def test_cut_mid_line_and_reconnect_lose_nothing_and_repeat_nothing() -> None:
    with V20Server(heartbeat_s=0.1) as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        for cid in ("c1", "c2", "c3"):
            broker.submit(rec(cid))  # LIMIT_ORDER 1001, 1002, 1003
        c = stream(server, since=FIRST)  # 1002 and 1003 come from the first catch-up
        wait(lambda: c.ids() == [1002, 1003], "first catch-up")
        wait(lambda: len(server.txn_connection_times) == 1, "first connection")
        # the next connection: 1005 made once its start is fixed, so both streamed and in the catch-up
        server.on_transaction_connect = lambda: (
            server.fill("c2"),
            setattr(server, "on_transaction_connect", None),
        )
        server.cut_transaction_lines = 1
        server.fill("c1")  # 1004: cut mid-line, the connection dropped
        wait(lambda: c.ids()[-1:] == [1005], "fill after the reconnect")
        server.cancel("c3")  # 1006, streamed
        wait(lambda: c.ids()[-1:] == [1006], "cancel on the new connection")
        c.stream.close()
        assert c.ids() == [1002, 1003, 1004, 1005, 1006]
        assert c.stream.duplicates == 1  # 1005: in the catch-up and on the stream
        cut = [e for e in c.events if isinstance(e, FeedStatus) and e.state == "disconnected"][0]
        assert "bytes of an unfinished line dropped" in cut.reason
        kinds = [e.kind for e in c.events if isinstance(e, Transaction)]
        assert kinds == ["LIMIT_ORDER", "LIMIT_ORDER", "ORDER_FILL", "ORDER_FILL", "ORDER_CANCEL"]


def test_silent_stream_is_detected_and_what_happened_meanwhile_is_fetched() -> None:
    with V20Server(heartbeat_s=0.1) as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        server.stall_transaction_streams = 1
        c = stream(server, since=1000, silent_s=0.5)
        wait(lambda: c.states() == ["connected"], "connected")
        broker.submit(rec("c1"))  # 1001, never sent on the stalled connection
        wait(lambda: c.states()[:3] == ["connected", "silent", "connected"], "silent, then reconnected")
        wait(lambda: c.ids() == [1001], "the order made while silent")
        c.stream.close()
        silent = [e for e in c.events if isinstance(e, FeedStatus) and e.state == "silent"][0]
        assert silent.stale
        assert "transaction stream silent: no transaction or heartbeat for" in silent.reason
        assert len(server.txn_connection_times) == 2


def test_heartbeat_past_the_last_transaction_fetches_the_gap() -> None:
    with V20Server(heartbeat_s=0.1) as server:
        c = stream(server, since=1000)
        wait(lambda: any(isinstance(e, TxnHeartbeat) for e in c.events), "streaming (caught up at connect)")
        with server.lock:  # a transaction the stream never sends (only sinceid knows it)
            tid = server.next_id()
            server.transactions.append(
                {"id": tid, "time": "2019-03-05T06:01:02.5Z", "type": "DAILY_FINANCING"}
            )
        wait(lambda: c.ids() == [1001], "gap fetched after a heartbeat")
        c.stream.close()
        assert c.stream.catch_ups == 2  # at connect, then at the heartbeat
        assert c.states() == ["connected", "disconnected"]  # no reconnect needed


def test_broker_fills_on_kafka(services: dict[str, str]) -> None:
    ns, boot = fresh_namespace("txn"), bootstrap_servers()
    ensure_topics(boot, ns)
    out = Out(boot)
    with V20Server(heartbeat_s=0.2) as server:
        server.clock = lambda: CLOCK_NS
        broker = OandaBroker(V20Endpoint.local(server.url))
        server.fill_on_create = True
        broker.submit(rec("before", qty=3000.0))  # 1001 created, 1002 filled: before reconciliation
        server.fill_on_create = False
        gateway = OrderGateway(broker)
        assert gateway.start(Book({}, {"GBPUSD": 3000.0})) == []
        assert broker.last_transaction_id == 1002
        session = TransactionSession()
        fills = BrokerFills(
            out, ns, OandaTransactionStream(broker.endpoint, broker.last_transaction_id), session
        )
        fills.start()
        consumer = OrderConsumer(boot, ns, gateway, on_new=session.expect)
        try:  # what the consumer does with each instruction it reads (Kafka's delivery is tested elsewhere)
            for order in (rec("s1", side=-1, qty=25000.0, px=1.30012), rec("b1", px=1.29871)):
                consumer._apply(order, redelivered=False)
        finally:
            consumer.consumer.close()
        assert [server.orders[c]["state"] for c in ("s1", "b1")] == ["PENDING", "PENDING"]
        server.fill("s1", units="-10000", pl="1.2500")
        server.fill("s1", pl="-0.7500", commission="1.8000", financing="-0.1200", halfSpreadCost="0.9700")
        server.cancel("b1", reason="TIME_IN_FORCE_EXPIRED")
        server.daily_financing({"GBP_USD": "-2.1000", "USD_JPY": "0.1500"})
        server.inject_transaction_line(b'{"id": "2000", "type": "ORDER_FILL", "time": ')
        wait(lambda: fills.published == 5, "five reports published")
        wait(lambda: session.counts.get("bad_line", 0) == 1, "the malformed line handled")
        fills.stop()
    got = read_to_end(boot, "broker.fills", ns).to_records()
    ms = CLOCK_NS // 10**6
    base = {"pair": "GBPUSD", "ts": ms, "leg": "", "realized_pnl_usd": 0.0, "commission_usd": 0.0,
            "financing_usd": 0.0, "half_spread_cost_usd": 0.0}  # fmt: skip
    assert got == [
        {**base, "client_order_id": "s1", "status": "PARTIALLY_FILLED", "side": -1, "order_qty": 25000.0,
         "last_qty": 10000.0, "last_price": 1.30012, "cum_qty": 10000.0, "leaves_qty": 15000.0,
         "limit_price": 1.30012, "reason": "", "realized_pnl_usd": 1.25},
        {**base, "client_order_id": "s1", "status": "FILLED", "side": -1, "order_qty": 25000.0,
         "last_qty": 15000.0, "last_price": 1.30012, "cum_qty": 25000.0, "leaves_qty": 0.0,
         "limit_price": 1.30012, "reason": "", "realized_pnl_usd": -0.75, "commission_usd": 1.8,
         "financing_usd": -0.12, "half_spread_cost_usd": 0.97},
        {**base, "client_order_id": "b1", "status": "CANCELLED", "side": 1, "order_qty": 10000.0,
         "last_qty": 0.0, "last_price": 0.0, "cum_qty": 0.0, "leaves_qty": 0.0, "limit_price": 1.29871,
         "reason": "TIME_IN_FORCE_EXPIRED"},
        {**base, "client_order_id": "", "status": "FINANCING", "side": 0, "order_qty": 0.0, "last_qty": 0.0,
         "last_price": 0.0, "cum_qty": 0.0, "leaves_qty": 0.0, "limit_price": 0.0, "reason": "",
         "financing_usd": -2.1},
        {**base, "pair": "USDJPY", "client_order_id": "", "status": "FINANCING", "side": 0, "order_qty": 0.0,
         "last_qty": 0.0, "last_price": 0.0, "cum_qty": 0.0, "leaves_qty": 0.0, "limit_price": 0.0,
         "reason": "", "financing_usd": 0.15},
    ]  # fmt: skip
    q = read_to_end(boot, "quarantine", ns).to_records()
    assert [(r["stage"], r["payload"]) for r in q] == [
        ("oanda-transactions", '{"id": "2000", "type": "ORDER_FILL", "time": ')
    ]
    assert q[0]["reason"].startswith("not JSON")


def test_running_position_check_halts_on_a_lasting_difference(services: dict[str, str]) -> None:
    ns, boot = fresh_namespace("pos"), bootstrap_servers()
    ensure_topics(boot, ns)
    with V20Server() as server:
        server.fill_on_create = True
        broker = OandaBroker(V20Endpoint.local(server.url))
        broker.submit(rec("f1", qty=10000.0))  # the broker holds +10000 GBPUSD
        system = [Book({}, {}), Book({}, {"GBPUSD": 10000.0}), Book({}, {}), Book({}, {})]  # seen, lost
        check = BookCheck(Out(boot), ns, broker.book, lambda: system[min(check.checks, 3)], 0.05)
        check.start()
        wait(lambda: check.checks >= 5, "five checks")
        check.stop.set()
        check.join(5)
    assert check.halts == [
        "positions differ on 2 consecutive checks: position GBPUSD: broker +10000 units, system +0"
    ]
    control = read_to_end(boot, "control", ns).to_records()
    assert [(r["action"], r["issuer"], r["reason"]) for r in control] == [
        ("HALT", "reconcile", check.halts[0])
    ]


def test_a_refused_transaction_stream_halts_trading(services: dict[str, str]) -> None:
    ns, boot = fresh_namespace("ref"), bootstrap_servers()
    ensure_topics(boot, ns)
    with V20Server() as server:
        ep = V20Endpoint.local(server.url)
        no_account = V20Endpoint(ep.rest_url, ep.stream_url, "", ep.token)  # the server answers 401
        fills = BrokerFills(Out(boot), ns, OandaTransactionStream(no_account, 0), TransactionSession())
        fills.start()
        fills.join(10)
    assert fills.error == "transaction stream refused: HTTP 401"
    control = read_to_end(boot, "control", ns).to_records()
    assert [(r["action"], r["issuer"], r["reason"]) for r in control] == [("HALT", "reconcile", fills.error)]


def _halts(boot: str, ns: str) -> list[tuple[str, str, str]]:
    return [(r["action"], r["issuer"], r["reason"]) for r in read_to_end(boot, "control", ns).to_records()]


def test_running_check_halts_once_on_working_orders_that_differ(services: dict[str, str]) -> None:
    ns, boot = fresh_namespace("wo"), bootstrap_servers()
    ensure_topics(boot, ns)
    with V20Server() as server:
        broker = OandaBroker(V20Endpoint.local(server.url))
        broker.submit(rec("stranger", side=-1, qty=2000.0, px=1.305))  # at the broker, unknown to the trader
        broker.submit(rec("resized", qty=5000.0))  # the trader thinks it works 10000
        mine = {c: WorkingOrder(c, "GBPUSD", 10000.0, 1.3) for c in ("gone", "resized")}  # "gone": never sent
        system = Book(mine, {}, as_of=TS)
        check = BookCheck(Out(boot), ns, broker.book, lambda: system, 0.05)
        check.start()
        wait(lambda: check.checks >= 5, "five checks")
        check.stop.set()
        check.join(5)
    reason = (
        "working orders differ on 2 consecutive checks: order_differs GBPUSD: resized: broker +5000 @ 1.3, "
        "system +10000 @ 1.3; unknown_order GBPUSD: broker holds stranger (-2000 @ 1.305) the system does "
        "not know; missing_order GBPUSD: system's working order gone (+10000) is not at the broker (filled "
        "or cancelled unseen)"
    )
    assert check.halts == [reason]
    assert _halts(boot, ns) == [("HALT", "reconcile", reason)]


def test_running_check_leaves_orders_in_flight_alone(services: dict[str, str]) -> None:
    """Orders sent, cancelled and filled after the trader's checkpoint (the gateway's acks and the
    broker's fills touch them) never alarm; once the checkpoint is past them and the trader's book
    still disagrees, the difference is real and halts."""
    ns, boot = fresh_namespace("fly"), bootstrap_servers()
    ensure_topics(boot, ns)
    with V20Server(heartbeat_s=0.2) as server:
        server.clock = lambda: CLOCK_NS  # the broker's fill at TS + 2.5 s
        broker = OandaBroker(V20Endpoint.local(server.url))
        gateway = OrderGateway(broker)
        broker.submit(rec("old"))  # working before; the trader will cancel it
        broker.submit(rec("f1"))  # working before; the broker will fill it
        system = {"book": Book({c: WorkingOrder(c, "GBPUSD", 10000.0, 1.3) for c in ("old", "f1")},
                               {"GBPUSD": 10000.0}, as_of=TS - 60_000)}  # fmt: skip
        assert gateway.start(Book(system["book"].orders, {})) == []
        check = BookCheck(Out(boot), ns, broker.book, lambda: system["book"], 0.05, in_flight=InFlight(0))
        session = TransactionSession({c: SentOrder("GBPUSD", 1, 10000.0, 1.3) for c in ("old", "f1")})
        fills = BrokerFills(
            Out(boot), ns, OandaTransactionStream(broker.endpoint, broker.last_transaction_id), session,
            on_report=check.touch,
        )  # fmt: skip
        fills.start()
        consumer = OrderConsumer(
            boot, ns, gateway, on_ack=lambda r, _: check.touch(r["client_order_id"], r["ts"])
        )
        try:  # instructions decided at TS, after the trader's checkpoint at TS - 1 min
            consumer._apply(rec("n1"), redelivered=False)
            consumer._apply(rec("old", action="CANCEL"), redelivered=False)
        finally:
            consumer.consumer.close()
        server.fill("f1")
        wait(lambda: fills.published == 2, "the cancel and the fill reported")
        assert sorted(check.in_flight.touched) == ["f1", "n1", "old"]
        check.start()
        wait(lambda: check.checks >= 5, "five checks")
        assert check.halts == []
        system["book"] = Book(system["book"].orders, {"GBPUSD": 10000.0}, as_of=TS + 60_000)  # still stale
        wait(lambda: check.checks >= 8, "three more checks")
        check.stop.set()
        check.join(5)
        fills.stop()
    assert [h.split(": ", 1)[0] for h in check.halts] == ["working orders differ on 2 consecutive checks"]
    assert [m.split(":")[0] for m in check.halts[0].split(": ", 1)[1].split("; ")] == [
        "unknown_order GBPUSD", "missing_order GBPUSD", "missing_order GBPUSD"
    ]  # fmt: skip
    assert ("n1" in check.halts[0], "f1 (" in check.halts[0], "old (" in check.halts[0]) == (True, True, True)
    assert [a for a, *_ in _halts(boot, ns)] == ["HALT"]

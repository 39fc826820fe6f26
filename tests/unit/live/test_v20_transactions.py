"""v20 transactions -> execution reports, from hand-written transaction JSON in the documented format
(values derived by hand: 2019-03-05T06:01:00Z is 1_551_765_660 s)."""

from __future__ import annotations

import json
from typing import Any

from streams.core.topics import TOPICS
from streams.live.quotes import BadLine
from streams.live.v20_transactions import (
    Transaction,
    TransactionSession,
    TxnHeartbeat,
    parse_transaction_line,
)
from streams.serde.avro import AvroCodec

T0 = "2019-03-05T06:01:02.123456789Z"  # -> 1_551_765_662_123 ms (ns digits truncated, not rounded)
MS = 1_551_765_662_123


def fill(units: str, cid: str | None = "c1", **kw: Any) -> bytes:
    obj: dict[str, Any] = {"id": "6368", "time": T0, "userID": 1, "accountID": "101-001-1-001",
        "batchID": "6367", "requestID": "60500", "type": "ORDER_FILL", "orderID": "6367",
        "instrument": "GBP_USD", "units": units, "price": "1.30012", "fullVWAP": "1.30012",
        "pl": "12.3400", "financing": "0.0000", "commission": "0.0000", "reason": "LIMIT_ORDER",
        "tradeOpened": {"tradeID": "6368", "units": units, "price": "1.30012"}}  # fmt: skip
    if cid is not None:
        obj["clientOrderID"] = cid
    return json.dumps({**obj, **kw}).encode()


def txn(line: bytes) -> Transaction:
    ev = parse_transaction_line(line)
    assert isinstance(ev, Transaction)
    return ev


def sell_25k() -> TransactionSession:
    s = TransactionSession()
    s.expect({"client_order_id": "c1", "pair": "GBPUSD", "side": -1, "qty": 25000.0, "limit_price": 1.30012})
    return s


def test_partial_then_full_fill_of_our_order() -> None:
    s = sell_25k()
    first = s.handle(txn(fill("-10000")), 0).reports
    assert first == [
        {"pair": "GBPUSD", "ts": MS, "client_order_id": "c1", "status": "PARTIALLY_FILLED", "side": -1,
         "order_qty": 25000.0, "last_qty": 10000.0, "last_price": 1.30012, "cum_qty": 10000.0,
         "leaves_qty": 15000.0, "limit_price": 1.30012, "leg": "", "reason": "", "realized_pnl_usd": 12.34,
         "commission_usd": 0.0, "financing_usd": 0.0, "half_spread_cost_usd": 0.0}
    ]  # fmt: skip
    second = s.handle(txn(fill("-15000", pl="-3.5000")), 0).reports[0]
    assert (second["status"], second["last_qty"], second["cum_qty"], second["leaves_qty"]) == (
        "FILLED",
        15000.0,
        25000.0,
        0.0,
    )
    assert second["realized_pnl_usd"] == -3.5
    assert "c1" not in s.orders  # done: a later fill of the same id would be an unknown order's


def test_fills_of_orders_the_gateway_did_not_send() -> None:
    s = TransactionSession()
    unknown = s.handle(txn(fill("7000", cid="old-run")), 0).reports[0]
    assert (unknown["client_order_id"], unknown["side"], unknown["status"]) == ("old-run", 1, "FILLED")
    assert (unknown["order_qty"], unknown["cum_qty"], unknown["leaves_qty"], unknown["limit_price"]) == (
        7000.0,
        7000.0,
        0.0,
        0.0,
    )
    stop_out = s.handle(txn(fill("-7000", cid=None, reason="STOP_LOSS_ORDER")), 0).reports[0]
    assert (stop_out["client_order_id"], stop_out["side"], stop_out["last_qty"]) == ("", -1, 7000.0)


def test_fill_price_falls_back_to_full_vwap_and_jpy_names_map() -> None:
    line = json.loads(fill("3000", instrument="USD_JPY", fullVWAP="111.512"))
    del line["price"]
    rec = TransactionSession().handle(txn(json.dumps(line).encode()), 0).reports[0]
    assert (rec["pair"], rec["last_price"]) == ("USDJPY", 111.512)


def test_cancels_of_our_orders_carry_the_brokers_reason() -> None:
    s = sell_25k()
    s.handle(txn(fill("-10000")), 0)
    cancel = {"id": "6370", "time": "2019-03-05T06:04:00.000000001Z", "accountID": "101-001-1-001",
              "batchID": "6370", "type": "ORDER_CANCEL", "orderID": "6367", "clientOrderID": "c1",
              "reason": "TIME_IN_FORCE_EXPIRED"}  # fmt: skip
    rec = s.handle(txn(json.dumps(cancel).encode()), 0).reports[0]
    assert rec["ts"] == 1_551_765_840_000
    assert (rec["status"], rec["reason"], rec["side"]) == ("CANCELLED", "TIME_IN_FORCE_EXPIRED", -1)
    assert (rec["order_qty"], rec["cum_qty"], rec["leaves_qty"], rec["last_qty"]) == (
        25000.0,
        10000.0,
        0.0,
        0.0,
    )
    not_ours = {**cancel, "id": "6371"}
    del not_ours["clientOrderID"]
    assert s.handle(txn(json.dumps(not_ours).encode()), 0).reports == []
    assert s.counts["ignored:ORDER_CANCEL"] == 1


def test_other_types_are_counted_and_ignored() -> None:
    s = TransactionSession()
    for kind in ("LIMIT_ORDER", "TRANSFER_FUNDS", "LIMIT_ORDER"):
        line = json.dumps({"id": "1", "time": T0, "type": kind}).encode()
        assert s.handle(txn(line), 0).reports == []
    assert (s.counts["ignored:LIMIT_ORDER"], s.counts["ignored:TRANSFER_FUNDS"]) == (2, 1)


def test_a_fills_commission_financing_and_half_spread_cost_are_carried() -> None:
    rec = sell_25k().handle(
        txn(fill("-10000", commission="1.5000", financing="-0.2500", halfSpreadCost="0.6500")), 0
    )
    r = rec.reports[0]
    assert (r["commission_usd"], r["financing_usd"], r["half_spread_cost_usd"]) == (1.5, -0.25, 0.65)
    assert r["realized_pnl_usd"] == 12.34  # the trade's pl apart from its costs
    bad = sell_25k().handle(txn(fill("-10000", commission="NaN")), 0)
    assert bad.reports == []
    assert bad.quarantine[0]["reason"] == "bad ORDER_FILL: ValueError('commission nan is not an amount')"


def test_daily_financing_becomes_one_report_per_pair() -> None:
    obj = {"id": "7001", "time": "2019-03-05T21:00:00.000000000Z", "type": "DAILY_FINANCING",
           "accountID": "101-001-1-001", "financing": "-1.9500", "accountBalance": "99998.0500",
           "accountFinancingMode": "DAILY", "positionFinancings": [
               {"instrument": "GBP_USD", "financing": "-2.1000", "openTradeFinancings": []},
               {"instrument": "USD_JPY", "financing": "0.1500", "openTradeFinancings": []}]}  # fmt: skip
    reports = TransactionSession().handle(txn(json.dumps(obj).encode()), 0).reports
    ts = 1_551_819_600_000  # 2019-03-05T21:00:00Z
    assert [(r["pair"], r["ts"], r["status"], r["client_order_id"], r["side"], r["financing_usd"], r["last_qty"])
            for r in reports] == [("GBPUSD", ts, "FINANCING", "", 0, -2.1, 0.0),
                                  ("USDJPY", ts, "FINANCING", "", 0, 0.15, 0.0)]  # fmt: skip
    del obj["positionFinancings"]
    q = TransactionSession().handle(txn(json.dumps(obj).encode()), 0).quarantine
    assert q[0]["reason"] == "bad DAILY_FINANCING: KeyError('positionFinancings')"


def test_malformed_lines_and_fills_are_quarantined_with_the_reason() -> None:
    s = TransactionSession()
    assert parse_transaction_line(b"  \n") is None
    bad = parse_transaction_line(b'{"id": "5", "type": "ORDER_FI')
    assert isinstance(bad, BadLine)
    q = s.handle(bad, 777).quarantine
    assert (q[0]["stage"], q[0]["ts"], q[0]["payload"]) == (
        "oanda-transactions",
        777,
        '{"id": "5", "type": "ORDER_FI',
    )
    assert "not JSON" in q[0]["reason"]
    no_id = parse_transaction_line(json.dumps({"type": "ORDER_FILL", "time": T0}).encode())
    assert isinstance(no_id, BadLine)
    assert "'id'" in no_id.reason
    pub = s.handle(txn(fill("abc")), 0)
    assert pub.reports == []
    assert pub.quarantine[0]["ts"] == MS
    assert pub.quarantine[0]["reason"].startswith("bad ORDER_FILL: ValueError")
    zero = s.handle(txn(fill("0")), 0).quarantine[0]
    assert "do not make a fill" in zero["reason"]


def test_heartbeat_and_the_schema() -> None:
    hb = parse_transaction_line(
        b'{"type":"HEARTBEAT","lastTransactionID":"6368","time":"' + T0.encode() + b'"}'
    )
    assert hb == TxnHeartbeat(6368, MS * 10**6 + 456_789)
    rec = sell_25k().handle(txn(fill("-10000")), 0).reports[0]
    codec = AvroCodec(TOPICS["broker.fills"].schema)
    assert codec.decode(codec.encode(rec)) == rec

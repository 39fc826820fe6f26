"""Our instructions -> v20 order bodies, v20 answers -> acks, and startup reconciliation with seeded
mismatches (an order the system does not know, a fill it missed, a position of the wrong size)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streams.live.reconcile import Book, reconcile
from streams.live.v20_orders import (
    WorkingOrder,
    net_positions,
    order_request,
    parse_create,
    parse_order,
    price_text,
    working_orders,
)

TS = 1_551_765_660_000  # 2019-03-05T06:01:00Z


def rec(**kw: Any) -> dict[str, Any]:
    base = {"pair": "GBPUSD", "ts": TS, "client_order_id": "a1b2c3", "action": "NEW", "side": 1,
            "qty": 10000.0, "limit_price": 1.300037, "leg": "entry", "reason": ""}  # fmt: skip
    return {**base, **kw}


def test_limit_order_body() -> None:
    assert order_request(rec()) == {
        "order": {
            "type": "LIMIT",
            "instrument": "GBP_USD",
            "units": "10000",
            "price": "1.30003",  # a buy rounds down: never pay more than the router chose
            "timeInForce": "GTC",
            "positionFill": "DEFAULT",
            "clientExtensions": {"id": "a1b2c3", "tag": "hslr", "comment": "entry"},
        }
    }
    sell = order_request(rec(side=-1, pair="USDJPY", limit_price=111.5231), gtd_min=5)["order"]
    assert (sell["units"], sell["price"], sell["timeInForce"]) == ("-10000", "111.524", "GTD")
    assert sell["gtdTime"] == "2019-03-05T06:06:00.000000000Z"


def test_price_rounding_is_exact_on_the_grid() -> None:
    assert price_text("EURUSD", 1.1, 1) == "1.10000"
    assert price_text("EURUSD", 1.1, -1) == "1.10000"
    assert price_text("EURJPY", 125.0004, -1) == "125.001"


@pytest.mark.parametrize(
    ("bad", "match"),
    [({"action": "CANCEL"}, "only NEW"), ({"qty": 0.0}, "is not an order"), ({"qty": 10.5}, "is not an order"),
     ({"limit_price": math.nan}, "not a price")],
)  # fmt: skip
def test_bad_instructions_raise(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        order_request(rec(**bad))


def test_parse_answers() -> None:
    assert parse_create("c", 201, {"orderCreateTransaction": {"id": "7"}}).state == "PENDING"
    filled = parse_create("c", 201, {"orderCreateTransaction": {"id": "7"},
                                     "orderFillTransaction": {"units": "-100", "price": "1.2"}})  # fmt: skip
    assert (filled.state, filled.filled_units, filled.fill_price) == ("FILLED", -100.0, 1.2)
    cancelled = parse_create("c", 201, {"orderCreateTransaction": {"id": "7"},
                                        "orderCancelTransaction": {"reason": "MARKET_HALTED"}})  # fmt: skip
    assert (cancelled.state, cancelled.reason) == ("CANCELLED", "MARKET_HALTED")
    rej = parse_create("c", 400, {"orderRejectTransaction": {"rejectReason": "PRICE_PRECISION_EXCEEDED"},
                                  "errorCode": "PRICE_PRECISION_EXCEEDED"})  # fmt: skip
    assert (rej.state, rej.reason) == ("REJECTED", "PRICE_PRECISION_EXCEEDED")
    assert parse_order("c", 404, {"errorCode": "ORDER_DOESNT_EXIST"}).state == "NOT_FOUND"
    assert parse_order("c", 200, {"order": {"id": "7", "state": "FILLED", "units": "5"}}).filled_units == 5.0


def test_broker_book_parsing() -> None:
    orders = working_orders({"orders": [
        {"id": "9", "instrument": "GBP_USD", "units": "-500", "price": "1.3", "clientExtensions": {"id": "x"}},
        {"id": "10", "instrument": "USD_JPY", "units": "100", "price": "111"},
        {"id": "11", "type": "TAKE_PROFIT", "tradeID": "3", "price": "1.4"},
    ]})  # fmt: skip
    assert orders == {
        "x": WorkingOrder("x", "GBPUSD", -500.0, 1.3),
        "broker:10": WorkingOrder("broker:10", "USDJPY", 100.0, 111.0),
    }
    assert net_positions({"positions": [
        {"instrument": "GBP_USD", "long": {"units": "3000"}, "short": {"units": "-1000"}},
        {"instrument": "USD_JPY", "long": {"units": "0"}, "short": {"units": "0"}},
    ]}) == {"GBPUSD": 2000.0}  # fmt: skip


W = WorkingOrder("ours", "GBPUSD", 10000.0, 1.3)


def test_agreeing_books_reconcile() -> None:
    assert reconcile(Book({"ours": W}, {"USDJPY": -5000.0}), Book({"ours": W}, {"USDJPY": -5000.0})) == []


def test_seeded_mismatches_each_give_a_reason() -> None:
    stranger = WorkingOrder("broker:77", "USDJPY", 1000.0, 110.0)
    # the broker: our order was filled while we were away (no longer working, position +10000), it
    # holds an order we never placed, and USDCAD is 2000 units where we think 3000
    broker = Book({"broker:77": stranger}, {"GBPUSD": 10000.0, "USDCAD": 2000.0})
    system = Book({"ours": W}, {"USDCAD": 3000.0})
    found = [(m.kind, m.pair) for m in reconcile(broker, system)]
    assert found == [
        ("unknown_order", "USDJPY"),
        ("missing_order", "GBPUSD"),
        ("position", "GBPUSD"),
        ("position", "USDCAD"),
    ]
    text = [str(m) for m in reconcile(broker, system)]
    assert "broker +2000 units, system +3000" in text[3]


def test_same_id_other_size_differs() -> None:
    other = WorkingOrder("ours", "GBPUSD", 20000.0, 1.3)
    assert [m.kind for m in reconcile(Book({"ours": other}, {}), Book({"ours": W}, {}))] == ["order_differs"]


def test_broker_rounding_of_the_price_is_no_mismatch() -> None:
    sent = WorkingOrder("j", "USDJPY", -1000.0, 111.524)  # the broker holds the price at 3 decimals
    mine = WorkingOrder("j", "USDJPY", -1000.0, 111.5231)
    assert reconcile(Book({"j": sent}, {}), Book({"j": mine}, {})) == []
    moved = WorkingOrder("j", "USDJPY", -1000.0, 111.526)
    assert [m.kind for m in reconcile(Book({"j": moved}, {}), Book({"j": mine}, {}))] == ["order_differs"]

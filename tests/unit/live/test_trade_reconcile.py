"""Trade-level reconciliation at startup: the broker's open trades (``GET /openTrades``) must add up to
the net position both sides agree on, and their units-weighted price must be within a tolerance of the
trader's average entry price (hand-derived values)."""

from __future__ import annotations

import math

import pytest

from streams.live.reconcile import Book, reconcile
from streams.live.v20_orders import OpenTrades, open_trades

BODY = {
    "trades": [
        {"id": "11", "instrument": "GBP_USD", "price": "1.30000", "currentUnits": "10000", "initialUnits": "10000"},
        {"id": "14", "instrument": "GBP_USD", "price": "1.30300", "currentUnits": "5000", "initialUnits": "8000"},
        {"id": "15", "instrument": "USD_JPY", "price": "110.000", "currentUnits": "-2000", "initialUnits": "-2000"},
        {"id": "16", "instrument": "USD_JPY", "price": "110.100", "currentUnits": "0", "initialUnits": "-500"},
    ],
    "lastTransactionID": "20",
}  # fmt: skip
# GBPUSD: (10000 x 1.30000 + 5000 x 1.30300) / 15000 = (13000 + 6515) / 15000 = 1.30100
TRADES = open_trades(BODY)
BROKER = Book({}, {"GBPUSD": 15000.0, "USDJPY": -2000.0}, trades=TRADES)


def system(gbp_avg: float = 1.301, gbp: float = 15000.0) -> Book:
    return Book({}, {"GBPUSD": gbp, "USDJPY": -2000.0}, {"GBPUSD": gbp_avg, "USDJPY": 110.0})


def test_open_trades_add_up_per_pair() -> None:
    assert set(TRADES) == {"GBPUSD", "USDJPY"}
    g = TRADES["GBPUSD"]
    assert (g.units, g.long_units, g.short_units, g.count) == (15000.0, 15000.0, 0.0, 2)
    assert g.avg_price == pytest.approx(1.301, abs=1e-12)
    j = TRADES["USDJPY"]  # a closed trade (0 units left) does not count
    assert (j.units, j.short_units, j.count, j.avg_price) == (-2000.0, -2000.0, 1, 110.0)


def test_agreeing_trades_and_average_pass() -> None:
    assert reconcile(BROKER, system()) == []
    assert reconcile(BROKER, system(gbp_avg=1.30115), avg_tol_pips=10) == []  # 1.5 pips: within 10


def test_an_average_price_beyond_the_tolerance_blocks() -> None:
    assert reconcile(BROKER, system(gbp_avg=1.3022)) == []  # the price check is off by default (FIFO)
    found = reconcile(BROKER, system(gbp_avg=1.3022), avg_tol_pips=10)  # 12 pips from 1.30100
    assert [(m.kind, m.pair) for m in found] == [("avg_price", "GBPUSD")]
    assert str(found[0]) == (
        "avg_price GBPUSD: open trades' average price 1.301, system's average entry 1.3022 "
        "(12.0 pips apart, tolerance 10)"
    )
    assert reconcile(BROKER, system(gbp_avg=1.3022), avg_tol_pips=12.5) == []


def test_trades_that_do_not_add_up_to_the_agreed_position_block() -> None:
    short = Book({}, {"GBPUSD": 25000.0, "USDJPY": -2000.0}, trades=TRADES)  # a trade missing from the list
    found = reconcile(short, system(gbp=25000.0))
    assert [str(m) for m in found] == [
        "trades GBPUSD: open trades add up to +15000 units (2 trades), net position +25000"
    ]
    stray = Book({}, {}, trades={"AUDUSD": OpenTrades(1000.0, 1000.0, 0.0, 1, 0.7)})  # no position anywhere
    assert [str(m) for m in reconcile(stray, Book({}, {}))] == [
        "trades AUDUSD: open trades add up to +1000 units (1 trades), net position +0"
    ]


def test_a_position_difference_is_reported_once_not_again_as_trades() -> None:
    found = reconcile(BROKER, system(gbp=20000.0))
    assert [str(m) for m in found] == ["position GBPUSD: broker +15000 units, system +20000"]


def test_long_and_short_trades_in_one_pair_block() -> None:
    hedged = open_trades({"trades": [
        {"id": "1", "instrument": "GBP_USD", "price": "1.3", "currentUnits": "3000"},
        {"id": "2", "instrument": "GBP_USD", "price": "1.31", "currentUnits": "-1000"},
    ]})  # fmt: skip
    assert hedged["GBPUSD"].units == 2000.0
    found = reconcile(
        Book({}, {"GBPUSD": 2000.0}, trades=hedged), Book({}, {"GBPUSD": 2000.0}, {"GBPUSD": 1.3})
    )
    assert [str(m) for m in found] == [
        "trades GBPUSD: open trades long +3000 and short -1000 units (hedging)"
    ]


def test_without_trades_or_a_system_average_nothing_is_compared() -> None:
    assert reconcile(Book({}, {"GBPUSD": 15000.0}), Book({}, {"GBPUSD": 15000.0}, {"GBPUSD": 9.9})) == []
    assert reconcile(BROKER, Book({}, {"GBPUSD": 15000.0, "USDJPY": -2000.0})) == []  # no averages given
    assert math.isnan(OpenTrades().avg_price)


def test_an_unreadable_trade_is_an_error_with_its_id() -> None:
    with pytest.raises(ValueError, match=r"open trade 9 unreadable: KeyError .currentUnits."):
        open_trades({"trades": [{"id": "9", "instrument": "GBP_USD", "price": "1.3"}]})

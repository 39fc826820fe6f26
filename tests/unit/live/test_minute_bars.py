"""Quotes -> 1-minute bars: hand-derived OHLC, mid and spread statistics; close at minute end + grace."""

from __future__ import annotations

import numpy as np
import pytest

from streams.live.minute_bars import MINUTE_NS, MinuteBars, bar_columns
from streams.live.quotes import Quote

M = 1_551_765_600 * 10**9  # 2019-03-05T06:00:00Z, a minute boundary (1551765600 = 25862760 * 60)
S = 10**9


def q(pair: str, t_s: float, bid: float, ask: float, tradeable: bool = True) -> Quote:
    return Quote(pair, M + int(round(t_s * S)), bid, ask, tradeable)


def test_one_minute_by_hand() -> None:
    agg = MinuteBars(grace_ms=500)
    for quote in [
        q("GBPUSD", 1.0, 1.3000, 1.3002),
        q("GBPUSD", 30.0, 1.3010, 1.3013),
        q("GBPUSD", 10.0, 1.2990, 1.2991),  # out of order: neither open nor close
        q("USDJPY", 5.0, 111.50, 111.52),
    ]:
        assert agg.add(quote)
    assert agg.advance(M + 60 * S) == ([], None)  # the minute has ended, its grace has not
    assert agg.add(q("GBPUSD", 59.9, 1.3005, 1.3009))  # late by 0.1 s but inside the grace
    assert agg.advance(M + int(60.4 * S)) == ([], None)
    bars, wm = agg.advance(M + int(60.5 * S))
    assert wm == M // 10**6
    assert [(b.pair, b.ts) for b in bars] == [("GBPUSD", M // 10**6), ("USDJPY", M // 10**6)]
    g, j = bars
    assert (g.open, g.high, g.low, g.close, g.ticks) == (1.3000, 1.3010, 1.2990, 1.3005, 4)
    assert g.mid_open == pytest.approx(1.3001)
    assert g.mid_high == pytest.approx(1.30115)
    assert g.mid_low == pytest.approx(1.29905)
    assert g.mid_close == pytest.approx(1.3007)
    assert g.spread_mean == pytest.approx((0.0002 + 0.0003 + 0.0001 + 0.0004) / 4)
    assert g.spread_max == pytest.approx(0.0004)
    assert g.spread_last == pytest.approx(0.0004)
    assert (j.open, j.high, j.low, j.close, j.ticks) == (111.50, 111.50, 111.50, 111.50, 1)
    assert j.spread_last == pytest.approx(0.02)


def test_late_quote_after_publication_is_counted_not_published() -> None:
    agg = MinuteBars(grace_ms=500)
    agg.add(q("GBPUSD", 1.0, 1.3, 1.3002))
    bars, _ = agg.advance(M + 61 * S)
    assert len(bars) == 1
    assert not agg.add(q("GBPUSD", 59.95, 1.2, 1.2002))
    assert agg.late == 1
    assert agg.advance(M + 200 * S)[0] == []


def test_empty_minutes_are_absent_but_watermarks_advance() -> None:
    agg = MinuteBars(grace_ms=0)
    agg.add(q("GBPUSD", 61.0, 1.3, 1.3002))  # minute M+60 only
    bars, wm = agg.advance(M + 300 * S)  # e.g. a heartbeat's time
    assert [(b.pair, b.ts) for b in bars] == [("GBPUSD", (M + MINUTE_NS) // 10**6)]
    assert wm == (M + 240 * S) // 10**6  # minutes M+120..M+240 had no quote: no bar, still closed


def test_untradeable_quotes_make_no_bar() -> None:
    agg = MinuteBars()
    assert not agg.add(q("GBPUSD", 1.0, 1.3, 1.3002, tradeable=False))
    assert agg.untradeable == 1
    assert agg.advance(M + 120 * S)[0] == []


def test_quote_time_drives_the_clock() -> None:
    agg = MinuteBars(grace_ms=500)
    agg.add(q("GBPUSD", 1.0, 1.3, 1.3002))
    agg.add(q("USDJPY", 60.6, 111.0, 111.02))  # the next minute's quote closes the first
    bars, wm = agg.advance(0)
    assert [b.pair for b in bars] == ["GBPUSD"]
    assert wm == M // 10**6


def test_bar_columns_follow_the_bar_schema() -> None:
    agg = MinuteBars(grace_ms=0)
    agg.add(q("GBPUSD", 1.0, 1.3000, 1.3002))
    agg.add(q("GBPUSD", 2.0, 1.3001, 1.3004))
    bars, _ = agg.advance(M + 60 * S)
    cols = bar_columns(bars, "live:oanda")
    assert list(cols) == [
        "pair",
        "ts",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "spread",
        "spread_modeled",
        "source",
    ]
    assert cols["spread"][0] == pytest.approx(0.0003)
    assert cols["volume"][0] == 0.0  # the bid-path proxy of tick velocity, as in training
    assert bar_columns(bars, "live:oanda", tick_volume=True)["volume"][0] == 2.0
    assert not cols["spread_modeled"][0]
    assert bar_columns([], "x")["ts"].dtype == np.int64

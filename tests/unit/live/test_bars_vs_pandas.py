"""The aggregator against a second method: pandas first/max/min/last per (minute, pair) over the same
stream lines, also when quotes arrive shuffled within a second (out of order, inside the grace)."""

from __future__ import annotations

import numpy as np

from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.live.minute_bars import MinuteBars, bar_columns
from streams.live.quotes import Quote, parse_line
from tests.kit.v20_quotes import expected_bars, lines, quotes_for_bars


def _aggregate(events: list[Quote], end_ns: int) -> Batch:
    agg = MinuteBars(grace_ms=1000)
    out = []
    for ev in events:
        agg.add(ev)
        out += agg.advance(ev.ts_ns)[0]
    out += agg.advance(end_ns)[0]
    assert agg.late == 0
    return Batch(bar_columns(out, "live:oanda"))


def test_aggregator_equals_pandas_and_the_source_bars() -> None:
    bars = Batch(
        generate_market(["GBPUSD", "USDJPY", "EURCHF"], "2020-02-04T10:00", "2020-02-04T10:30", 3).bars
    )
    quotes = quotes_for_bars(bars, per_minute=30)
    events = [parse_line(x) for x in lines(quotes)]
    assert all(isinstance(e, Quote) for e in events)
    want = expected_bars(quotes, "live:oanda")
    end = int(quotes["ts_ns"].max()) + 120 * 10**9
    assert _aggregate(events, end).equals(want)  # type: ignore[arg-type]
    # the quotes rebuild the generator's bars (spread up to float arithmetic)
    for k in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(want[k], bars[k])
    np.testing.assert_allclose(want["spread"], bars["spread"], rtol=0, atol=1e-12)
    # shuffled within each second: arrival order differs, bars do not
    rng = np.random.default_rng(4)
    sec = quotes["ts_ns"].to_numpy() // 10**9
    order = np.lexsort((rng.random(len(sec)), sec))
    assert not np.array_equal(order, np.arange(len(sec)))
    assert _aggregate([events[i] for i in order], end).equals(want)  # type: ignore[misc]

"""Quotes -> closed 1-minute bars (pure: time comes from the stream, never from a clock).

A bar of minute ``m`` covers quotes with ``m <= t < m + 60 s`` (``ts`` = the minute's open, ms UTC):

* bid OHLC: the bid of the earliest quote, the highest and lowest bid, the bid of the latest quote:
  the definition of the HistData/FXCM bid bars the models were trained on. Quotes are ordered by their
  own time, so a quote that arrives out of order still lands in its minute's open/close correctly.
* mid OHLC the same way over ``(bid + ask) / 2``; ``ticks``: the number of quotes in the minute.
* spread (ask - bid, price units): mean over the minute's quotes (quote-weighted), max, and last (the
  spread of the latest quote: the ``spread`` of ``schemas/bar.avsc``, "ask minus bid at the close").

A minute is published once the stream's clock (the latest quote or heartbeat time) passes
``m + 60 s + grace``; a quote for an already published minute is late and counted, never re-published.
Minutes without a quote are absent, as in HistData. Non-tradeable quotes (market closed or halted) make
no bar. After each close :meth:`MinuteBars.advance` also returns the watermark "no bar at or before
``m`` follows" the pipeline understands (``streams/binding/kafka_io.publish_watermark``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.live.quotes import Quote

MINUTE_NS = 60_000_000_000
_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class LiveBar:
    """One closed minute of one pair (prices in quote currency per base, ``ts`` in ms UTC)."""

    pair: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    mid_open: float
    mid_high: float
    mid_low: float
    mid_close: float
    ticks: int
    spread_mean: float
    spread_max: float
    spread_last: float


@dataclass(slots=True)
class _Open:
    first_ns: int
    last_ns: int
    open: float
    high: float
    low: float
    close: float
    mid_open: float
    mid_high: float
    mid_low: float
    mid_close: float
    spread_sum: float
    spread_max: float
    spread_last: float
    ticks: int = 1

    @classmethod
    def start(cls, q: Quote) -> _Open:
        mid, spr = 0.5 * (q.bid + q.ask), q.ask - q.bid
        return cls(q.ts_ns, q.ts_ns, q.bid, q.bid, q.bid, q.bid, mid, mid, mid, mid, spr, spr, spr)

    def add(self, q: Quote) -> None:
        mid, spr = 0.5 * (q.bid + q.ask), q.ask - q.bid
        if q.ts_ns < self.first_ns:
            self.first_ns, self.open, self.mid_open = q.ts_ns, q.bid, mid
        if q.ts_ns >= self.last_ns:
            self.last_ns, self.close, self.mid_close, self.spread_last = q.ts_ns, q.bid, mid, spr
        self.high, self.low = max(self.high, q.bid), min(self.low, q.bid)
        self.mid_high, self.mid_low = max(self.mid_high, mid), min(self.mid_low, mid)
        self.spread_sum += spr
        self.spread_max = max(self.spread_max, spr)
        self.ticks += 1

    def bar(self, pair: str, minute_ns: int) -> LiveBar:
        return LiveBar(
            pair, minute_ns // _MS, self.open, self.high, self.low, self.close,
            self.mid_open, self.mid_high, self.mid_low, self.mid_close,
            self.ticks, self.spread_sum / self.ticks, self.spread_max, self.spread_last,
        )  # fmt: skip


@dataclass
class MinuteBars:
    """The aggregator. ``grace_ms``: how long after a minute's end late quotes are still taken."""

    grace_ms: int = 500
    clock_ns: int = 0
    closed_through_ns: int | None = None
    """Open time of the last closed minute (every minute at or before it is closed); before the first
    quote None: nothing is closed, no watermark is sent for minutes before the feed started."""
    late: int = 0
    untradeable: int = 0
    _open: dict[tuple[int, str], _Open] = field(default_factory=dict)

    def add(self, q: Quote) -> bool:
        """Take a quote; False (and counted) when it is late or not tradeable. Advances the clock."""
        self.clock_ns = max(self.clock_ns, q.ts_ns)
        if not q.tradeable:
            self.untradeable += 1
            return False
        minute = q.ts_ns - q.ts_ns % MINUTE_NS
        if self.closed_through_ns is None:
            self.closed_through_ns = minute - MINUTE_NS
        if minute <= self.closed_through_ns:
            self.late += 1
            return False
        cur = self._open.get((minute, q.pair))
        if cur is None:
            self._open[(minute, q.pair)] = _Open.start(q)
        else:
            cur.add(q)
        return True

    def advance(self, now_ns: int) -> tuple[list[LiveBar], int | None]:
        """Close every minute whose end + grace is at or before ``max(clock, now_ns)``.

        Returns the closed bars sorted by ``(ts, pair)`` and the new watermark (ms: the open time of the
        last closed minute) or ``None`` when no minute closed.
        """
        self.clock_ns = max(self.clock_ns, now_ns)
        edge = self.clock_ns - self.grace_ms * _MS - MINUTE_NS  # minutes starting at or before it close
        through = edge - edge % MINUTE_NS
        if self.closed_through_ns is None or through <= self.closed_through_ns:
            return [], None
        done = sorted(k for k in self._open if k[0] <= through)
        bars = [self._open.pop(k).bar(k[1], k[0]) for k in done]
        self.closed_through_ns = through
        return bars, through // _MS


def bar_columns(bars: list[LiveBar], source: str, tick_volume: bool = False) -> dict[str, Any]:
    """Columns of ``schemas/bar.avsc`` for ``bars``: bid OHLC, ``spread`` = the last spread (as in
    history), ``spread_modeled`` False, ``volume`` 0 unless ``tick_volume`` (then the quote count; 0
    keeps ``tick_velocity`` on the bid-path proxy the models were trained on)."""
    n = len(bars)

    def col(name: str, dtype: Any) -> Any:
        return np.array([getattr(b, name) for b in bars], dtype=dtype) if n else np.zeros(0, dtype)

    return {
        "pair": np.array([b.pair for b in bars], dtype=np.str_) if n else np.zeros(0, np.str_),
        "ts": col("ts", np.int64),
        "open": col("open", np.float64),
        "high": col("high", np.float64),
        "low": col("low", np.float64),
        "close": col("close", np.float64),
        "volume": col("ticks", np.float64) if tick_volume else np.zeros(n, np.float64),
        "spread": col("spread_last", np.float64),
        "spread_modeled": np.zeros(n, np.bool_),
        "source": np.array([source] * n, dtype=np.str_) if n else np.zeros(0, np.str_),
    }

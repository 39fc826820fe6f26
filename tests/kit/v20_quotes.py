"""Quote streams for the local v20 server made from 1-minute bars, and the bars a quote stream must
give, computed a second way (pandas group-by, independent of ``streams.live.minute_bars``).

Each bar becomes ``per_minute`` quotes at even times inside its minute: the bid walks open -> high ->
low -> close (or open -> low -> high -> close for a down bar) linearly, so the minute's first bid is the
open, its extremes the high and low, its last the close; the ask is bid + spread at the last quote
(the bar's close spread) and bid + 1.5 x spread before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch
from tests.kit.v20_server import heartbeat_line, price_line

NS = 1_000_000_000


def quotes_for_bars(bars: Batch, per_minute: int = 120) -> pd.DataFrame:
    """Columns ``pair, ts_ns, bid, ask``, sorted by time then pair (``per_minute`` >= 4)."""
    rows: list[tuple[str, int, float, float]] = []
    k_at = np.arange(per_minute)
    anchors = [0, per_minute // 3, 2 * per_minute // 3, per_minute - 1]  # quotes that carry O, H/L, L/H, C
    for i in range(bars.n):
        o, h, lo, c = (float(bars[k][i]) for k in ("open", "high", "low", "close"))
        path = [o, h, lo, c] if c >= o else [o, lo, h, c]
        bid = np.interp(k_at, anchors, path)
        t0 = int(bars["ts"][i]) * 1_000_000 + NS // 4
        step = (59 * NS) // per_minute
        spread = float(bars["spread"][i])
        for k in range(per_minute):
            ask = bid[k] + (spread if k == per_minute - 1 else 1.5 * spread)
            rows.append((str(bars["pair"][i]), t0 + k * step, float(bid[k]), float(ask)))
    df = pd.DataFrame(rows, columns=["pair", "ts_ns", "bid", "ask"])
    return df.sort_values(["ts_ns", "pair"], kind="stable").reset_index(drop=True)


def lines(quotes: pd.DataFrame) -> list[bytes]:
    """One v20 line per quote (every other one without ``type``, as older objects are), 7 decimals, so
    the parsed prices are the quotes' values rounded to 1e-7."""
    out = []
    for i, (p, t, b, a) in enumerate(quotes[["pair", "ts_ns", "bid", "ask"]].itertuples(index=False)):
        out.append(price_line(p, int(t), b, a, typed=i % 2 == 0, digits=7))
    return out


def script(
    quotes: pd.DataFrame,
    wall_s_per_minute: float,
    heartbeat_s: int = 5,
    tail_s: int = 62,
    mark_grace_ms: int | None = None,
) -> Iterator[Any]:
    """Server steps: the quote lines paced at ``wall_s_per_minute`` per market minute, a heartbeat
    every ``heartbeat_s`` of market time, a malformed line per minute, and heartbeats for ``tail_s``
    after the last quote (so the last minute closes). With ``mark_grace_ms``, a ``("mark", m)`` step
    (``m``: the minute's open, ms) precedes the first line at or after ``m + 60 s + grace``: the line
    that closes minute ``m`` at the gateway."""
    ls = lines(quotes)
    ts = quotes["ts_ns"].to_numpy()
    beat = ts[0] - ts[0] % (heartbeat_s * NS) + heartbeat_s * NS
    minute = ts[0] // (60 * NS)
    marks = _Marks(mark_grace_ms)
    for line, t in zip(ls, ts.tolist(), strict=True):
        while beat <= t:
            yield from marks.before(int(beat))
            yield heartbeat_line(int(beat))
            beat += heartbeat_s * NS
        if t // (60 * NS) != minute:
            minute = t // (60 * NS)
            yield b'{"type":"PRICE","instrument":"GBP_USD","time":"2020-02-05T\n'  # cut line: malformed
            yield wall_s_per_minute
        yield from marks.before(int(t))
        marks.open(int(t))
        yield line
    end = int(ts[-1]) + tail_s * NS
    while beat <= end:
        yield from marks.before(int(beat))
        yield heartbeat_line(int(beat))
        beat += heartbeat_s * NS


class _Marks:
    def __init__(self, grace_ms: int | None) -> None:
        self.grace_ns = None if grace_ms is None else grace_ms * 1_000_000
        self.pending: list[int] = []

    def open(self, t: int) -> None:
        m = t - t % (60 * NS)
        if self.grace_ns is not None and (not self.pending or self.pending[-1] != m):
            self.pending.append(m)

    def before(self, t: int) -> Iterator[tuple[str, int]]:
        while self.grace_ns is not None and self.pending and self.pending[0] + 60 * NS + self.grace_ns <= t:
            yield ("mark", self.pending.pop(0) // 1_000_000)


def split_with_cut(steps: list[Any], minute_changes: int) -> list[list[Any]]:
    """Two connection scripts: the first ends half-way through a line after ``minute_changes`` paced
    minutes (a disconnect mid-line), the second replays that line and goes on."""
    from tests.kit.v20_server import CUT

    seen = 0
    for i, step in enumerate(steps):
        if isinstance(step, float):
            seen += 1
            if seen == minute_changes:
                line = steps[i + 1]
                return [[*steps[: i + 1], line[: len(line) // 2], CUT], steps[i + 1 :]]
    return [steps]


def expected_bars(quotes: pd.DataFrame, source: str) -> Batch:
    """The bar records the quotes must give (pandas: first/max/min/last bid per pair and minute)."""
    q = quotes.assign(
        bid=[float(f"{x:.7f}") for x in quotes["bid"]],  # exactly what the stream's 7-decimal text parses to
        ask=[float(f"{x:.7f}") for x in quotes["ask"]],
        ts=(quotes["ts_ns"] // (60 * NS)) * 60_000,
    ).sort_values("ts_ns", kind="stable")
    q["spread"] = q["ask"] - q["bid"]
    g = q.groupby(["ts", "pair"], sort=True)
    df = pd.DataFrame(
        {
            "open": g["bid"].first(),
            "high": g["bid"].max(),
            "low": g["bid"].min(),
            "close": g["bid"].last(),
            "spread": g["spread"].last(),
        }
    ).reset_index()
    n = len(df)
    return Batch(
        {
            "pair": df["pair"].to_numpy(dtype=str),
            "ts": df["ts"].to_numpy(dtype=np.int64),
            "open": df["open"].to_numpy(np.float64),
            "high": df["high"].to_numpy(np.float64),
            "low": df["low"].to_numpy(np.float64),
            "close": df["close"].to_numpy(np.float64),
            "volume": np.zeros(n),
            "spread": df["spread"].to_numpy(np.float64),
            "spread_modeled": np.zeros(n, dtype=bool),
            "source": np.array([source] * n),
        }
    )

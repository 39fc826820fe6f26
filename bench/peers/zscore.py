"""The peer benchmark's strategy, written once as plain per-bar Python (the ``loop`` engine) and mirrored
by the NautilusTrader and backtrader strategies (``engine_nautilus.py``, ``engine_backtrader.py``).

Per pair, on each closed 1-minute bid bar: z = (close - mean) / std over the last :data:`WINDOW` closes.
Flat and no working order: |z| > :data:`ENTRY_Z` places a limit order against the move (buy at the bid
close when z < -ENTRY_Z, sell at the ask close = bid + spread when z > ENTRY_Z) for :data:`QTY` units;
a limit order not filled within :data:`ORDER_BARS` bars is cancelled. In a position, |z| < :data:`EXIT_Z`
closes it at market. A buy limit fills on a later bar whose ask low (bid low + spread) reaches it, a sell
limit on one whose bid high reaches it (the loop's fill model; each peer uses its own matching engine).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

WINDOW = 120
ENTRY_Z = 2.0
EXIT_Z = 0.5
QTY = 100_000
ORDER_BARS = 10
VOLUME = 1_000_000.0
"""Constant bar volume for the peers (the synthetic bars carry volume 0)."""


class PairState:
    __slots__ = ("closes", "s", "s2", "position", "order_side", "order_price", "order_age")

    def __init__(self) -> None:
        self.closes: deque[float] = deque()
        self.s = self.s2 = 0.0
        self.position = 0
        self.order_side = 0
        self.order_price = 0.0
        self.order_age = 0

    def zscore(self, close: float) -> float | None:
        """Push ``close`` into the window; the z-score once the window is full (None before, or flat)."""
        self.closes.append(close)
        self.s += close
        self.s2 += close * close
        if len(self.closes) > WINDOW:
            old = self.closes.popleft()
            self.s -= old
            self.s2 -= old * old
        if len(self.closes) < WINDOW:
            return None
        mean = self.s / WINDOW
        var = self.s2 / WINDOW - mean * mean
        return (close - mean) / math.sqrt(var) if var > 0 else None


def _fill(st: PairState, low: float, high: float, spread: float) -> bool:
    if st.order_side > 0 and low + spread <= st.order_price:
        st.position += QTY
    elif st.order_side < 0 and high >= st.order_price:
        st.position -= QTY
    else:
        st.order_age += 1
        if st.order_age >= ORDER_BARS:
            st.order_side = 0
        return False
    st.order_side = 0
    return True


def run_loop(bars: dict[str, np.ndarray]) -> dict[str, Any]:
    """The strategy over ``bars`` (columns pair, close, high, low, spread), one Python step per bar."""
    states: dict[str, PairState] = {}
    orders = fills = exits = 0
    cols = (bars[k].tolist() for k in ("pair", "close", "high", "low", "spread"))
    for pair, close, high, low, spread in zip(*cols, strict=True):
        st = states.get(pair)
        if st is None:
            st = states[pair] = PairState()
        if st.order_side and _fill(st, low, high, spread):
            fills += 1
        z = st.zscore(close)
        if z is None:
            continue
        if st.position == 0 and not st.order_side and abs(z) > ENTRY_Z:
            st.order_side = 1 if z < 0 else -1
            st.order_price = close if z < 0 else close + spread
            st.order_age = 0
            orders += 1
        elif st.position != 0 and abs(z) < EXIT_Z:
            st.position = 0
            exits += 1
    return {"orders": orders, "fills": fills, "exits": exits}

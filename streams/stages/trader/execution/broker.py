"""Broker interface and the default paper broker.

The paper broker fills working limit orders only against bars that start at or after the order's
activation time (decision time + ``latency_ms``), i.e. never on the bar it was decided on. Ask prices
are the bid OHLC plus the bar's spread. Fill rules for a buy at ``L`` (sells mirror on the bid high):

* trade-through ``ask_low < L - tol``: the remaining quantity fills at ``L``;
* touch ``L - tol <= ask_low <= L``: only ``touch_fill_fraction`` of the remainder fills (rounded down
  to lots, at least one lot) at ``L``, modelling the queue ahead of us;
* otherwise nothing. ``tol = touch_tolerance_pips`` pips. Fills never improve on the limit price.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from streams.core.units import F64
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.router import Order


class Broker(Protocol):
    """What the trader needs from a simulated venue: fill working orders against new bars."""

    def fill_qty(
        self, order: Order, bar_ts: int, high: float, low: float, spread: float, pip: float
    ) -> float: ...

    def may_fill(
        self, order: Order, bar_ts: npt.NDArray[np.int64], high: F64, low: F64, spread: F64
    ) -> npt.NDArray[np.bool_]:
        """True wherever :meth:`fill_qty` could be > 0 (a superset is allowed, never a subset)."""
        ...


class PaperBroker:
    """Deterministic bar-based fill simulator (see the module docstring)."""

    def __init__(self, cfg: ExecutionConfig, lot: float) -> None:
        self.cfg = cfg
        self.lot = lot

    def fill_qty(
        self, order: Order, bar_ts: int, high: float, low: float, spread: float, pip: float
    ) -> float:
        """Return the quantity (base units) of ``order`` filled by the bar starting at ``bar_ts``."""
        if bar_ts < order.active_ts or order.leaves <= 0.0:
            return 0.0
        tol = self.cfg.touch_tolerance_pips * pip
        through = order.price - (low + spread) if order.side > 0 else high - order.price
        if through > tol:
            return order.leaves
        if through < 0.0:
            return 0.0
        part = math.floor(self.cfg.touch_fill_fraction * order.leaves / self.lot) * self.lot
        return min(order.leaves, max(self.lot, part))

    def may_fill(
        self, order: Order, bar_ts: npt.NDArray[np.int64], high: F64, low: F64, spread: F64
    ) -> npt.NDArray[np.bool_]:
        """Vectorised fill test over bars (n,): the same comparisons as :meth:`fill_qty`."""
        with np.errstate(invalid="ignore"):
            through = order.price - (low + spread) if order.side > 0 else high - order.price
            return (bar_ts >= order.active_ts) & (through >= 0.0)


def after_fill(order: Order, qty: float) -> Order:
    """Return ``order`` with ``qty`` more filled."""
    return replace(order, leaves=order.leaves - qty)

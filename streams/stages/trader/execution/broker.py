"""Broker interface, the default paper broker and the no-fill broker of live fills.

The paper broker fills working limit orders only against bars that start at or after the order's
activation time (decision time + ``latency_ms``), i.e. never on the bar it was decided on. Ask prices
are the bid OHLC plus the bar's spread. A limit fills (its whole remainder, at ``L``) only when the bar
trades through it by at least ``fill_penetration_pips`` pips (:mod:`models.fill_rule`,
the rule the learned fill model assumes); a touch is not a fill (queue position unknown). Fills never
improve on the limit price.
"""

from __future__ import annotations

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
        through = order.price - (low + spread) if order.side > 0 else high - order.price
        if not through >= 0.0:  # the bar does not reach the limit (penetration >= 0): no fill
            return 0.0
        pen = self.cfg.fill_penetration_pips * pip
        # models.fill_rule.trades_through on one bar: ``through`` is its penetration (same operations)
        return order.leaves if through >= pen else 0.0

    def may_fill(
        self, order: Order, bar_ts: npt.NDArray[np.int64], high: F64, low: F64, spread: F64
    ) -> npt.NDArray[np.bool_]:
        """Vectorised fill test over bars (n,): the same comparisons as :meth:`fill_qty`."""
        with np.errstate(invalid="ignore"):
            through = order.price - (low + spread) if order.side > 0 else high - order.price
            # superset of fill_qty (the pip size is not known here): any bar reaching the limit
            return (bar_ts >= order.active_ts) & (through >= 0.0)


class NoFills:
    """The broker of ``fill_source = "broker"``: the trader simulates no fill; a live broker's execution
    reports (:mod:`streams.stages.trader.execution.broker_reports`) are the fills."""

    def fill_qty(
        self, order: Order, bar_ts: int, high: float, low: float, spread: float, pip: float
    ) -> float:
        return 0.0

    def may_fill(
        self, order: Order, bar_ts: npt.NDArray[np.int64], high: F64, low: F64, spread: F64
    ) -> npt.NDArray[np.bool_]:
        return np.zeros(len(bar_ts), dtype=bool)


def after_fill(order: Order, qty: float) -> Order:
    """Return ``order`` with ``qty`` more filled."""
    return replace(order, leaves=order.leaves - qty)

"""The trader's book: checkpointed state (frozen) and its mutable working copy for one batch.

:class:`TraderState` is what the binding checkpoints (``streams.core.state_codec``): positions, average
prices, realised PnL, targets, equity / high-water mark, working orders, pending mark-outs, the kill
switch and control state, the covariance window and the pending (not yet complete) minute. During
``process`` the stage works on a :class:`Book` (plain mutable copy) and freezes it at the end, so the
per-minute loop does not rebuild frozen objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import F64
from streams.stages.trader.execution.killswitch import ControlState
from streams.stages.trader.execution.report_queue import ReportState
from streams.stages.trader.execution.router import Order
from streams.stages.trader.execution.toxicity import PendingMarkout

SEEN_IDS = 5000
"""Client order ids remembered for replay de-duplication."""


@dataclass(frozen=True)
class TraderState:
    """Checkpointed state of the trader stage (P = number of pairs in the universe)."""

    pos: F64
    """Signed position per pair, base units, shape (P,)."""
    avg: F64
    """Average entry price per pair (quote per base; 0 when flat), shape (P,)."""
    realized_usd: float
    target: F64
    """Current target position per pair, base units, shape (P,)."""
    sized_scale: F64
    """throttle x allocation scale at which each target was sized, shape (P,)."""
    exit_due: npt.NDArray[np.int64]
    """Bar time (ms) from which the OU time exit applies; -1 when none, shape (P,)."""
    mids: F64
    """Last mid per pair (NaN never seen), shape (P,)."""
    equity: float
    hwm: float
    throttle: float
    orders: tuple[Order, ...] = ()
    seen_ids: tuple[str, ...] = ()
    markouts: tuple[PendingMarkout, ...] = ()
    windows: tuple[tuple[int, tuple[float, ...]], ...] = ()
    """Rolling mark-outs (bps) per horizon (minutes)."""
    control: ControlState = field(default_factory=ControlState)
    last_ts: int = -1
    """Open time (ms) of the last completed (decided) minute; -1 before the first."""
    ret_window: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    """Most recent per-minute log returns, shape (<= cov_window_min, P)."""
    pending: dict[str, Any] = field(default_factory=dict)
    """Columns of the records of the newest, possibly incomplete minute."""
    sent: tuple[int, ...] = ()
    """Decision times (ms) of the orders sent in the last minute (the order-rate check)."""
    broker: ReportState = field(default_factory=ReportState)
    """A live broker's execution reports not yet applied, and their de-duplication memory."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # checkpoints written before a field existed load with its default (no order-rate window, no reports)
        defaults = {"sent": state.get("sent", ()), "broker": state.get("broker", ReportState())}
        object.__setattr__(self, "__dict__", {**state, **defaults})


@dataclass
class Book:
    """Mutable working copy of :class:`TraderState` (same fields; orders keyed by pair index)."""

    pos: F64
    avg: F64
    realized_usd: float
    target: F64
    sized_scale: F64
    exit_due: npt.NDArray[np.int64]
    mids: F64
    equity: float
    hwm: float
    throttle: float
    orders: dict[int, Order]
    seen_ids: list[str]
    markouts: list[PendingMarkout]
    windows: dict[int, tuple[float, ...]]
    control: ControlState
    last_ts: int
    sent: list[int] = field(default_factory=list)
    broker: ReportState = field(default_factory=ReportState)
    _alloc: tuple[ControlState | None, F64] = (None, np.ones(0))

    def control_alloc(self, pairs: tuple[str, ...]) -> F64:
        """The control state's allocation scale per pair, shape (P,) (recomputed when it changes)."""
        if self._alloc[0] is not self.control:
            self._alloc = (self.control, np.array([self.control.alloc(p) for p in pairs], dtype=np.float64))
        return self._alloc[1]

    @classmethod
    def from_state(cls, s: TraderState) -> Book:
        return cls(
            s.pos.copy(),
            s.avg.copy(),
            s.realized_usd,
            s.target.copy(),
            s.sized_scale.copy(),
            s.exit_due.copy(),
            s.mids.copy(),
            s.equity,
            s.hwm,
            s.throttle,
            {o.pair_idx: o for o in s.orders},
            list(s.seen_ids),
            list(s.markouts),
            dict(s.windows),
            s.control,
            s.last_ts,
            list(s.sent),
            s.broker,
        )

    def freeze(self, ret_window: F64, pending: dict[str, Any]) -> TraderState:
        return TraderState(
            self.pos.copy(),
            self.avg.copy(),
            self.realized_usd,
            self.target.copy(),
            self.sized_scale.copy(),
            self.exit_due.copy(),
            self.mids.copy(),
            self.equity,
            self.hwm,
            self.throttle,
            tuple(self.orders[k] for k in sorted(self.orders)),
            tuple(self.seen_ids[-SEEN_IDS:]),
            tuple(self.markouts),
            tuple(sorted(self.windows.items())),
            self.control,
            self.last_ts,
            ret_window,
            pending,
            tuple(t for t in self.sent if t > self.sent[-1] - 60_000) if self.sent else (),
            self.broker,
        )

    def held(self) -> npt.NDArray[np.bool_]:
        """Pairs with a position or a non-zero target, shape (P,)."""
        return (self.pos != 0.0) | (self.target != 0.0)


def initial_state(n_pairs: int, equity: float) -> TraderState:
    """Return the flat book with ``equity`` USD and no history."""
    z = np.zeros(n_pairs)
    return TraderState(
        z,
        z.copy(),
        0.0,
        z.copy(),
        np.ones(n_pairs),
        np.full(n_pairs, -1, dtype=np.int64),
        np.full(n_pairs, np.nan),
        equity,
        equity,
        1.0,
        ret_window=np.zeros((0, n_pairs)),
    )

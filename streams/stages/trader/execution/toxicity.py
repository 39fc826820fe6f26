"""Adverse-selection monitor: mark-outs of the fills that add exposure and a rolling toxicity test.

A fill on the bar starting at ``t`` (known at its close ``t + 1 min``) is marked at the mid of the
pair's bars closing ``h`` minutes later (bar ``t + h min``; the first later bar if that one is
missing): ``markout_bps = side * (mid - fill_price) / fill_price * 1e4`` (+ = favourable). The flow is
toxic when the mean of the last ``toxicity_window`` mark-outs at ``toxicity_horizon_min`` is strictly
below ``toxicity_threshold_bps``; the trader then fires the kill switch. Only fills of the legs in
``toxicity_legs`` (default entry and adjust: the fills that add exposure) are marked out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.core.units import MINUTE_MS
from streams.stages.trader.execution.config import ExecutionConfig


@dataclass(frozen=True)
class PendingMarkout:
    due_ts: int
    """Bar open time whose close is the mark (ms)."""
    pair_idx: int
    side: int
    price: float
    horizon_min: int


def schedule(
    fill_bar_ts: int, pair_idx: int, side: int, price: float, cfg: ExecutionConfig
) -> list[PendingMarkout]:
    """Return the pending mark-outs of one fill, one per configured horizon."""
    return [
        PendingMarkout(fill_bar_ts + h * MINUTE_MS, pair_idx, side, price, h)
        for h in cfg.markout_horizons_min
    ]


def markout_bps(side: int, price: float, mid: float) -> float:
    """Return the mark-out of a fill at ``price`` against ``mid``, in bps (+ = favourable)."""
    return side * (mid - price) / price * 1e4


def push(window: tuple[float, ...], value: float, size: int) -> tuple[float, ...]:
    """Append ``value`` to a rolling window of at most ``size`` values."""
    return (*window, value)[-size:]


def is_toxic(window: tuple[float, ...], cfg: ExecutionConfig) -> bool:
    """Return True when the window is full and its mean is strictly below the threshold."""
    return len(window) >= cfg.toxicity_window and sum(window) / len(window) < cfg.toxicity_threshold_bps


def resolve(
    due: Sequence[PendingMarkout],
    windows: Mapping[int, tuple[float, ...]],
    mids: npt.NDArray[np.float64],
    cfg: ExecutionConfig,
) -> tuple[dict[int, tuple[float, ...]], bool]:
    """Resolve the mark-outs ``due`` at one minute, in order, against that minute's ``mids`` (P,).

    Returns the new rolling windows per horizon (``windows`` is not changed) and whether the toxicity
    horizon's window was toxic after any of them. The per-minute path and the fast-forward both call it.
    """
    out, toxic = dict(windows), False
    for m in due:
        w = push(
            out.get(m.horizon_min, ()),
            markout_bps(m.side, m.price, float(mids[m.pair_idx])),
            cfg.toxicity_window,
        )
        out[m.horizon_min] = w
        toxic |= m.horizon_min == cfg.toxicity_horizon_min and is_toxic(w, cfg)
    return out, toxic

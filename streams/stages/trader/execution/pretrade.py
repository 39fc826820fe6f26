"""Pre-trade checks of the order path: the last gate before an order reaches the broker.

Pure. Checks, in order (the first failure is the rejection reason, ``""`` when the order passes):

1. ``max_order``: order notional above ``max_order_usd`` (never waived);
2. ``max_position``: resulting |position| notional above ``max_position_usd``;
3. ``max_gross``: resulting gross exposure above ``max_gross_usd``
   (2 and 3 are waived for an order that only reduces |position|: :func:`streams.stages.trader.risk.limits.check_order`);
4. ``price_collar``: limit price more than ``price_collar_bps`` from the current mid, or no finite mid;
5. ``max_order_rate``: ``max_orders_per_min`` orders already sent in the minute before (event time).

Limits are inclusive: an order exactly at a limit passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from streams.core.units import MINUTE_MS
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.risk.limits import check_order


def collar_reason(price: float, mid: float, cfg: RiskConfig) -> str:
    """``price_collar`` reason when ``price`` is outside the collar around ``mid`` ("" inside)."""
    if not (math.isfinite(mid) and mid > 0.0 and math.isfinite(price)):
        return f"price_collar: no valid mid ({mid}) to check limit {price} against"
    off_bps = abs(price / mid - 1.0) * 1e4
    if off_bps > cfg.price_collar_bps:
        return f"price_collar: limit {price:.6g} is {off_bps:.1f} bps from mid {mid:.6g} > {cfg.price_collar_bps:g}"
    return ""


def rate_reason(ts: int, sent: Sequence[int], cfg: RiskConfig) -> str:
    """``max_order_rate`` reason when ``sent`` (times of orders sent, ms) already fill the last minute."""
    n = sum(1 for t in sent if ts - MINUTE_MS < t <= ts)
    if n >= cfg.max_orders_per_min:
        return f"max_order_rate: {n} orders in the last minute >= {cfg.max_orders_per_min}"
    return ""


def pre_trade_reason(
    qty_signed: float,
    position: float,
    working: float,
    usd_per_unit: float,
    gross_usd: float,
    price: float,
    mid: float,
    ts: int,
    sent: Sequence[int],
    cfg: RiskConfig,
) -> str:
    """Return why an order must be rejected ("" when it passes every check; module docstring).

    Parameters
    ----------
    qty_signed : base units, + buy / - sell.
    position, working : current position and other working orders' signed remaining quantity, base units.
    usd_per_unit : USD value of one base unit.
    gross_usd : current gross exposure of the book, USD.
    price, mid : the order's limit price and the current mid, quote per base.
    ts : decision time (ms); ``sent``: times (ms) of the orders sent before it.
    """
    return (
        check_order(qty_signed, position, working, usd_per_unit, gross_usd, cfg)
        or collar_reason(price, mid, cfg)
        or rate_reason(ts, sent, cfg)
    )

"""Pre-trade limits: an order that would breach one is rejected before it reaches the broker.

Checks, in order (the first failure is the reason): order notional above ``max_order_usd``; resulting
position notional above ``max_position_usd``; resulting gross exposure above ``max_gross_usd``. An
order that only reduces the absolute position passes the position and gross checks (risk-reducing
orders are never blocked by exposure limits), but never the order-size check.
"""

from __future__ import annotations

from streams.stages.trader.risk.config import RiskConfig


def check_order(
    qty_signed: float, position: float, working: float, usd_per_unit: float, gross_usd: float, cfg: RiskConfig
) -> str:
    """Return the rejection reason of an order ("" when it passes).

    Parameters
    ----------
    qty_signed : float
        Order quantity in base units, + buy / - sell.
    position, working : float
        Current position and signed remaining quantity of other working orders (base units).
    usd_per_unit : float
        USD value of one base unit (mid x quote-to-USD rate).
    gross_usd : float
        Current gross exposure of the book (USD).
    """
    order_usd = abs(qty_signed) * usd_per_unit
    if order_usd > cfg.max_order_usd:
        return f"max_order: order {order_usd:.0f} USD > {cfg.max_order_usd:.0f}"
    before = abs(position + working)
    after = abs(position + working + qty_signed)
    if after <= before:
        return ""
    after_usd = after * usd_per_unit
    if after_usd > cfg.max_position_usd:
        return f"max_position: position {after_usd:.0f} USD > {cfg.max_position_usd:.0f}"
    gross_after = gross_usd + (after - before) * usd_per_unit
    if gross_after > cfg.max_gross_usd:
        return f"max_gross: gross {gross_after:.0f} USD > {cfg.max_gross_usd:.0f}"
    return ""

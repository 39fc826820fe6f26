"""Risk engine configuration (a nested section of ``[trader]``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from streams.core.config import StageConfig


class RiskConfig(StageConfig):
    """Sizing, vol target, drawdown throttle and limits. Money in USD, returns as fractions."""

    risk_aversion: Annotated[float, Field(gt=0)] = 10.0
    """lambda in U = E[R] - lambda Var(R) - Cost(turnover); sets the relative weights of candidates."""
    turnover_cost_mult: Annotated[float, Field(ge=0)] = 1.0
    """Multiplier on the one-way cost (the signal's round-trip ``cost`` / 2) charged per unit of |dw|."""
    cov_window_min: Annotated[int, Field(gt=0)] = 240
    """Minutes of cross-pair returns kept for the covariance estimate."""
    cov_min_obs: Annotated[int, Field(ge=0)] = 60
    """Entries are blocked (reason ``cov_warmup``) until the window holds this many minutes."""
    target_vol_annual: Annotated[float, Field(gt=0)] = 0.10
    """Annualised portfolio volatility the book is scaled to at each sizing decision."""
    minutes_per_year: Annotated[float, Field(gt=0)] = 52 * 5 * 1440
    """Trading minutes per year used to annualise per-minute variance."""
    throttle_levels: tuple[tuple[float, float], ...] = ((0.03, 0.5), (0.05, 0.25))
    """(drawdown, size multiplier): size x m when drawdown from the high-water mark is strictly above.
    Drawdowns strictly increasing within (0, 1), multipliers in (0, 1] and not increasing."""
    max_position_usd: Annotated[float, Field(gt=0)] = 3_000_000.0
    """Largest absolute position per pair (USD notional); targets are clipped to it."""
    max_gross_usd: Annotated[float, Field(gt=0)] = 10_000_000.0
    """Largest gross exposure (sum of |USD notional|) after an order; breaching orders are rejected."""
    max_order_usd: Annotated[float, Field(gt=0)] = 2_000_000.0
    """Largest single order (USD notional); larger deltas are sliced, a breaching order is rejected."""
    price_collar_bps: Annotated[float, Field(gt=0)] = 50.0
    """An order whose limit price is further than this from the current mid is rejected (bps)."""
    max_orders_per_min: Annotated[int, Field(gt=0)] = 30
    """At most this many orders are sent per minute of event time (all pairs); more are rejected."""
    lot_units: Annotated[float, Field(gt=0)] = 1_000.0
    """Quantity granularity in base-currency units (a micro lot)."""
    exit_half_lives: Annotated[float, Field(gt=0)] = 2.0
    """OU time exit: close a position this many half-lives after entry."""
    max_hold_min: Annotated[int, Field(gt=0)] = 240
    """Time exit (minutes) when the entry signal's half-life is not valid."""
    exit_on_reversion: bool = True
    """Reversion exit: close a position once its pair's displacement has crossed its mean (the
    sign of ``displacement`` equals the position's): the trade's edge is spent, holding on is noise."""
    resize_band: float = 0.5
    """No-trade band of a held position: a new same-side target within this fraction of the current
    target leaves it unchanged (0: every passed signal re-sizes the position, one order per change)."""

    @field_validator("throttle_levels")
    @classmethod
    def _ordered(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        dds, mults = [d for d, _ in v], [m for _, m in v]
        if any(not 0.0 < d < 1.0 for d in dds) or any(b <= a for a, b in zip(dds, dds[1:], strict=False)):
            raise ValueError(f"throttle_levels {v}: drawdowns must be strictly increasing within (0, 1)")
        if any(not 0.0 < m <= 1.0 for m in mults) or any(
            b > a for a, b in zip(mults, mults[1:], strict=False)
        ):
            raise ValueError(f"throttle_levels {v}: multipliers must be in (0, 1] and not increase")
        return v

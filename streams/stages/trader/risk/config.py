"""Risk engine configuration (a nested section of ``[trader]``)."""

from __future__ import annotations

from pydantic import field_validator

from streams.core.config import StageConfig


class RiskConfig(StageConfig):
    """Sizing, vol target, drawdown throttle and limits. Money in USD, returns as fractions."""

    risk_aversion: float = 10.0
    """lambda in U = E[R] - lambda Var(R) - Cost(turnover); sets the relative weights of candidates."""
    turnover_cost_mult: float = 1.0
    """Multiplier on the one-way cost (the signal's round-trip ``cost`` / 2) charged per unit of |dw|."""
    cov_window_min: int = 240
    """Minutes of cross-pair returns kept for the covariance estimate."""
    cov_min_obs: int = 60
    """Entries are blocked (reason ``cov_warmup``) until the window holds this many minutes."""
    target_vol_annual: float = 0.10
    """Annualised portfolio volatility the book is scaled to at each sizing decision."""
    minutes_per_year: float = 52 * 5 * 1440
    """Trading minutes per year used to annualise per-minute variance."""
    throttle_levels: tuple[tuple[float, float], ...] = ((0.03, 0.5), (0.05, 0.25))
    """(drawdown, size multiplier): size x m when drawdown from the high-water mark is strictly above."""
    max_position_usd: float = 3_000_000.0
    """Largest absolute position per pair (USD notional); targets are clipped to it."""
    max_gross_usd: float = 10_000_000.0
    """Largest gross exposure (sum of |USD notional|) after an order; breaching orders are rejected."""
    max_order_usd: float = 2_000_000.0
    """Largest single order (USD notional); larger deltas are sliced, a breaching order is rejected."""
    lot_units: float = 1_000.0
    """Quantity granularity in base-currency units (a micro lot)."""
    exit_half_lives: float = 2.0
    """OU time exit: close a position this many half-lives after entry."""
    max_hold_min: int = 240
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
        if list(v) != sorted(v) or any(not 0.0 <= m <= 1.0 for _, m in v):
            raise ValueError("throttle_levels must be sorted by drawdown with multipliers in [0, 1]")
        return v

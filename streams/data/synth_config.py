"""Configuration of the synthetic market generator (:mod:`streams.data.synth`).

Defaults aim at realistic 1-minute FX: annual volatilities of 5-12 %, calm mean reversion with
half-lives of 10-60 minutes, regimes lasting hours (calm), 1-4 hours (directional) and 15-60 minutes
(event risk), and HistData-like quirks (gaps, 4/5-decimal quotes, volume 0).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from streams.data.spread_model import SpreadConfig, synthetic_spread_config

DEFAULT_ANNUAL_VOL: dict[str, float] = {
    "EURUSD": 0.07,
    "GBPUSD": 0.09,
    "USDJPY": 0.08,
    "USDCHF": 0.07,
    "AUDUSD": 0.10,
    "USDCAD": 0.07,
    "NZDUSD": 0.10,
    "EURGBP": 0.07,
    "EURJPY": 0.09,
    "GBPJPY": 0.11,
    "AUDJPY": 0.12,
    "EURCHF": 0.05,
}
DEFAULT_START_PRICE: dict[str, float] = {
    "EURUSD": 1.1200,
    "GBPUSD": 1.2800,
    "USDJPY": 109.00,
    "USDCHF": 0.9900,
    "AUDUSD": 0.7000,
    "USDCAD": 1.3300,
    "NZDUSD": 0.6600,
    "EURGBP": 0.8600,
    "EURJPY": 122.00,
    "GBPJPY": 140.00,
    "AUDJPY": 76.00,
    "EURCHF": 1.1000,
}
TRADING_MINUTES_PER_YEAR = 52 * 5 * 1440
"""Minutes the FX market is open in a year, for turning annual into per-minute volatility."""


class SynthConfig(BaseModel):
    """Parameters of :func:`streams.data.synth.generate_market`; immutable, unknown fields rejected.

    Ranges ``(lo, hi)`` are drawn uniformly per pair, segment or event from the seeded generator.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    annual_vol: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_ANNUAL_VOL))
    """Calm-regime volatility of log mid per pair, per year (fraction)."""
    start_price: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_START_PRICE))
    """Mid price at the first minute per pair (crosses are not kept arbitrage-consistent)."""
    substeps: int = Field(default=12, ge=2)
    """Sub-steps per minute of the intra-minute path that gives open/high/low/close."""
    half_life_min: tuple[float, float] = (10.0, 60.0)
    """Calm OU half-life range, minutes; ``theta = ln 2 / half_life`` per minute, one per pair."""
    ou_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Share of the per-minute variance carried by the OU deviation (rest: fair-value random walk)."""
    asian_vol_factor: float = 0.6
    """Volatility multiplier in Asian hours."""
    asian_hours: tuple[int, int] = (22, 7)
    """UTC hours ``[start, end)`` of the Asian session (wraps past midnight)."""
    calm_mean_min: float = 480.0
    """Mean duration of a calm (Stable_Flow) spell, minutes (exponential, at least 30)."""
    directional_min: tuple[float, float] = (60.0, 240.0)
    """Duration range of a directional (Directional_Vol) spell, minutes."""
    event_min: tuple[float, float] = (15.0, 60.0)
    """Duration range of a random Event_Risk spell, minutes."""
    p_event_from_calm: float = 0.1
    """Probability that a calm spell is followed by an event (else directional)."""
    p_event_from_directional: float = 0.1
    """Probability that a directional spell is followed by an event (else calm)."""
    p_directional_from_event: float = 0.3
    """Probability that an event spell is followed by a directional one (else calm)."""
    directional_vol_mult: tuple[float, float] = (1.5, 2.5)
    """Volatility multiplier of a directional spell."""
    directional_drift: tuple[float, float] = (0.1, 0.4)
    """Drift of a directional spell per minute, in units of the calm 1-minute volatility (sign random)."""
    directional_theta_factor: float = Field(default=0.1, ge=0.0)
    """OU theta in directional spells as a fraction of the calm theta (weak reversion)."""
    directional_spread_mult: float = 1.3
    """Spread multiplier in directional spells."""
    event_jump: tuple[float, float] = (4.0, 10.0)
    """Jump at the event minute, in calm 1-minute volatilities (sign random)."""
    event_overshoot: float = Field(default=0.3, ge=0.0, le=1.0)
    """Share of the jump that is a transient OU deviation (the rest moves the fair value)."""
    event_vol_mult: tuple[float, float] = (3.0, 10.0)
    """Peak volatility multiplier at an event; decays exponentially."""
    event_vol_decay_min: float = 10.0
    """e-folding time of the event volatility burst, minutes."""
    event_spread_mult: tuple[float, float] = (5.0, 20.0)
    """Peak spread multiplier at an event; decays exponentially."""
    event_spread_decay_min: float = 5.0
    """e-folding time of the event spread widening, minutes."""
    event_window_min: tuple[int, int] = (5, 30)
    """Calendar event window: Event_Risk from ``t - before`` to ``t + after`` minutes (exclusive)."""
    calendar_impacts: tuple[str, ...] = ("high",)
    """Calendar impact levels that place events."""
    usd_correlation: float = Field(default=0.5, ge=0.0, le=1.0)
    """Correlation of 1-minute shocks of two USD pairs through the common USD factor."""
    usd_regime_coupling: float = Field(default=0.6, ge=0.0, le=1.0)
    """Probability that a USD pair follows the common regime chain in a common spell."""
    cross_regime_coupling: float = Field(default=0.3, ge=0.0, le=1.0)
    """Same for pairs without USD."""
    missing_rate: float = Field(default=0.003, ge=0.0, lt=1.0)
    """Share of open minutes without a bar (no ticks)."""
    missing_asian_share: float = Field(default=0.8, ge=0.0, le=1.0)
    """Share of the missing minutes that fall in Asian hours."""
    long_gaps_per_year: float = Field(default=4.0, ge=0.0)
    """Multi-hour gaps per pair per year (Poisson)."""
    long_gap_hours: tuple[float, float] = (1.0, 6.0)
    """Length range of a multi-hour gap, hours."""
    four_decimal_share: float = Field(default=0.25, ge=0.0, le=1.0)
    """Probability that a (pair, year) is quoted with 4 decimals (2 for JPY) instead of 5 (3)."""
    decimals: dict[str, int] = Field(default_factory=dict)
    """Fixed decimals per pair for every year, overriding ``four_decimal_share``."""
    spread: SpreadConfig = Field(default_factory=synthetic_spread_config)
    """Base spread model, multiplied by the regime widening (the synthetic market keeps its own)."""

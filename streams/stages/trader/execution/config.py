"""Execution configuration (a nested section of ``[trader]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from streams.core.config import StageConfig


class ExecutionConfig(StageConfig):
    """Router price rule, paper-broker fill assumptions, toxicity and staleness kill switch."""

    strategy_id: str = "hslr"
    """Strategy name hashed into every client order id."""
    improve_fraction: float = 0.25
    """Limit price = bid + f * spread for buys, ask - f * spread for sells; 0 < f < 0.5 keeps it inside."""
    replace_after_min: int = 3
    """A working order older than this many minutes (event time) is cancelled and re-posted."""
    latency_ms: int = 0
    """Order activation delay: an order decided at time d may fill only on bars with ts >= d + latency."""
    fill_penetration_pips: float = Field(default=0.1, ge=0.0)
    """A limit fills only on a bar that trades through it by at least this many pips (queue position
    unknown: a touch is not a fill); the learned fill model uses the same rule."""
    entry_ttl_min: int = Field(default=0, ge=0)
    """Fill model: minutes an entry limit may fill before it is re-priced (0: ``replace_after_min``)."""
    markout_horizons_min: tuple[int, ...] = (1, 5, 15)
    """Mark-out horizons (minutes after the fill bar's close) recorded for every fill."""
    toxicity_horizon_min: int = 5
    """Horizon whose rolling mean mark-out decides toxicity."""
    toxicity_window: int = 30
    """Number of most recent fills in the rolling mean (the window must be full to fire)."""
    toxicity_threshold_bps: float = -3.0
    """Kill switch fires when the rolling mean mark-out (bps, + = favourable) falls strictly below."""
    toxicity_legs: tuple[str, ...] = ("entry", "adjust")
    """Order legs whose fills are marked out (and so judged for toxicity): the fills that add exposure.
    An exit of a mean-reversion trade fills when price has moved our way and the reversion usually goes
    on after it, so exit mark-outs are negative by design (opportunity, not adverse selection); counted
    in, they fired the kill switch on the synthetic market's oracle replay within two days."""
    stale_after_min: int = Field(default=30, ge=1)
    """A feed gap: more than this many open-market minutes pass with no input bar."""
    stale_pause_min: int = Field(default=60, ge=0)
    """After a feed gap: working orders cancelled, no new entries for this many minutes (then resume)."""
    fill_source: Literal["paper", "broker"] = "paper"
    """Where fills come from. ``paper``: the paper broker simulates them on the bars (replays, paper
    trading). ``broker``: a live broker's execution reports on the ``broker.fills`` topic (written by
    ``hslr live --broker oanda`` from the v20 transaction stream) are the fills; nothing is simulated."""

    @field_validator("improve_fraction")
    @classmethod
    def _inside(cls, v: float) -> float:
        if not 0.0 < v < 0.5:
            raise ValueError("improve_fraction must be in (0, 0.5) so limits sit strictly inside the spread")
        return v

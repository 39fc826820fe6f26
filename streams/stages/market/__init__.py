"""The market stage (``stage.py``) and its market-aware bar checks (``checks.py``: event-time horizon,
single-bar price spikes)."""

from __future__ import annotations

from streams.stages.market.stage import MarketConfig, MarketStage, MarketState, bar_problems

__all__ = ["MarketConfig", "MarketStage", "MarketState", "bar_problems"]

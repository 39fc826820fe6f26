"""News override stage (DAG step 4): economic-calendar event windows and surprise mode."""

from __future__ import annotations

from streams.stages.news.config import NewsConfig
from streams.stages.news.stage import EVENT_RISK, NewsStage, NewsState

__all__ = ["EVENT_RISK", "NewsConfig", "NewsStage", "NewsState"]

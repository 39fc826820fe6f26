"""Edge engine and OU governance (DAG stage ``edge``): ``regime.adjusted`` -> ``signals``."""

from __future__ import annotations

from streams.stages.edge.stage import EdgeConfig, EdgeStage, EdgeState

__all__ = ["EdgeConfig", "EdgeStage", "EdgeState"]

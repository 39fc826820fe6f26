"""Feature engineering stage (``bars.clean`` → ``features``): returns, volatility, liquidity,
displacement, cross-pair correlation and session features, incremental and batch-invariant."""

from __future__ import annotations

from streams.stages.features.config import FeaturesConfig
from streams.stages.features.stage import FEATURE_FIELDS, FeaturesStage, empty_features
from streams.stages.features.state import FeaturesState, PairState

__all__ = [
    "FEATURE_FIELDS",
    "FeaturesConfig",
    "FeaturesStage",
    "FeaturesState",
    "PairState",
    "empty_features",
]

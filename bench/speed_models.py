"""Model artifacts for the speed benchmarks: trained once on a seeded synthetic market, cached on disk.

``models_for(pairs, root)`` returns a config whose regime and edge models were trained on four weeks of
the seeded synthetic market before the benchmark window (mid-to-mid edge model, so the trader trades).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.config import HSLRConfig, build_config
from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.services.features import compute_features
from streams.services.runs import with_models
from streams.training.artifacts import train_edge_artifact, train_regime_artifact

TRAIN = ("2019-12-02", "2019-12-30")
CONFIG: dict[str, Any] = {"edge": {"execution_priced": False}}


def models_for(pairs: list[str], root: Path, seed: int = 3, calendar: Any = None) -> HSLRConfig:
    """A config with models trained for ``pairs`` under ``root`` (reused when already there)."""
    root = Path(root) / "_".join(pairs)
    base = build_config({**CONFIG, "market": {"pairs": pairs}})
    regime, edge = root / "regime" / "latest", root / "edge" / "latest"
    if not (regime.exists() and edge.exists()):
        bars = Batch(generate_market(pairs, TRAIN[0], TRAIN[1], seed, calendar=calendar).bars)
        features = compute_features(bars, base)
        now = datetime(2019, 12, 30, tzinfo=UTC)
        train_regime_artifact(
            features, base.regime, created_at=now, code_version="bench", params={}, root=root / "regime"
        )
        train_edge_artifact(
            features, base.edge, created_at=now, code_version="bench", params={}, root=root / "edge"
        )
    return with_models(base, str(regime), str(edge), "")

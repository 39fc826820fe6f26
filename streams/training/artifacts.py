"""Train the regime and edge models on a window of bars and save them as versioned artifacts.

The one training path shared by ``hslr train regime|edge``, walk-forward folds and the demo. Pure model
fitting lives in :mod:`streams.training.regime` and :mod:`streams.training.edge`; this module adds
the metadata (training window, features, hyperparameters, metrics, code version, data hash) and writes
the artifact. ``created_at`` is an argument: callers at the edge of the system pass the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streams.core.batch import Batch

if TYPE_CHECKING:
    from models.artifacts import ArtifactMeta
    from streams.stages.edge import EdgeConfig
    from streams.stages.regime import RegimeConfig

HIST_COLUMNS = (
    "session_vol_norm",
    "spread_widening",
    "tick_velocity",
    "displacement",
    "displacement_pct",
    "xcorr",
)
"""Features-record columns whose training histograms go into the regime metadata (governance KL drift)."""


@dataclass(frozen=True)
class Trained:
    kind: str
    path: Path
    meta: Any
    report: dict[str, Any]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _histograms(features: Batch, mask: np.ndarray) -> dict[str, Any]:
    from streams.stages.governance.kl import histograms_from_samples

    return histograms_from_samples({c: features[c][mask] for c in HIST_COLUMNS if c in features})


def _meta(
    kind: str,
    report: dict[str, Any],
    created_at: datetime,
    code_version: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
) -> ArtifactMeta:
    """The metadata of a model trained on ``report``'s window: version from the time and the data hash."""
    from models.artifacts import ArtifactMeta, data_hash, library_versions, make_version

    digest = data_hash({"X": report["X_train"], "y": report["y_train"]})
    return ArtifactMeta(
        kind=kind,
        version=make_version(created_at, digest),
        created_at=created_at.isoformat(),
        training_from=_iso(report["training_from"]),
        training_to=_iso(report["training_to"]),
        features=tuple(report["features"]),
        params=params,
        metrics=metrics,
        code_version=code_version,
        data_hash=digest,
        libraries=library_versions(),
    )


def _root(model_path: str) -> Path:
    from streams.settings import data_path

    p = data_path(model_path)  # a relative model path lives in the data directory, never in the cwd
    return p.parent if p.name == "latest" else p


def train_regime_artifact(
    features: Batch,
    rcfg: RegimeConfig,
    *,
    created_at: datetime,
    code_version: str,
    params: dict[str, Any],
    root: str | Path | None = None,
    random_state: int | None = None,
    truth: Any = None,
) -> Trained:
    """Fit the regime classifier on ``features`` and save it under ``root`` (default: beside
    ``rcfg.model_path``), moving its ``latest`` pointer."""
    from models.artifacts import save_artifact
    from streams.training.regime import train_regime

    model, report = train_regime(features, rcfg, random_state=random_state)
    if truth is not None:
        from streams.training.regime import truth_confusion

        report["truth_confusion_test"] = truth_confusion(features, truth, model, report["test_mask"])
    metrics = {k: v for k, v in report.items() if k not in ("X_train", "y_train", "train_mask", "test_mask")}
    params = {
        **params,
        "labels": rcfg.labels.model_dump(),
        "train": rcfg.train.model_dump(),
        "feature_histograms": _histograms(features, report["train_mask"]),
    }
    meta = _meta("regime", report, created_at, code_version, params, metrics)
    path = save_artifact(Path(root) if root else _root(rcfg.model_path), model, meta)
    return Trained("regime", path, meta, report)


def train_edge_artifact(
    features: Batch,
    ecfg: EdgeConfig,
    *,
    created_at: datetime,
    code_version: str,
    params: dict[str, Any],
    root: str | Path | None = None,
    holdout: float = 0.2,
    xcfg: Any = None,
    **overrides: Any,
) -> Trained:
    """Fit the edge model on ``features`` and save it under ``root`` (default: beside ``ecfg.model_path``).

    With ``ecfg.execution_priced`` the execution-priced model (:mod:`models.exec_edge`) is fitted on the
    whole window (its cross-validation is internal) with the router/broker rules of ``xcfg`` (the
    trader's ``ExecutionConfig``; default settings when None); otherwise the mid-to-mid model with a
    time hold-out of ``holdout``.
    """
    from models.artifacts import save_artifact

    if getattr(ecfg, "execution_priced", False):
        return _train_exec_edge_artifact(
            features, ecfg, xcfg, created_at=created_at, code_version=code_version, params=params, root=root
        )
    from streams.training.edge import train_edge

    model, report = train_edge(features, ecfg, holdout=holdout, **overrides)
    params = {
        **params,
        "holdout": holdout,
        "edge_config": ecfg.model_dump(mode="json"),
        "model": model.metadata(),
    }
    metrics = {k: v for k, v in report.items() if k in ("test", "n_train", "n_test")}
    meta = _meta("edge", report, created_at, code_version, params, metrics)
    path = save_artifact(
        Path(root) if root else _root(ecfg.model_path or "models/artifacts/edge/latest"), model, meta
    )
    return Trained("edge", path, meta, report)


def _train_exec_edge_artifact(
    features: Batch,
    ecfg: Any,
    xcfg: Any,
    *,
    created_at: datetime,
    code_version: str,
    params: dict[str, Any],
    root: str | Path | None,
) -> Trained:
    from models.artifacts import ArtifactMeta, data_hash, library_versions, make_version, save_artifact
    from streams.stages.trader.execution.config import ExecutionConfig
    from streams.training.exec_edge import exec_params, train_exec_edge

    xp = exec_params(ecfg, xcfg if xcfg is not None else ExecutionConfig())
    model, report = train_exec_edge(features, ecfg, xp)
    digest = data_hash({"ts": np.asarray(features["ts"]), "close": np.asarray(features["close"], np.float64)})
    meta = ArtifactMeta(
        kind="edge",
        version=make_version(created_at, digest),
        created_at=created_at.isoformat(),
        training_from=_iso(report["training_from"]),
        training_to=_iso(report["training_to"]),
        features=tuple(report["features"]),
        params={
            **params,
            "edge_config": ecfg.model_dump(mode="json"),
            "execution": xp.__dict__,
            "model": model.metadata(),
        },
        metrics={"pairs": report["pairs"]},
        code_version=code_version,
        data_hash=digest,
        libraries=library_versions(),
    )
    path = save_artifact(
        Path(root) if root else _root(ecfg.model_path or "models/artifacts/edge/latest"), model, meta
    )
    return Trained("edge", path, meta, report)

"""Versioned artifacts: round trip, latest pointer, refusal of mismatched features and corrupt payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from models.artifacts import (
    ArtifactError,
    ArtifactMeta,
    FeatureMismatchError,
    data_hash,
    library_versions,
    load_artifact,
    make_version,
    save_artifact,
)
from models.regime import MODEL_FEATURES, RegimeClassifier

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def _model(seed: int = 0) -> tuple[RegimeClassifier, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, len(MODEL_FEATURES)))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    return RegimeClassifier(n_estimators=5, min_samples_leaf=5, random_state=seed).fit(X, y), X, y


def _meta(
    X: np.ndarray, y: np.ndarray, created: datetime = T0, features: tuple[str, ...] = MODEL_FEATURES
) -> ArtifactMeta:
    digest = data_hash({"X": X, "y": y})
    return ArtifactMeta(
        kind="regime",
        version=make_version(created, digest),
        created_at=created.isoformat(),
        training_from="2019-01-01T00:00:00+00:00",
        training_to="2019-06-30T00:00:00+00:00",
        features=features,
        params={"n_estimators": 5, "arr": np.arange(2)},
        metrics={"accuracy": np.float64(0.8)},
        code_version="abc123",
        data_hash=digest,
        libraries=library_versions(),
    )


def test_round_trip_keeps_model_and_metadata(tmp_path: Path) -> None:
    model, X, y = _model()
    meta = _meta(X, y)
    directory = save_artifact(tmp_path / "regime", model, meta)
    loaded, got = load_artifact(
        tmp_path / "regime" / "latest", expected_features=MODEL_FEATURES, kind="regime"
    )
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert directory.name == "20240501T123000Z-" + meta.data_hash[:8]
    assert got.features == MODEL_FEATURES
    assert got.code_version == "abc123"
    assert got.params["arr"] == [0, 1]
    assert got.metrics["accuracy"] == 0.8
    assert len(got.model_sha256) == 64
    assert "scikit-learn" in got.libraries


def test_latest_follows_the_newest_save_and_versions_are_immutable(tmp_path: Path) -> None:
    m1, X1, y1 = _model(1)
    m2, X2, y2 = _model(2)
    save_artifact(tmp_path, m1, _meta(X1, y1))
    second = _meta(X2, y2, datetime(2024, 5, 2, tzinfo=UTC))
    save_artifact(tmp_path, m2, second)
    _, got = load_artifact(tmp_path / "latest")
    assert got.version == second.version
    with pytest.raises(ArtifactError, match="immutable"):
        save_artifact(tmp_path, m2, second)


@pytest.mark.parametrize(
    ("expected", "detail"),
    [
        (MODEL_FEATURES[::-1], "another order"),
        (MODEL_FEATURES[:-1], "missing \\['session_id'\\]"),
        ((*MODEL_FEATURES, "gk_vol"), "unexpected \\['gk_vol'\\]"),
    ],
)
def test_feature_mismatch_is_refused(tmp_path: Path, expected: tuple[str, ...], detail: str) -> None:
    model, X, y = _model()
    save_artifact(tmp_path, model, _meta(X, y))
    with pytest.raises(FeatureMismatchError, match=detail):
        load_artifact(tmp_path / "latest", expected_features=expected)


def test_wrong_kind_missing_and_corrupt_are_refused(tmp_path: Path) -> None:
    model, X, y = _model()
    d = save_artifact(tmp_path, model, _meta(X, y))
    with pytest.raises(ArtifactError, match="'regime' model, expected 'edge'"):
        load_artifact(d, kind="edge")
    with pytest.raises(ArtifactError, match="no model artifact"):
        load_artifact(tmp_path / "nope")
    (d / "model.joblib").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(d)


def test_data_hash_depends_on_values_names_and_dtype() -> None:
    a = np.arange(6, dtype=np.float64)
    base = data_hash({"X": a})
    assert base == data_hash({"X": a.copy()})
    assert base != data_hash({"X": a + 1e-9})
    assert base != data_hash({"Z": a})
    assert base != data_hash({"X": a.astype(np.float32)})
    assert base != data_hash({"X": a.reshape(2, 3)})

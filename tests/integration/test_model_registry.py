"""Model registry: checksum rows, promote / rollback through `hslr models`, workers load the promoted
version and refuse a corrupt or mismatched one (real PostgreSQL, a fresh database per test)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.artifacts import (
    LATEST,
    PROMOTED,
    ArtifactError,
    ArtifactMeta,
    FeatureMismatchError,
    save_artifact,
)
from streams.cli.main import main
from streams.storage.db import connect
from streams.storage.registry import list_models, register_model

pytestmark = pytest.mark.integration


def _save(root: Path, day: int, features: tuple[str, ...] = ("a", "b")) -> ArtifactMeta:
    from models.artifacts import read_meta

    when = datetime(2020, 1, day, tzinfo=UTC)
    meta = ArtifactMeta(
        kind="regime",
        version=f"{when:%Y%m%dT%H%M%SZ}-0000000{day}",
        created_at=when.isoformat(),
        training_from="2019-01-01T00:00:00+00:00",
        training_to="2019-06-30T00:00:00+00:00",
        features=features,
    )
    return read_meta(save_artifact(root, {"weights": [day]}, meta))


def test_promote_rollback_and_refusals(
    scratch_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.dag import _model_path

    root = tmp_path / "models/artifacts/regime"
    metas = [_save(root, d) for d in (1, 2, 3)]
    with connect(scratch_db) as conn:
        for m in metas:
            register_model(conn, m, str(root / m.version))
        rows = list_models(conn, "regime")
    assert [r.model_sha256 for r in rows] == [m.model_sha256 for m in reversed(metas)]  # newest first
    assert all(len(r.model_sha256) == 64 for r in rows)

    def models(*args: str) -> str:
        assert main(["models", *args, "--dsn", scratch_db]) == 0
        return capsys.readouterr().out

    latest = str(root / LATEST)
    assert _model_path(latest) == latest  # nothing promoted: workers load the newest
    models("promote", metas[0].version)
    models("promote", f"regime:{metas[2].version}")
    assert (root / PROMOTED).resolve().name == metas[2].version
    assert _model_path(latest) == str(root / PROMOTED)  # the worker's load path follows the promotion
    models("rollback", "--kind", "regime")
    assert (root / PROMOTED).resolve().name == metas[0].version
    listing = models("list")
    assert f"* regime  {metas[0].version}" in listing
    assert [line[:2] for line in listing.splitlines()].count("* ") == 1

    # nothing further back: a clear error (exit 2), the pointer unchanged
    assert main(["models", "rollback", "--kind", "regime", "--dsn", scratch_db]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err

    # a corrupt payload is refused by promote (registry checksum) and by a worker's load (meta checksum)
    payload = root / metas[1].version / "model.joblib"
    payload.write_bytes(payload.read_bytes()[:-3] + b"xyz")
    from streams.services.models import promote

    with connect(scratch_db) as conn, pytest.raises(ArtifactError, match="corrupt or not the registered one"):
        promote(conn, metas[1].version)
    assert (root / PROMOTED).resolve().name == metas[0].version
    from models.artifacts import load_artifact

    with pytest.raises(ArtifactError, match="corrupt"):
        load_artifact(root / metas[1].version)


def test_worker_refuses_a_promoted_artifact_with_other_features(tmp_path: Path) -> None:
    from models.artifacts import point
    from streams.config import build_config
    from streams.dag import build_stages

    root = tmp_path / "regime"
    meta = _save(root, 4, features=("not", "the", "model", "features"))
    point(root, PROMOTED, meta.version)
    config = build_config({"regime": {"model_path": str(root / LATEST)}})
    with pytest.raises(FeatureMismatchError, match="retrain the model"):
        build_stages(config, ["regime"])

"""`hslr backup` / `hslr restore` round trip: a fresh source database with rows and artifacts is backed up,
restored into an EMPTY database, and the row counts and artifact checksums are compared (real PostgreSQL,
real pg_dump/pg_restore)."""

from __future__ import annotations

import hashlib
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.cli.main import main
from streams.storage.db import connect, default_dsn, table_counts
from tests.integration.conftest import dsn_for

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_db(services: dict[str, str]) -> Iterator[str]:
    name = f"hslr_t_{uuid.uuid4().hex[:10]}"
    with connect(autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield dsn_for(default_dsn(), name)
    finally:
        with connect(autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _populate(dsn: str, artifacts: Path) -> None:
    from models.artifacts import ArtifactMeta, read_meta, save_artifact
    from streams.services.models import promote
    from streams.storage.registry import register_model

    root = artifacts / "regime"
    with connect(dsn) as conn:
        for day in (1, 2):
            meta = ArtifactMeta(
                "regime",
                f"2020010{day}T000000Z-0000000{day}",
                "2020-01-01",
                "2019-01-01",
                "2019-06-30",
                ("x",),
            )
            path = save_artifact(root, {"day": day, "blob": list(range(1000 * day))}, meta)
            register_model(conn, read_meta(path), str(path))
        promote(conn, "20200101T000000Z-00000001")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO price_data (pair, ts, open, high, low, close, volume, source)"
                " VALUES (%s, %s, 1.1, 1.2, 1.0, 1.15, 10, 'test')",
                [("GBPUSD", datetime(2020, 1, 6, tzinfo=UTC) + timedelta(minutes=i)) for i in range(250)],
            )
        conn.commit()


def _sha_tree(root: Path) -> dict[str, str]:  # independent of the code under test: hashlib on the files
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("model.joblib")
        if not any(part in ("latest", "promoted") for part in p.relative_to(root).parts)
    } | {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("meta.json")
        if not any(part in ("latest", "promoted") for part in p.relative_to(root).parts)
    }


def test_backup_restores_into_an_empty_database(
    scratch_db: str, empty_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source/artifacts"
    _populate(scratch_db, source)
    dest = tmp_path / "backups"
    assert main(["backup", "--dest", str(dest), "--dsn", scratch_db, "--artifacts", str(source)]) == 0
    (archive,) = dest.glob("hslr-backup-*.tar.gz")
    with tarfile.open(archive) as tar:
        assert {"manifest.json", "config.json", "db.dump"} <= set(tar.getnames())

    restored = tmp_path / "restored/artifacts"
    assert main(["restore", str(archive), "--dsn", empty_db, "--artifacts", str(restored)]) == 0
    with connect(scratch_db) as a, connect(empty_db) as b:
        want, got = table_counts(a), table_counts(b)
        assert want == got
        assert (want["price_data"], want["model_registry"], want["model_promotions"]) == (250, 2, 1)
        q = "SELECT model_id, model_sha256 FROM model_registry ORDER BY 1"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()
    assert _sha_tree(restored) == _sha_tree(source)
    assert len(_sha_tree(source)) == 4
    assert (restored / "regime/promoted").resolve().name == "20200101T000000Z-00000001"
    capsys.readouterr()

    # a second restore into the now populated database is refused with a clear error
    assert main(["restore", str(archive), "--dsn", empty_db, "--artifacts", str(restored)]) == 2
    assert "restore into a fresh, empty one" in capsys.readouterr().err


def test_retention_keeps_the_newest(scratch_db: str, tmp_path: Path) -> None:
    from streams.services.backup import backup

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    (tmp_path / "notes.txt").write_text("not an archive")
    made = []
    for day in range(4):
        path, pruned = backup(
            tmp_path,
            dsn=scratch_db,
            artifacts=tmp_path / "none",
            config={},
            counts={},
            now=t0 + timedelta(days=day),
            keep=2,
        )
        made.append(path.name)
    assert sorted(p.name for p in tmp_path.glob("hslr-backup-*")) == made[-2:]
    assert pruned == [made[1]]
    assert (tmp_path / "notes.txt").exists()

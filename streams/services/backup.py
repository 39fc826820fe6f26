"""Dated backups of what a deployment cannot regenerate, and their restore.

An archive ``hslr-backup-<YYYYmmddTHHMMSSZ>.tar.gz`` holds::

    manifest.json   created_at, the source database, its row count per table, every artifact file's
                    sha256, the effective config's hash
    config.json     the effective pipeline config (``streams.config.dump_config``)
    db.dump         ``pg_dump --format=custom`` of the database
    artifacts/      the model artifact tree (versions, ``latest`` and ``promoted`` pointers)

:func:`restore` refuses a database that already holds tables (restore into a fresh one), checks every
artifact against the manifest before copying it, and compares the restored row counts with it.
Retention keeps the newest ``keep`` archives of the folder (:func:`to_prune`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ARCHIVE = re.compile(r"^hslr-backup-(\d{8}T\d{6}Z)\.tar\.gz$")


class BackupError(RuntimeError):
    """A backup or restore that cannot proceed; the message says why."""


@dataclass(frozen=True)
class Restored:
    tables: dict[str, int]
    artifacts: int


def archive_name(now: datetime) -> str:
    return f"hslr-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz"


def to_prune(names: Sequence[str], keep: int) -> list[str]:
    """The archive names beyond the newest ``keep`` (other files are never touched)."""
    dated = sorted((m.group(1), n) for n in names if (m := ARCHIVE.match(n)))
    return [n for _, n in dated[: max(len(dated) - max(keep, 1), 0)]]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_checksums(root: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every regular file under ``root``; links (the ``latest`` and
    ``promoted`` pointers) are not followed, so each version is counted once."""
    out: dict[str, str] = {}
    for here, _dirs, files in os.walk(root):  # os.walk does not descend into linked folders
        for name in files:
            p = Path(here) / name
            if not p.is_symlink():
                out[str(p.relative_to(root))] = _sha256(p)
    return dict(sorted(out.items()))


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed tools
    except FileNotFoundError as exc:
        raise BackupError(f"{what}: {cmd[0]} is not installed (apt-get install postgresql-client)") from exc
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")


def backup(
    dest: Path,
    *,
    dsn: str,
    artifacts: Path,
    config: dict[str, Any],
    counts: dict[str, int],
    now: datetime,
    keep: int,
) -> tuple[Path, list[str]]:
    """Write a dated archive into ``dest`` and prune beyond the newest ``keep``; return it and the pruned.

    ``counts`` are the database's row counts per table (read by the caller in the dump's snapshot
    window); ``now`` names the archive (the caller reads the clock).
    """
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / archive_name(now)
    if target.exists():
        raise BackupError(f"{target} exists already")
    with tempfile.TemporaryDirectory(prefix="hslr-backup-") as tmp:
        work = Path(tmp)
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={work / 'db.dump'}",
                f"--dbname={dsn}",
            ],
            "pg_dump",
        )
        text = json.dumps(config, indent=2, sort_keys=True)
        (work / "config.json").write_text(text)
        manifest = {
            "created_at": now.isoformat(),
            "tables": counts,
            "artifacts": artifact_checksums(artifacts),
            "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial = target.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for name in ("manifest.json", "config.json", "db.dump"):
                tar.add(work / name, arcname=name)
            if artifacts.is_dir():
                tar.add(artifacts, arcname="artifacts")
        partial.rename(target)  # a crash never leaves a half archive under a backup's name
    pruned = to_prune([p.name for p in dest.iterdir()], keep)
    for name in pruned:
        (dest / name).unlink()
    return target, pruned


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise BackupError(f"{archive} has no manifest.json: not an hslr backup")
        return dict(json.loads(member.read()))


def restore(archive: Path, *, dsn: str, artifacts: Path, table_count: int) -> dict[str, Any]:
    """Restore the database dump into the (empty) database ``dsn`` and the artifacts into ``artifacts``.

    ``table_count`` is the number of tables the target database holds now (the caller asks it); any
    makes this refuse. Returns the manifest; the caller compares the restored row counts with it.
    """
    if table_count:
        raise BackupError(
            f"the target database holds {table_count} table(s); restore into a fresh, empty one"
        )
    with tempfile.TemporaryDirectory(prefix="hslr-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")  # refuses absolute paths, links out of the tree, devices
        manifest = json.loads((work / "manifest.json").read_text())
        got = artifact_checksums(work / "artifacts")
        if got != manifest["artifacts"]:
            bad = sorted(set(got.items()) ^ set(manifest["artifacts"].items()))
            raise BackupError(
                f"{archive}: artifacts differ from the manifest ({len(bad)} entries, e.g. {bad[:2]})"
            )
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={dsn}",
                str(work / "db.dump"),
            ],
            "pg_restore",
        )
        if (work / "artifacts").is_dir():
            _copy_artifacts(work / "artifacts", artifacts)
    return dict(manifest)


def _copy_artifacts(src: Path, dest: Path) -> None:
    """Copy versions that are missing at ``dest`` and the pointers; a differing version is refused."""
    dest.mkdir(parents=True, exist_ok=True)
    for kind in sorted(p for p in src.iterdir() if p.is_dir()):
        (dest / kind.name).mkdir(exist_ok=True)
        for item in sorted(kind.iterdir()):
            target = dest / kind.name / item.name
            if item.is_symlink():
                target.unlink(missing_ok=True)
                target.symlink_to(item.readlink(), target_is_directory=True)
            elif not target.exists():
                shutil.copytree(item, target)
            elif artifact_checksums(target) != artifact_checksums(item):
                raise BackupError(
                    f"{target} exists with other contents than the backup's; move it away first"
                )


def count_mismatches(expected: dict[str, int], got: dict[str, int]) -> list[str]:
    """Tables whose restored row count differs from the manifest's, as ``table: expected -> got``."""
    return [
        f"{t}: {expected.get(t)} -> {got.get(t)}"
        for t in sorted({*expected, *got})
        if expected.get(t) != got.get(t)
    ]

"""Forward-only SQL migrations from ``infra/db/migrations``.

Each ``NNNN_name.sql`` file runs once, in its own transaction, and is recorded with its checksum in
``schema_migrations``; an applied file that later changes is refused rather than silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Session advisory lock key ("HSLR"): serialises concurrent migrators, e.g. several workers starting at once.
_LOCK_KEY = 0x48534C52


class MigrationError(RuntimeError):
    """Raised when the database and the migration files disagree."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path
    checksum: str


def migrations_dir() -> Path:
    """Return the migrations folder (``Settings.hslr_migrations_dir`` overrides the repository one)."""
    from streams.settings import settings

    override = settings().hslr_migrations_dir
    return Path(override) if override else Path(__file__).resolve().parents[2] / "infra" / "db" / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    """List the migration files in version order, rejecting misnamed or duplicate versions."""
    directory = directory or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_lower_snake.sql")
        number = int(m.group(1))
        if number in found:
            raise MigrationError(f"{path.name} and {found[number].path.name} share version {number:04d}")
        found[number] = Migration(path.stem, path, hashlib.sha256(path.read_bytes()).hexdigest())
    return [found[n] for n in sorted(found)]


def _applied(conn: psycopg.Connection) -> dict[str, str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def _check_history(files: list[Migration], applied: dict[str, str]) -> None:
    by_version = {m.version: m for m in files}
    for version, checksum in sorted(applied.items()):
        m = by_version.get(version)
        if m is None:
            raise MigrationError(f"database has migration {version}, which this checkout does not have")
        if m.checksum != checksum:
            raise MigrationError(
                f"{m.path.name} changed after it was applied (checksum {checksum[:12]} -> {m.checksum[:12]});"
                " add a new migration instead of editing an applied one"
            )


def migrate(conn: psycopg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations.

    Parameters
    ----------
    conn
        Open connection; each migration commits in its own transaction (a savepoint inside a
        transaction the caller already opened).
    directory
        Folder of ``NNNN_name.sql`` files; ``None`` uses :func:`migrations_dir`.

    Returns
    -------
    list of str
        Versions applied by this call, in order; empty when the database was up to date.

    Raises
    ------
    MigrationError
        If an applied file changed, or the database holds a version unknown to the files.
    """
    files = discover(directory)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.transaction():
            applied = _applied(conn)
        _check_history(files, applied)
        done: list[str] = []
        for m in files:
            if m.version in applied:
                continue
            with conn.transaction():
                conn.execute(m.path.read_text(encoding="utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (m.version, m.checksum),
                )
            done.append(m.version)
        return done
    finally:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))

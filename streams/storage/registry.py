"""The ``model_registry`` table: one row per saved model artifact (see infra/db/migrations)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg

from models.artifacts import ArtifactMeta, json_default

_INSERT = (
    "INSERT INTO model_registry (model_id, kind, version, created_at, training_from, training_to, features,"
    " params, metrics, code_version, data_hash, path, model_sha256)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s, %s)"
)


def model_id(meta: ArtifactMeta) -> str:
    """Return the registry key ``<kind>:<version>``."""
    return f"{meta.kind}:{meta.version}"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=json_default, sort_keys=True)


def register_model(conn: psycopg.Connection, meta: ArtifactMeta, path: str) -> str:
    """Insert the artifact's row and commit; return its ``model_id``.

    Parameters
    ----------
    conn : psycopg.Connection
        Open connection (``streams.storage.db.connect()``).
    meta : ArtifactMeta
        Metadata of the saved artifact (versions are immutable: a second insert of the same
        ``kind``/``version`` fails with a unique violation).
    path : str
        Where the artifact directory lives.
    """
    mid = model_id(meta)
    with conn.cursor() as cur:
        cur.execute(
            _INSERT,
            (
                mid,
                meta.kind,
                meta.version,
                meta.created_at,
                meta.training_from,
                meta.training_to,
                _dumps(list(meta.features)),
                _dumps(meta.params),
                _dumps(meta.metrics),
                meta.code_version,
                meta.data_hash,
                path,
                meta.model_sha256,
            ),
        )
    conn.commit()
    return mid


@dataclass(frozen=True)
class ModelRow:
    kind: str
    version: str
    created_at: str
    training_from: str
    training_to: str
    path: str
    model_sha256: str
    promoted: bool


_ROWS = (
    "SELECT r.kind, r.version, r.created_at::text, coalesce(r.training_from::text, ''),"
    " coalesce(r.training_to::text, ''), coalesce(r.path, ''), coalesce(r.model_sha256, ''),"
    " r.version IS NOT DISTINCT FROM (SELECT p.version FROM model_promotions p WHERE p.kind = r.kind"
    " ORDER BY p.id DESC LIMIT 1)"
    " FROM model_registry r"
)


def list_models(conn: psycopg.Connection, kind: str | None = None) -> list[ModelRow]:
    """Every registered artifact (of ``kind`` when given), newest first, with its promoted flag."""
    where, args = (" WHERE r.kind = %s", (kind,)) if kind else ("", ())
    with conn.cursor() as cur:
        cur.execute(_ROWS + where + " ORDER BY r.kind, r.created_at DESC, r.version DESC", args)
        return [ModelRow(*row) for row in cur.fetchall()]


def find_model(conn: psycopg.Connection, version: str, kind: str | None = None) -> ModelRow:
    """The row of ``version`` (``kind:version`` or a bare version); ValueError when none or ambiguous."""
    if ":" in version:
        kind, version = version.split(":", 1)
    rows = [r for r in list_models(conn, kind) if r.version == version]
    if len(rows) != 1:
        what = "no" if not rows else f"{len(rows)} ({', '.join(r.kind for r in rows)}; add --kind)"
        raise ValueError(f"{what} registered model with version {version!r}; see `hslr models list`")
    return rows[0]


def promotions(conn: psycopg.Connection, kind: str) -> list[tuple[str, str]]:
    """``(version, action)`` of ``kind``'s promotions, oldest first."""
    with conn.cursor() as cur:
        cur.execute("SELECT version, action FROM model_promotions WHERE kind = %s ORDER BY id", (kind,))
        return [(str(v), str(a)) for v, a in cur.fetchall()]


def record_promotion(conn: psycopg.Connection, row: ModelRow, action: str, previous: str | None) -> None:
    """Append a promotion (``promote`` or ``rollback``) of ``row`` and commit."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO model_promotions (kind, version, action, previous) VALUES (%s, %s, %s, %s)",
            (row.kind, row.version, action, previous),
        )
    conn.commit()

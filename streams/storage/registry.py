"""The ``model_registry`` table: one row per saved model artifact (see infra/db/migrations)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from models.artifacts import ArtifactMeta, json_default

_INSERT = (
    "INSERT INTO model_registry (model_id, kind, version, created_at, training_from, training_to, features,"
    " params, metrics, code_version, data_hash, path)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s)"
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
            ),
        )
    conn.commit()
    return mid

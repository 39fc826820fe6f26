"""Model promotion and rollback: which registered artifact version the workers run.

The registry (``model_registry``) has a row per trained artifact with its checksum; ``model_promotions``
is the history. Promoting verifies the artifact against its row (kind, version, sha256 of the payload)
and points ``<kind root>/promoted`` at it; the DAG loads ``promoted`` instead of ``latest`` when it
exists (:func:`streams.dag._model_path`), so training a new model never changes what runs until an
operator promotes it. A rollback returns to the version promoted before the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.artifacts import PROMOTED, point, verify_artifact
from streams.storage.registry import ModelRow, find_model, promotions, record_promotion


def register(path: str | Path, conn: Any = None) -> str:
    """Insert the registry row (version, metadata, payload sha256) of the saved artifact at ``path``; return
    its ``kind:version``. Opens a connection from the settings when ``conn`` is None."""
    from models.artifacts import read_meta
    from streams.storage.db import connect
    from streams.storage.registry import register_model

    meta = read_meta(path)  # the saved metadata: it holds the payload's sha256
    if conn is not None:
        return register_model(conn, meta, str(path))
    with connect() as own:
        return register_model(own, meta, str(path))


def promotion_stack(history: Sequence[tuple[str, str]]) -> list[str]:
    """The versions a rollback walks back through: a promotion pushes, a rollback pops the current one."""
    stack: list[str] = []
    for version, action in history:
        if action == "rollback":
            stack = stack[:-1]  # the rolled-back version; ``version`` is now on top
            if not stack or stack[-1] != version:  # a history edited by hand: trust the record
                stack.append(version)
        else:
            stack.append(version)
    return stack


def _activate(conn: Any, row: ModelRow, action: str, previous: str | None) -> ModelRow:
    verify_artifact(row.path, kind=row.kind, version=row.version, sha256=row.model_sha256)
    point(Path(row.path).parent, PROMOTED, row.version)
    record_promotion(conn, row, action, previous)
    return row


def current(conn: Any, kind: str) -> str | None:
    """The promoted version of ``kind`` (None before the first promotion)."""
    stack = promotion_stack(promotions(conn, kind))
    return stack[-1] if stack else None


def promote(conn: Any, version: str, kind: str | None = None) -> ModelRow:
    """Verify and promote a registered version (``kind:version`` or a bare version)."""
    row = find_model(conn, version, kind)
    return _activate(conn, row, "promote", current(conn, row.kind))


def rollback(conn: Any, kind: str) -> ModelRow:
    """Promote again the version that was promoted before the current one of ``kind``."""
    stack = promotion_stack(promotions(conn, kind))
    if len(stack) < 2:
        raise ValueError(f"nothing to roll back to: {kind} has {len(stack)} promotion(s) in its history")
    row = find_model(conn, stack[-2], kind)
    return _activate(conn, row, "rollback", stack[-1])

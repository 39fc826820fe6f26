"""Run records in PostgreSQL: ``backtest_runs`` (one row per run) and ``walkforward_folds`` (one per fold).

Every statement is an upsert, so a repeated or resumed run rewrites its rows. Callers treat the tables as
a convenience: the run directory is the record.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg


def upsert_run(
    conn: psycopg.Connection,
    run_id: str,
    kind: str,
    config: dict[str, Any],
    code_version: str,
    summary: dict[str, Any],
    *,
    replace_summary: bool = True,
) -> None:
    """Insert a ``backtest_runs`` row; an existing row gets the new summary, or is kept when
    ``replace_summary`` is false (a resumed walk-forward run keeps its first record)."""
    conflict = "DO UPDATE SET summary = EXCLUDED.summary" if replace_summary else "DO NOTHING"
    conn.execute(
        "INSERT INTO backtest_runs (run_id, kind, config, code_version, summary) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
        f" ON CONFLICT (run_id) {conflict}",
        (run_id, kind, json.dumps(config), code_version, json.dumps(summary, default=str)),
    )


def update_run_summary(conn: psycopg.Connection, run_id: str, summary: dict[str, Any]) -> None:
    """Replace the summary of an existing ``backtest_runs`` row."""
    conn.execute("UPDATE backtest_runs SET summary = %s WHERE run_id = %s", (json.dumps(summary), run_id))


def upsert_fold(
    conn: psycopg.Connection, run_id: str, fold: dict[str, Any], model_id: str, metrics: dict[str, Any]
) -> None:
    """Insert or replace a ``walkforward_folds`` row; ``fold`` holds ``k`` and the four window bounds (epoch ms)."""
    conn.execute(
        "INSERT INTO walkforward_folds (run_id, fold, train_from, train_to, test_from, test_to,"
        " model_id, metrics) VALUES (%s, %s, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0),"
        " to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), %s, %s) ON CONFLICT (run_id, fold)"
        " DO UPDATE SET model_id = EXCLUDED.model_id, metrics = EXCLUDED.metrics",
        (
            run_id,
            fold["k"],
            fold["train_from"],
            fold["train_to"],
            fold["test_from"],
            fold["test_to"],
            model_id,
            json.dumps(metrics),
        ),
    )

"""Governance records in PostgreSQL: idempotent upserts into governance_metrics (key: namespace, ts)."""

from __future__ import annotations

import math

import psycopg

from streams.core.batch import Batch


def _num(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)  # NaN (no evidence yet) is stored as NULL


def save_governance(conn: psycopg.Connection, records: Batch, namespace: str) -> int:
    """Upsert ``governance`` topic records (schemas/governance.avsc) into governance_metrics.

    ``namespace`` is the records' topic namespace (``hslr`` live, a fresh one per backtest); rows are
    keyed by ``(namespace, ts)``, so namespaces never overwrite each other's rows. Re-saving the same
    records changes nothing; a record with an existing ``(namespace, ts)`` replaces that row (the stage
    emits one record per timestamp). Returns the number of records written.
    """
    if records.n == 0:
        return 0
    rows = [
        (namespace, int(ts), _num(ic), _num(kl), _num(ea), str(state), str(action))
        for ts, ic, kl, ea, state, action in zip(
            records["ts"].tolist(),
            records["ic"].tolist(),
            records["kl_divergence"].tolist(),
            records["entropy_avg"].tolist(),
            records["state"].tolist(),
            records["action"].tolist(),
            strict=True,
        )
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO governance_metrics (namespace, ts, ic, kl_divergence, entropy_avg, state, action)"
            " VALUES (%s, to_timestamp(%s / 1000.0), %s, %s, %s, %s, %s)"
            " ON CONFLICT (namespace, ts) DO UPDATE SET ic = EXCLUDED.ic,"
            " kl_divergence = EXCLUDED.kl_divergence,"
            " entropy_avg = EXCLUDED.entropy_avg, state = EXCLUDED.state, action = EXCLUDED.action"
            " WHERE (governance_metrics.ic, governance_metrics.kl_divergence, governance_metrics.entropy_avg,"
            " governance_metrics.state, governance_metrics.action) IS DISTINCT FROM"
            " (EXCLUDED.ic, EXCLUDED.kl_divergence, EXCLUDED.entropy_avg, EXCLUDED.state, EXCLUDED.action)",
            rows,
        )
    conn.commit()
    return records.n

"""The ``calendar_events`` table: idempotent upsert and load of economic-calendar events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from streams.core.batch import Batch

_COLUMNS = ("event_id", "ts", "currency", "impact", "title", "actual", "forecast", "previous", "source")
_UPSERT = (
    f"INSERT INTO calendar_events ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "  # noqa: S608 - identifiers are module constants; every value is a bound parameter
    "ON CONFLICT (event_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])
    + " WHERE ("
    + ", ".join(f"calendar_events.{c}" for c in _COLUMNS[1:])
    + ") IS DISTINCT FROM ("
    + ", ".join(f"EXCLUDED.{c}" for c in _COLUMNS[1:])
    + ")"
)


def _rows(batch: Batch) -> list[tuple[Any, ...]]:
    # one row per event_id (the last wins, as on the calendar topic): ON CONFLICT cannot touch a row twice
    ids = batch["event_id"].astype(str)
    _, first_rev = np.unique(ids[::-1], return_index=True)
    keep = np.sort(len(ids) - 1 - first_rev)
    cols = {c: batch[c].tolist() for c in _COLUMNS if c != "ts"}
    ts = batch["ts"].tolist()
    return [
        tuple(datetime.fromtimestamp(ts[i] / 1000, tz=UTC) if c == "ts" else cols[c][i] for c in _COLUMNS)
        for i in keep.tolist()
    ]


def upsert_events(conn: psycopg.Connection, batch: Batch) -> int:
    """Insert or update ``calendar_event`` rows by ``event_id``; commit; return the rows written.

    Idempotent: re-importing the same events writes nothing (unchanged rows are skipped). Columns
    ``event_id, ts`` (int64 ms UTC), ``currency, impact, title, actual, forecast, previous, source``.
    """
    rows = _rows(batch)
    with conn.cursor() as cur:
        cur.executemany(_UPSERT, rows, returning=False)
        written = cur.rowcount
    conn.commit()
    return max(written, 0)


def load_events(
    conn: psycopg.Connection, start: datetime | None = None, end: datetime | None = None
) -> Batch:
    """Return stored events with ``start <= ts < end`` (None: unbounded) as calendar columns, sorted by ts.

    The ``*_value`` numbers are re-parsed from the stored text with ``streams.data.calendar.parse_value``.
    """
    from streams.data.calendar import parse_value
    from streams.stages.news.records import to_calendar_batch

    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM calendar_events WHERE ts >= %s AND ts < %s ORDER BY ts, event_id"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
    )
    lo = start or datetime(1970, 1, 1, tzinfo=UTC)
    hi = end or datetime(9999, 1, 1, tzinfo=UTC)
    with conn.cursor() as cur:
        cur.execute(sql, (lo, hi))
        rows = cur.fetchall()
    cols: dict[str, Any] = {c: [r[i] or "" for r in rows] for i, c in enumerate(_COLUMNS)}
    cols["ts"] = np.array([int(r[1].timestamp() * 1000) for r in rows], dtype=np.int64)
    for k in ("actual", "forecast", "previous"):
        cols[f"{k}_value"] = np.array([parse_value(v) for v in cols[k]], dtype=np.float64)
    return to_calendar_batch(cols, np.asarray(cols["source"], dtype=str))

"""Bars in PostgreSQL: idempotent upserts into price_data/spread_data and range loads for replays.

Spreads are stored in pips (``spread_data.spread``) and carried in price units everywhere else.
Writes go through COPY into a temporary table and one ``INSERT … ON CONFLICT DO UPDATE``: ingesting the
same file twice changes nothing, and a year of 1-minute bars loads in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import psycopg

from streams.core.batch import Batch
from streams.fx.pairs import pip_sizes


def save_bars(conn: psycopg.Connection, bars: Batch, *, commit: bool = True) -> np.ndarray:
    """Upsert ``bars`` (columns of schemas/bar.avsc) into price_data and spread_data.

    ``commit=False`` leaves the transaction open (the caller commits once the bars are published).

    Returns
    -------
    ndarray of bool, shape (n,)
        True for the rows that were new or changed (what a re-ingest of the same file must not publish).
    """
    if bars.n == 0:
        return np.zeros(0, dtype=bool)
    pips = bars["spread"] / pip_sizes(bars["pair"])
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _bars_in (pair TEXT, ts_ms BIGINT, open FLOAT8, high FLOAT8, low FLOAT8,"
            " close FLOAT8, volume FLOAT8, source TEXT, spread FLOAT8, modeled BOOLEAN) ON COMMIT DELETE ROWS"
        )
        cols = [bars[k].tolist() for k in ("pair", "ts", "open", "high", "low", "close", "volume", "source")]
        cols += [pips.tolist(), bars["spread_modeled"].tolist()]
        with cur.copy("COPY _bars_in FROM STDIN") as copy:
            for row in zip(*cols, strict=True):
                copy.write_row(row)
        cur.execute(
            "INSERT INTO price_data (pair, ts, open, high, low, close, volume, source)"
            " SELECT pair, to_timestamp(ts_ms / 1000.0), open, high, low, close, volume, source FROM _bars_in"
            " ON CONFLICT (pair, ts) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,"
            " low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source"
            " WHERE (price_data.open, price_data.high, price_data.low, price_data.close, price_data.volume)"
            " IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)"
            " RETURNING pair, (extract(epoch FROM ts) * 1000)::bigint"
        )
        changed = set(cur.fetchall())
        cur.execute(
            "INSERT INTO spread_data (pair, ts, spread, modeled)"
            " SELECT pair, to_timestamp(ts_ms / 1000.0), spread, modeled FROM _bars_in"
            " ON CONFLICT (pair, ts) DO UPDATE SET spread = EXCLUDED.spread, modeled = EXCLUDED.modeled"
            " WHERE (spread_data.spread, spread_data.modeled) IS DISTINCT FROM (EXCLUDED.spread, EXCLUDED.modeled)"
            " RETURNING pair, (extract(epoch FROM ts) * 1000)::bigint"
        )
        changed |= set(cur.fetchall())
    if commit:
        conn.commit()
    keys = zip(bars["pair"].tolist(), bars["ts"].tolist(), strict=True)
    return np.fromiter((k in changed for k in keys), dtype=bool, count=bars.n)


def load_bars(conn: psycopg.Connection, pairs: Sequence[str], start: datetime, end: datetime) -> Batch:
    """Bars of ``pairs`` with ``start <= ts < end``, sorted by (ts, pair), spreads back in price units."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT p.pair, (extract(epoch FROM p.ts) * 1000)::bigint, p.open, p.high, p.low, p.close,"
            " coalesce(p.volume, 0), coalesce(s.spread, 'NaN'), coalesce(s.modeled, TRUE), coalesce(p.source, '')"
            " FROM price_data p LEFT JOIN spread_data s ON s.pair = p.pair AND s.ts = p.ts"
            " WHERE p.pair = ANY(%s) AND p.ts >= %s AND p.ts < %s ORDER BY p.ts, p.pair",
            (list(pairs), start, end),
        )
        rows = cur.fetchall()
    names = ("pair", "ts", "open", "high", "low", "close", "volume", "spread", "spread_modeled", "source")
    if not rows:
        from streams.serde.avro import empty_batch

        return empty_batch("bar")
    cols = dict(zip(names, (list(c) for c in zip(*rows, strict=True)), strict=True))
    pair = np.array(cols["pair"], dtype=str)
    out = {
        "pair": pair,
        "ts": np.array(cols["ts"], dtype=np.int64),
        **{k: np.array(cols[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume")},
        "spread": np.array(cols["spread"], dtype=np.float64) * pip_sizes(pair),
        "spread_modeled": np.array(cols["spread_modeled"], dtype=bool),
        "source": np.array(cols["source"], dtype=str),
    }
    return Batch(out)


def save_quarantine(
    conn: psycopg.Connection,
    source: str,
    rows: Sequence[tuple[str, int | None, int | None, str, str]],
    namespace: str = "hslr",
    *,
    commit: bool = True,
) -> int:
    """Insert quarantined records ``(pair, ts_ms | None, line_no | None, reason, raw)`` of ``namespace``
    (the topic namespace the ingest published to); return the count. A file line already quarantined
    is kept as it is (key: source, line_no; migration 0005). NUL characters (which PostgreSQL text
    cannot hold) are stored escaped as ``\\x00``."""
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO quarantine (namespace, source, pair, ts, line_no, reason, raw)"
            " VALUES (%s, %s, %s, CASE WHEN %s::bigint IS NULL THEN NULL ELSE to_timestamp(%s::bigint / 1000.0) END,"
            " %s, %s, %s) ON CONFLICT (source, line_no) WHERE line_no IS NOT NULL DO NOTHING",
            [
                (
                    namespace,
                    source,
                    p,
                    t,
                    t,
                    ln,
                    reason.replace("\x00", "\\x00"),
                    raw.replace("\x00", "\\x00"),
                )
                for p, t, ln, reason, raw in rows
            ],
        )
    if commit:
        conn.commit()
    return len(rows)

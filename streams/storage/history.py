"""Read-only history queries for the API: one table per resource, keyset paging, bounded pages.

A page is the rows after (or, newest first, before) a cursor in ``(time, key)`` order, at most ``limit``
of them; the cursor is the last row's exact time (microseconds) and key, so paging never skips or
repeats a row whatever the page size, and deep pages cost an index range scan, not an OFFSET. Times go
out as epoch milliseconds (``ts``), as on the topics. Connections come from a small pool of read-only
sessions (:class:`ReaderPool`); a database that does not answer raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from streams.storage.db import connect_reader


class StoreUnavailable(RuntimeError):
    """The database does not answer (or dropped the connection)."""


@dataclass(frozen=True)
class Table:
    """How one resource is read: ``source`` (FROM clause, alias ``t``), its output ``columns``
    (name → SQL expression), the time column and the tie-breaking key column."""

    source: str
    columns: tuple[tuple[str, str], ...]
    time: str = "t.ts"
    key: str | None = "t.pair"
    namespaced: bool = True
    by_pair: bool = True


def _ms(expr: str) -> str:
    return f"(extract(epoch FROM {expr}) * 1000)::bigint"


def _plain(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, _ms(f"t.{n}") if n == "ts" else f"t.{n}") for n in names)


TABLES: dict[str, Table] = {
    "bars": Table(
        "price_data t LEFT JOIN spread_data s ON s.pair = t.pair AND s.ts = t.ts",
        (
            *_plain("pair", "ts", "open", "high", "low", "close", "volume", "source"),
            ("spread_pips", "s.spread"),
            ("spread_modeled", "s.modeled"),
        ),
        namespaced=False,
    ),
    "features": Table("features t", _plain("pair", "ts", "ready", "feature_vector")),
    "regime": Table(
        "regime_output t",
        _plain(
            "pair",
            "ts",
            "prob_stable",
            "prob_directional",
            "prob_event",
            "entropy",
            "tradeable",
            "regime",
            "override_reason",
        ),
    ),
    "signals": Table(
        "signals t",
        _plain("pair", "ts", "expected_return", "win_prob", "cvar", "n_eff", "passed", "blocked_by"),
    ),
    "orders": Table(
        "orders t",
        (
            *_plain("client_order_id", "pair", "ts", "side", "qty", "order_type", "limit_price"),
            *_plain("status", "reason"),
            ("updated_at", _ms("t.updated_at")),
        ),
        key="t.client_order_id",
    ),
    "fills": Table(
        "fills t",
        _plain(
            "fill_id", "client_order_id", "pair", "ts", "qty", "price", "liquidity", "fee", "slippage_pips"
        ),
        key="t.fill_id",
    ),
    "positions": Table("positions t", _plain("pair", "ts", "size", "avg_price", "unrealized_pnl")),
    "equity": Table(
        "equity t", _plain("ts", "equity", "high_water_mark", "drawdown"), key=None, by_pair=False
    ),
    "governance": Table(
        "governance_metrics t",
        _plain("ts", "ic", "kl_divergence", "entropy_avg", "state", "action"),
        key=None,
        by_pair=False,
    ),
    "runs": Table(
        "backtest_runs t",
        (*_plain("run_id", "kind", "code_version", "data_hash", "summary"), ("ts", _ms("t.created_at"))),
        time="t.created_at",
        key="t.run_id",
        namespaced=False,
        by_pair=False,
    ),
}
"""Resource name → how it is read."""


@dataclass(frozen=True)
class PageQuery:
    """One page request: filters, direction, size and the cursor of the previous page."""

    namespace: str = "hslr"
    pair: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    newest_first: bool = False
    after: tuple[datetime, str | None] | None = None
    """(time, key) of the previous page's last row."""


def _where(table: Table, q: PageQuery) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if table.namespaced:
        clauses.append("t.namespace = %s")
        params.append(q.namespace)
    if table.by_pair and q.pair is not None:
        clauses.append("t.pair = %s")
        params.append(q.pair)
    if q.start is not None:
        clauses.append(f"{table.time} >= %s")
        params.append(q.start)
    if q.end is not None:
        clauses.append(f"{table.time} < %s")
        params.append(q.end)
    if q.after is not None:
        op = "<" if q.newest_first else ">"
        if table.key is None:
            clauses.append(f"{table.time} {op} %s")
            params.append(q.after[0])
        else:
            clauses.append(f"({table.time}, {table.key}) {op} (%s, %s)")
            params.extend(q.after)
    return clauses, params


def read_page(
    conn: psycopg.Connection, resource: str, q: PageQuery
) -> tuple[list[dict[str, Any]], tuple[datetime, str | None] | None]:
    """Read one page of ``resource`` (a key of :data:`TABLES`).

    Returns
    -------
    rows, next
        Up to ``q.limit`` rows (column name → value, times in epoch ms) and the cursor of the next page
        (``None`` on the last page).
    """
    table = TABLES[resource]
    clauses, params = _where(table, q)
    direction = "DESC" if q.newest_first else "ASC"
    order = ", ".join(f"{c} {direction}" for c in (table.time, table.key) if c)
    cols = ", ".join(f"{expr} AS {name}" for name, expr in table.columns)
    key = f", {table.key}::text AS _key" if table.key else ""
    sql = (
        f"SELECT {cols}, {table.time} AS _time{key} FROM {table.source}"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + f" ORDER BY {order} LIMIT %s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, [*params, q.limit + 1])
        rows = cur.fetchall()
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    cursor = (rows[-1]["_time"], rows[-1].get("_key")) if more and rows else None
    for r in rows:
        r.pop("_time")
        r.pop("_key", None)
    return rows, cursor


class ReaderPool:
    """Up to ``size`` idle read-only connections to ``dsn``, reused across requests (thread-safe)."""

    def __init__(self, dsn: str, size: int = 4) -> None:
        self.dsn, self.size = dsn, size
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; a broken one is closed instead of returned.

        Raises
        ------
        StoreUnavailable
            The database refused or dropped the connection.
        """
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None or conn.closed:
                conn = connect_reader(self.dsn)
            yield conn
        except psycopg.OperationalError as exc:
            if conn is not None:
                conn.close()
            raise StoreUnavailable(f"database unavailable ({type(exc).__name__})") from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        with self._lock:
            if len(self._idle) < self.size and not conn.closed:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

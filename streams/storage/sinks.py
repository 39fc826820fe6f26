"""Topic → PostgreSQL writers: one idempotent ``write_<topic>(conn, batch, namespace)`` per DAG topic.

Each writer takes a decoded topic batch (columns of the topic's schema, in topic order) and the
namespace the topic was read from (Kafka topic ``<namespace>.<key>``: ``hslr`` live, a fresh one per
backtest), COPYs the batch into a temporary table and upserts from there with ``INSERT … ON CONFLICT``
on the table's primary key (see ``infra/db/migrations/0001_init.sql``, ``0004_stream_sinks.sql`` and
``0005_sink_namespace.sql``), then commits. Every row carries its ``namespace`` and every key starts
with it — ``(namespace, pair, ts)``, ``(namespace, ts)``, ``(namespace, client_order_id)``,
``(namespace, fill_id)`` — so a backtest's sinks never overwrite the live rows of the same keys.
Writing the same batch twice (a Kafka redelivery or a replay) leaves the same rows; unchanged rows are
not rewritten. Within one batch the last record of a key wins, as it would on the topic. NaN is stored
as NULL.

Two tables have no namespace column: ``dead_letters`` is keyed by the original message's full topic
name, which already holds the namespace, and ``calendar_events`` holds the same economic events in every
namespace (key ``event_id``). Stream quarantine rows are keyed by namespace as well; quarantine rows of
ingested files (written by ingest, not by a sink) keep the default namespace ``hslr``.

``bars.clean`` has no writer: price_data is written by ingest and the synthetic-data loader, before
the bars are published. Order statuses only move forward (NEW → PARTIALLY_FILLED → PENDING_CANCEL →
FILLED / CANCELLED / REJECTED), so the ``orders`` and ``fills`` topics converge to the same rows in
whichever order they are written.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import psycopg

from streams.core.batch import Batch
from streams.serde.avro import default_store
from streams.storage.calendar_store import upsert_events
from streams.storage.governance_store import save_governance

_TS = "to_timestamp(ts_ms / 1000.0)"
_BAR_FIELDS = frozenset(default_store().schema("bar").fields)
FEATURE_COLUMNS: tuple[str, ...] = tuple(
    f for f in default_store().schema("features").fields if f not in _BAR_FIELDS and f != "ready"
)
"""Columns of a features record stored in ``features.feature_vector`` (the bar's own fields are in price_data)."""

_STATUS_RANK = {
    "NEW": 0,
    "PARTIALLY_FILLED": 1,
    "PENDING_CANCEL": 2,
    "FILLED": 3,
    "CANCELLED": 3,
    "REJECTED": 3,
}


def _rank(expr: str) -> str:
    cases = " ".join(f"WHEN '{s}' THEN {r}" for s, r in _STATUS_RANK.items())
    return f"(CASE {expr} {cases} ELSE 3 END)"


def _clean(values: list[Any]) -> list[Any]:
    # NaN/inf mean "no value" in the records; PostgreSQL and JSON get NULL
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]


def _col(batch: Batch, name: str) -> list[Any]:
    return _clean(np.asarray(batch[name]).tolist())


def _copy_upsert(
    conn: psycopg.Connection,
    temp: str,
    columns: str,
    rows: Sequence[Sequence[Any]],
    statements: Sequence[str],
) -> None:
    """COPY ``rows`` (from :func:`_rows`: sequence number, namespace, then ``columns``) into temp table
    ``temp`` and run ``statements``."""
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} (seq BIGINT, namespace TEXT, {columns})"
            " ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {temp} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for sql in statements:
            cur.execute(sql)
    conn.commit()


def _rows(batch: Batch, namespace: str, *cols: list[Any]) -> list[tuple[Any, ...]]:
    return list(zip(range(batch.n), repeat(namespace, batch.n), *cols, strict=True))


def write_bars_clean(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Write nothing: price_data is written where bars enter (ingest, synth). Returns 0."""
    return 0


def write_features(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``features`` records into ``features`` (feature_vector = the FEATURE_COLUMNS as JSON).

    Returns the number of records given.
    """
    if not batch.n:
        return 0
    values = [_col(batch, c) for c in FEATURE_COLUMNS]
    vectors = [json.dumps(dict(zip(FEATURE_COLUMNS, row, strict=True))) for row in zip(*values, strict=True)]
    _copy_upsert(
        conn,
        "_sink_features",
        "pair TEXT, ts_ms BIGINT, fv JSONB, ready BOOLEAN",
        _rows(batch, namespace, _col(batch, "pair"), _col(batch, "ts"), vectors, _col(batch, "ready")),
        [
            "INSERT INTO features (namespace, pair, ts, feature_vector, ready)"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            f" SELECT DISTINCT ON (namespace, pair, ts_ms) namespace, pair, {_TS}, fv, ready"
            " FROM _sink_features ORDER BY namespace, pair, ts_ms, seq DESC"
            " ON CONFLICT (namespace, pair, ts) DO UPDATE"
            " SET feature_vector = EXCLUDED.feature_vector, ready = EXCLUDED.ready"
            " WHERE (features.feature_vector, features.ready) IS DISTINCT FROM (EXCLUDED.feature_vector, EXCLUDED.ready)"
        ],
    )
    return batch.n


def _upsert_sql(table: str, temp: str, key: tuple[str, ...], cols: tuple[str, ...]) -> str:
    """INSERT … SELECT DISTINCT ON (key) … ON CONFLICT (key) DO UPDATE of ``cols`` when any differs."""
    tkey = ", ".join("ts_ms" if k == "ts" else k for k in key)
    sel = ", ".join(_TS if c == "ts" else c for c in (*key, *cols))
    new, old = ", ".join(f"EXCLUDED.{c}" for c in cols), ", ".join(f"{table}.{c}" for c in cols)
    return (
        f"INSERT INTO {table} ({', '.join((*key, *cols))}) SELECT DISTINCT ON ({tkey}) {sel} FROM {temp}"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
        f" ORDER BY {tkey}, seq DESC ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
        + f" WHERE ({old}) IS DISTINCT FROM ({new})"
    )


_REGIME = (
    "prob_stable",
    "prob_directional",
    "prob_event",
    "entropy",
    "tradeable",
    "regime",
    "override_reason",
)


def write_regime_adjusted(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``regime.adjusted`` records into ``regime_output`` (override_reason NULL when none)."""
    if not batch.n:
        return 0
    reason = [r or None for r in _col(batch, "override_reason")]
    cols = [_col(batch, c) for c in _REGIME[:-1]] + [reason]
    _copy_upsert(
        conn,
        "_sink_regime",
        "pair TEXT, ts_ms BIGINT, prob_stable FLOAT8, prob_directional FLOAT8,"
        " prob_event FLOAT8, entropy FLOAT8, tradeable BOOLEAN, regime TEXT, override_reason TEXT",
        _rows(batch, namespace, _col(batch, "pair"), _col(batch, "ts"), *cols),
        [_upsert_sql("regime_output", "_sink_regime", ("namespace", "pair", "ts"), _REGIME)],
    )
    return batch.n


_SIGNAL = ("expected_return", "win_prob", "cvar", "n_eff", "passed", "blocked_by")


def write_signals_governed(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``signals.governed`` records into ``signals``."""
    if not batch.n:
        return 0
    _copy_upsert(
        conn,
        "_sink_signals",
        "pair TEXT, ts_ms BIGINT, expected_return FLOAT8, win_prob FLOAT8,"
        " cvar FLOAT8, n_eff FLOAT8, passed BOOLEAN, blocked_by TEXT",
        _rows(batch, namespace, *(_col(batch, c) for c in ("pair", "ts", *_SIGNAL))),
        [_upsert_sql("signals", "_sink_signals", ("namespace", "pair", "ts"), _SIGNAL)],
    )
    return batch.n


def write_portfolio(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``portfolio`` records: pair rows into ``positions``, account rows (pair '') into ``equity``.

    positions.realized_pnl and .pnl stay NULL: a pair row's realised PnL is the account's, not the
    pair's (per-pair realised PnL is the sum of its fills' ``realized_pnl_usd``).
    """
    if not batch.n:
        return 0
    pair = _col(batch, "pair")
    _copy_upsert(
        conn,
        "_sink_portfolio",
        "pair TEXT, ts_ms BIGINT, size FLOAT8, avg_price FLOAT8,"
        " unrealized_pnl FLOAT8, equity FLOAT8, high_water_mark FLOAT8, drawdown FLOAT8",
        _rows(
            batch,
            namespace,
            pair,
            *(
                _col(batch, c)
                for c in (
                    "ts",
                    "position_units",
                    "avg_price",
                    "unrealized_pnl_usd",
                    "equity_usd",
                    "hwm_usd",
                    "drawdown",
                )
            ),
        ),
        [
            _upsert_sql(
                "positions",
                "(SELECT * FROM _sink_portfolio WHERE pair <> '') p",
                ("namespace", "pair", "ts"),
                ("size", "avg_price", "unrealized_pnl"),
            ),
            _upsert_sql(
                "equity",
                "(SELECT * FROM _sink_portfolio WHERE pair = '') a",
                ("namespace", "ts"),
                ("equity", "high_water_mark", "drawdown"),
            ),
        ],
    )
    return batch.n


_ORDER_TEMP = (
    "client_order_id TEXT, pair TEXT, ts_ms BIGINT, side TEXT, qty FLOAT8, limit_price FLOAT8,"
    " status TEXT, reason TEXT"
)
_ORDER_DESC = ("pair", "ts", "side", "qty", "order_type", "limit_price")


def _order_upsert(source: str, describe: bool) -> str:
    """Upsert orders from ``source``; descriptive columns are overwritten only when ``describe`` (a NEW
    instruction is authoritative; placeholders from reports and cancels only insert), while status and
    reason move only to a later status."""
    later = f"{_rank('EXCLUDED.status')} > {_rank('orders.status')}"
    sets = [f"{c} = EXCLUDED.{c}" for c in _ORDER_DESC] if describe else []
    sets += [
        f"status = CASE WHEN {later} THEN EXCLUDED.status ELSE orders.status END",
        f"reason = CASE WHEN {later} THEN EXCLUDED.reason ELSE orders.reason END",
        "updated_at = now()",
    ]
    changed = (
        f"({', '.join(f'orders.{c}' for c in _ORDER_DESC)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in _ORDER_DESC)}) OR "
        if describe
        else ""
    )
    return (
        "INSERT INTO orders"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
        " (namespace, client_order_id, pair, ts, side, qty, order_type, limit_price, status, reason)"
        f" SELECT namespace, client_order_id, pair, {_TS}, side, qty, 'LIMIT', limit_price, status, reason"
        f" FROM {source} ON CONFLICT (namespace, client_order_id)"
        f" DO UPDATE SET {', '.join(sets)} WHERE {changed}{later}"
    )


def _sides(batch: Batch) -> list[str]:
    return ["BUY" if s > 0 else "SELL" for s in np.asarray(batch["side"]).tolist()]


def write_orders(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``orders`` router instructions into ``orders`` (one row per client order id).

    NEW sets the order (status NEW, or REJECTED when its ``reason`` names a breached pre-trade limit);
    CANCEL moves it to PENDING_CANCEL with the cancel reason (execution reports then confirm CANCELLED).
    """
    if not batch.n:
        return 0
    action, reason = _col(batch, "action"), _col(batch, "reason")
    status = [
        "PENDING_CANCEL" if a == "CANCEL" else "REJECTED" if r else "NEW"
        for a, r in zip(action, reason, strict=True)
    ]
    last = (
        "(SELECT DISTINCT ON (namespace, client_order_id) * FROM _sink_orders WHERE action = '{}'"
        " ORDER BY namespace, client_order_id, seq DESC) o"
    )
    _copy_upsert(
        conn,
        "_sink_orders",
        _ORDER_TEMP + ", action TEXT",
        _rows(
            batch,
            namespace,
            _col(batch, "client_order_id"),
            _col(batch, "pair"),
            _col(batch, "ts"),
            _sides(batch),
            _col(batch, "qty"),
            _col(batch, "limit_price"),
            status,
            [r or None for r in reason],
            action,
        ),
        [
            _order_upsert(last.format("NEW"), describe=True),
            _order_upsert(last.format("CANCEL"), describe=False),
        ],
    )
    return batch.n


def fill_id(client_order_id: str, ts: int) -> str:
    """Deterministic fill id: the paper broker fills an order at most once per bar."""
    return f"{client_order_id}:{ts}"


def write_fills(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``fills`` execution reports: order statuses into ``orders`` (inserting a placeholder order
    from the report when its NEW instruction has not been written yet, which keeps the foreign key of
    ``fills`` satisfied), and each fill (``last_qty > 0``) into ``fills``.

    fills.qty is the filled quantity in base units (unsigned; the side is the order's), price the fill
    price, liquidity ``maker`` (the router only posts limit orders inside the spread); fee and slippage
    are not reported by the broker and stay NULL.
    """
    if not batch.n:
        return 0
    coid, ts = _col(batch, "client_order_id"), _col(batch, "ts")
    fid = [fill_id(c, t) for c, t in zip(coid, ts, strict=True)]
    by_status = f"ORDER BY namespace, client_order_id, {_rank('status')} DESC, seq DESC"
    _copy_upsert(
        conn,
        "_sink_fills",
        _ORDER_TEMP + ", fill_id TEXT, last_qty FLOAT8, last_price FLOAT8",
        _rows(
            batch,
            namespace,
            coid,
            _col(batch, "pair"),
            ts,
            _sides(batch),
            _col(batch, "order_qty"),
            _col(batch, "limit_price"),
            _col(batch, "status"),
            [r or None for r in _col(batch, "reason")],
            fid,
            _col(batch, "last_qty"),
            _col(batch, "last_price"),
        ),
        [
            _order_upsert(
                f"(SELECT DISTINCT ON (namespace, client_order_id) * FROM _sink_fills {by_status}) r",  # noqa: S608 - identifiers are module constants; every value is a bound parameter
                describe=False,
            ),
            "INSERT INTO fills (namespace, fill_id, client_order_id, pair, ts, qty, price, liquidity)"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            " SELECT DISTINCT ON (namespace, fill_id) namespace, fill_id, client_order_id, pair,"
            f" {_TS}, last_qty, last_price, 'maker'"
            " FROM _sink_fills WHERE last_qty > 0 ORDER BY namespace, fill_id, seq DESC"
            " ON CONFLICT (namespace, fill_id) DO UPDATE SET qty = EXCLUDED.qty, price = EXCLUDED.price"
            " WHERE (fills.qty, fills.price) IS DISTINCT FROM (EXCLUDED.qty, EXCLUDED.price)",
        ],
    )
    return batch.n


def write_governance(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``governance`` records into governance_metrics (``save_governance``)."""
    return save_governance(conn, batch, namespace)


def write_calendar(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``calendar`` events into calendar_events (``upsert_events``); returns the records given.

    ``namespace`` is not stored: an economic event is the same in every namespace (key ``event_id``).
    """
    if batch.n:
        upsert_events(conn, batch)
    return batch.n


def write_quarantine(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Insert ``quarantine`` records (source ``stream:<stage>``, line_no NULL); a repeat is a no-op.

    Key: (namespace, source, pair, ts, reason, md5(raw)).
    """
    if not batch.n:
        return 0
    source = [f"stream:{s}" for s in _col(batch, "stage")]
    _copy_upsert(
        conn,
        "_sink_quarantine",
        "source TEXT, pair TEXT, ts_ms BIGINT, reason TEXT, raw TEXT",
        _rows(
            batch,
            namespace,
            source,
            _col(batch, "pair"),
            _col(batch, "ts"),
            _col(batch, "reason"),
            _col(batch, "payload"),
        ),
        [
            "INSERT INTO quarantine (namespace, source, pair, ts, line_no, reason, raw)"  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            f" SELECT namespace, source, pair, {_TS}, NULL, reason, raw FROM _sink_quarantine ORDER BY seq"
            " ON CONFLICT (namespace, source, pair, ts, reason, md5(raw)) WHERE line_no IS NULL DO NOTHING"
        ],
    )
    return batch.n


def write_deadletter(conn: psycopg.Connection, batch: Batch, namespace: str) -> int:
    """Upsert ``deadletter`` records into ``dead_letters`` (key: topic, partition, offset, stage, md5 of value).

    ``namespace`` is not stored: each record's ``topic`` is the original message's full topic name,
    ``<namespace>.<key>``, so the key already tells namespaces apart.
    """
    if not batch.n:
        return 0
    value = [bytes(v) for v in batch["value"].tolist()]
    key = [None if k is None else bytes(k) for k in batch["key"].tolist()]
    ts = [t if t > 0 else None for t in _col(batch, "ts")]
    md5 = [hashlib.md5(v, usedforsecurity=False).hexdigest() for v in value]
    _copy_upsert(
        conn,
        "_sink_dead",
        "topic TEXT, part INTEGER, off BIGINT, stage TEXT, value_md5 TEXT,"
        " reason TEXT, error_kind TEXT, key BYTEA, value BYTEA, ts_ms BIGINT",
        _rows(
            batch,
            namespace,
            *(_col(batch, c) for c in ("topic", "partition", "offset", "stage")),
            md5,
            _col(batch, "reason"),
            [str(k) for k in _col(batch, "error_kind")],
            key,
            value,
            ts,
        ),
        [
            'INSERT INTO dead_letters (topic, partition, "offset", stage, value_md5, reason, error_kind, key, value, ts)'  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            f" SELECT DISTINCT ON (topic, part, off, stage, value_md5) topic, part, off, stage, value_md5, reason,"
            f" error_kind, key, value, {_TS} FROM _sink_dead ORDER BY topic, part, off, stage, value_md5, seq DESC"
            ' ON CONFLICT (topic, partition, "offset", stage, value_md5) DO UPDATE SET reason = EXCLUDED.reason,'
            " error_kind = EXCLUDED.error_kind WHERE (dead_letters.reason, dead_letters.error_kind)"
            " IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.error_kind)"
        ],
    )
    return batch.n


Writer = Callable[[psycopg.Connection, Batch, str], int]
"""``writer(conn, batch, namespace)`` → number of records given."""

WRITERS: dict[str, Writer] = {
    "bars.clean": write_bars_clean,
    "features": write_features,
    "regime.adjusted": write_regime_adjusted,
    "signals.governed": write_signals_governed,
    "portfolio": write_portfolio,
    "orders": write_orders,
    "fills": write_fills,
    "governance": write_governance,
    "quarantine": write_quarantine,
    "calendar": write_calendar,
    "deadletter": write_deadletter,
}
"""Topic key → writer."""

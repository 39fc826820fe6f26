"""Persistence sinks against the real PostgreSQL, Redis and Kafka: idempotent writers, a forward-only
Redis cache, and ``hslr worker --sinks`` end to end."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.binding.sink_agents import SinkWriter
from streams.binding.workers import fresh_namespace, worker
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.serde.avro import default_store
from streams.storage.db import connect
from streams.storage.redis_cache import LatestCache, cache_key, index_key
from streams.storage.sinks import FEATURE_COLUMNS, WRITERS
from tests.kit.bars import bars as make_bars
from tests.kit.records import records

pytestmark = pytest.mark.integration
MINUTE = 60_000
TUESDAY_2100 = 4_102_790_400_000  # 2100-01-05 00:00 UTC


SINK_TABLES = (
    "fills",
    "orders",
    "features",
    "regime_output",
    "signals",
    "positions",
    "equity",
    "governance_metrics",
    "quarantine",
)
"""Tables the sinks write with a namespace column (fills before orders: its foreign key)."""


@pytest.fixture
def ns(services: dict[str, str]) -> Iterator[str]:
    """A fresh topic namespace; its rows are deleted afterwards."""
    namespace = fresh_namespace("sink")
    yield namespace
    _delete_namespace(namespace)


def _delete_namespace(namespace: str) -> None:
    with connect() as c:
        for table in SINK_TABLES:
            c.execute(f"DELETE FROM {table} WHERE namespace = %s", (namespace,))  # noqa: S608
        c.commit()


@pytest.fixture
def tag(services: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A unique pair prefix and a unique base time far in the future; their rows are deleted afterwards."""
    prefix = f"T{uuid.uuid4().hex[:8]}"
    t0 = 4_000_000_000_000 + int(uuid.uuid4().int % 10**6) * 10 * MINUTE  # year 2096, unique per test
    yield prefix, t0
    with connect() as c:
        for table in ("fills", "orders", "features", "regime_output", "signals", "positions", "quarantine"):
            c.execute(f"DELETE FROM {table} WHERE pair LIKE %s", (prefix + "%",))  # noqa: S608
        for table in ("equity", "governance_metrics", "dead_letters"):
            c.execute(
                f"DELETE FROM {table} WHERE ts >= to_timestamp(%s / 1000.0)"  # noqa: S608
                " AND ts < to_timestamp(%s / 1000.0)",
                (t0, t0 + 10 * MINUTE),
            )
        c.execute("DELETE FROM calendar_events WHERE event_id LIKE %s", (prefix + "%",))
        c.commit()


def _snapshot(sql: str, arg: Any) -> list[tuple[Any, ...]]:
    with connect() as c:
        return c.execute(sql, arg).fetchall()


def _keyed(n: int, prefix: str, t0: int) -> dict[str, list[Any]]:
    # 3 pairs x n/3 minutes, plus a repeat of the first key whose later record must win
    pairs = [f"{prefix}{i % 3}" for i in range(n)] + [f"{prefix}0"]
    ts = [t0 + (i // 3) * MINUTE for i in range(n)] + [t0]
    return {"pair": pairs, "ts": ts}


TABLE_OF = {
    "features": "features",
    "regime.adjusted": "regime_output",
    "signals.governed": "signals",
    "quarantine": "quarantine",
}
STEM_OF = {
    "features": "features",
    "regime.adjusted": "regime_adjusted",
    "signals.governed": "governed_signal",
    "quarantine": "quarantine",
}


@pytest.mark.parametrize("topic", sorted(TABLE_OF))
def test_pair_keyed_writers_are_idempotent(tag: tuple[str, int], ns: str, topic: str) -> None:
    prefix, t0 = tag
    batch = records(STEM_OF[topic], 13, seed=len(topic), **_keyed(12, prefix, t0))
    sql = f"SELECT * FROM {TABLE_OF[topic]} WHERE pair LIKE %s ORDER BY pair, ts"  # noqa: S608
    with connect() as c:
        WRITERS[topic](c, batch, ns)
        first = _snapshot(sql, (prefix + "%",))
        WRITERS[topic](c, batch, ns)
        WRITERS[topic](c, batch.take(slice(5, 13)), ns)  # a redelivery from a committed offset on
    second = _snapshot(sql, (prefix + "%",))
    strip = (
        (lambda rows: [r[1:-1] for r in rows]) if topic == "quarantine" else (lambda rows: rows)
    )  # id, created
    assert strip(first) == strip(second)
    # 12 distinct (pair, ts) keys; quarantine keeps both records of the repeated key (different payloads)
    assert len(first) == (13 if topic == "quarantine" else 12)
    namespaces = _snapshot(
        f"SELECT DISTINCT namespace FROM {TABLE_OF[topic]} WHERE pair LIKE %s",  # noqa: S608 - identifiers are module constants; every value is a bound parameter
        (prefix + "%",),  # noqa: S608
    )
    assert namespaces == [(ns,)]
    if topic == "features":  # the later record of the repeated key won; NaN-free values round-trip
        row = _snapshot(
            "SELECT feature_vector, ready FROM features WHERE pair = %s AND ts = to_timestamp(%s / 1000.0)",
            (f"{prefix}0", t0),
        )[0]
        assert set(row[0]) == set(FEATURE_COLUMNS)
        assert row[0]["log_ret"] == pytest.approx(float(batch["log_ret"][12]))
        assert row[1] == bool(batch["ready"][12])
    if topic == "signals.governed":
        got = _snapshot(
            "SELECT win_prob, blocked_by FROM signals WHERE pair = %s ORDER BY ts", (f"{prefix}1",)
        )
        assert [g[0] for g in got] == pytest.approx([float(batch["win_prob"][i]) for i in (1, 4, 7, 10)])


def test_nan_is_stored_as_null(tag: tuple[str, int], ns: str) -> None:
    prefix, t0 = tag
    batch = records("features", 1, seed=3, pair=[f"{prefix}0"], ts=[t0], log_ret=[math.nan])
    with connect() as c:
        WRITERS["features"](c, batch, ns)
    (fv,) = _snapshot("SELECT feature_vector FROM features WHERE pair = %s", (f"{prefix}0",))[0]
    assert fv["log_ret"] is None
    assert fv["gk_vol"] == pytest.approx(float(batch["gk_vol"][0]))


def test_portfolio_goes_to_positions_and_equity(tag: tuple[str, int], ns: str) -> None:
    prefix, t0 = tag
    pairs = ["", f"{prefix}A", "", f"{prefix}A", f"{prefix}B"]
    ts = [t0, t0, t0 + MINUTE, t0 + MINUTE, t0 + MINUTE]
    batch = records("portfolio", 5, seed=4, pair=pairs, ts=ts)
    with connect() as c:
        for _ in range(2):
            WRITERS["portfolio"](c, batch, ns)
    pos = _snapshot(
        "SELECT pair, size, unrealized_pnl FROM positions WHERE pair LIKE %s ORDER BY ts, pair",
        (prefix + "%",),
    )
    assert [(p, s) for p, s, _ in pos] == [(pairs[i], float(batch["position_units"][i])) for i in (1, 3, 4)]
    eq = _snapshot(
        "SELECT equity, high_water_mark, drawdown FROM equity WHERE namespace = %s"
        " AND ts >= to_timestamp(%s / 1000.0) AND ts < to_timestamp(%s / 1000.0) ORDER BY ts",
        (ns, t0, t0 + 2 * MINUTE),
    )
    assert eq == [
        (float(batch["equity_usd"][i]), float(batch["hwm_usd"][i]), float(batch["drawdown"][i]))
        for i in (0, 2)
    ]


def _order_flow(prefix: str, t0: int) -> tuple[Batch, Batch]:
    """Two orders: A posted then filled in two parts; B posted then cancelled."""
    a, b = f"{prefix}oa", f"{prefix}ob"
    p = f"{prefix}X"
    orders = records(
        "order",
        3,
        seed=5,
        pair=[p] * 3,
        ts=[t0, t0, t0 + 2 * MINUTE],
        client_order_id=[a, b, b],
        action=["NEW", "NEW", "CANCEL"],
        side=[1, -1, -1],
        qty=[2000.0, 1000.0, 1000.0],
        reason=["", "", "halt"],
    )
    reports = records(
        "execution_report",
        5,
        seed=6,
        pair=[p] * 5,
        ts=[t0, t0, t0 + MINUTE, t0 + 2 * MINUTE, t0 + 2 * MINUTE],
        client_order_id=[a, b, a, a, b],
        status=["NEW", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED"],
        side=[1, -1, 1, 1, -1],
        order_qty=[2000.0, 1000.0, 2000.0, 2000.0, 1000.0],
        last_qty=[0.0, 0.0, 1000.0, 1000.0, 0.0],
        reason=["", "", "", "", "halt"],
    )
    return orders, reports


@pytest.mark.parametrize("fills_first", [False, True])
def test_orders_and_fills_converge_in_either_order(tag: tuple[str, int], ns: str, fills_first: bool) -> None:
    prefix, t0 = tag
    orders, reports = _order_flow(prefix, t0)
    steps = (
        [("fills", reports), ("orders", orders)] if fills_first else [("orders", orders), ("fills", reports)]
    )
    with connect() as c:
        for topic, batch in [*steps, *steps]:  # and a full replay
            WRITERS[topic](c, batch, ns)
    got = _snapshot(
        "SELECT client_order_id, ts, side, qty, limit_price, status, reason FROM orders"
        " WHERE pair LIKE %s ORDER BY client_order_id",
        (prefix + "%",),
    )
    assert [(g[0], int(g[1].timestamp() * 1000), g[2], g[3], g[5], g[6]) for g in got] == [
        (f"{prefix}oa", t0, "BUY", 2000.0, "FILLED", None),
        (f"{prefix}ob", t0, "SELL", 1000.0, "CANCELLED", "halt"),
    ]
    assert got[0][4] == pytest.approx(float(orders["limit_price"][0]))  # the NEW instruction's values won
    fills = _snapshot("SELECT fill_id, qty, price FROM fills WHERE pair LIKE %s ORDER BY ts", (prefix + "%",))
    assert [(f[0], f[1]) for f in fills] == [
        (f"{prefix}oa:{t0 + MINUTE}", 1000.0),
        (f"{prefix}oa:{t0 + 2 * MINUTE}", 1000.0),
    ]
    assert [f[2] for f in fills] == pytest.approx([float(reports["last_price"][i]) for i in (2, 3)])


def test_ts_keyed_and_other_writers_are_idempotent(tag: tuple[str, int], ns: str) -> None:
    prefix, t0 = tag
    gov = records("governance", 3, seed=7, ts=[t0, t0 + MINUTE, t0 + 2 * MINUTE])
    cal = records("calendar_event", 2, seed=8, event_id=[f"{prefix}e1", f"{prefix}e2"], ts=[t0, t0])
    dead = records(
        "dead_letter",
        3,
        seed=9,
        ts=[t0, t0, t0],
        topic=["x.bars"] * 3,
        partition=[0, 0, 0],
        offset=[7, 7, 8],
        stage=["market"] * 3,
        value=[b"\x00bad", b"\x00bad2", b"\x00bad"],
    )
    queries = {
        "governance": (
            "SELECT * FROM governance_metrics WHERE namespace = %s AND ts >= to_timestamp(%s / 1000.0)"
            " ORDER BY ts LIMIT 10",
            (ns, t0),
            gov,
            3,
        ),
        "calendar": (
            "SELECT * FROM calendar_events WHERE event_id LIKE %s ORDER BY event_id",
            (prefix + "%",),
            cal,
            2,
        ),
        "deadletter": (
            'SELECT topic, partition, "offset", stage, value, error_kind FROM dead_letters'
            ' WHERE ts = to_timestamp(%s / 1000.0) ORDER BY "offset", value',
            (t0,),
            dead,
            3,
        ),
    }
    with connect() as c:
        for topic, (sql, arg, batch, n) in queries.items():
            WRITERS[topic](c, batch, ns)
            first = _snapshot(sql, arg)
            WRITERS[topic](c, batch, ns)
            assert _snapshot(sql, arg) == first, topic
            assert len(first) == n, topic


def _same_keys(prefix: str, t0: int, v: dict[str, Any]) -> dict[str, Batch]:
    """One record per sink-keyed table, on keys fixed by ``prefix`` and ``t0``, with the values ``v``."""
    p, coid = f"{prefix}S", f"{prefix}so"
    return {
        "features": records(
            "features", 1, seed=20, pair=[p], ts=[t0], log_ret=[v["log_ret"]], ready=[v["ready"]]
        ),
        "portfolio": records(
            "portfolio",
            2,
            seed=21,
            pair=["", p],
            ts=[t0, t0],
            position_units=[0.0, v["size"]],
            equity_usd=[v["equity"], v["equity"]],
            hwm_usd=[100_000.0, 100_000.0],
            drawdown=[v["drawdown"], v["drawdown"]],
        ),
        "orders": records(
            "order",
            1,
            seed=22,
            pair=[p],
            ts=[t0],
            client_order_id=[coid],
            action=["NEW"],
            side=[v["side"]],
            qty=[v["qty"]],
            limit_price=[v["price"]],
            reason=[""],
        ),
        "fills": records(
            "execution_report",
            1,
            seed=23,
            pair=[p],
            ts=[t0 + MINUTE],
            client_order_id=[coid],
            status=[v["status"]],
            side=[v["side"]],
            order_qty=[v["qty"]],
            last_qty=[v["fill_qty"]],
            last_price=[v["price"]],
            limit_price=[v["price"]],
            reason=[""],
        ),
        "governance": records("governance", 1, seed=24, ts=[t0], ic=[v["ic"]], state=[v["state"]]),
        "quarantine": records(
            "quarantine",
            1,
            seed=25,
            stage=["market"],
            pair=[p],
            ts=[t0],
            reason=["duplicate bar"],
            payload=["{}"],
        ),
    }


def _rows_of(namespace: str, prefix: str, t0: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``namespace`` that :func:`_same_keys` writes, table by table."""
    span = (t0, t0 + 2 * MINUTE)
    between = "ts >= to_timestamp(%s / 1000.0) AND ts < to_timestamp(%s / 1000.0)"
    like = (namespace, prefix + "%")
    return {
        "features": _snapshot(
            "SELECT pair, (feature_vector->>'log_ret')::float8, ready FROM features"
            " WHERE namespace = %s AND pair LIKE %s",
            like,
        ),
        "positions": _snapshot(
            "SELECT pair, size FROM positions WHERE namespace = %s AND pair LIKE %s", like
        ),
        "equity": _snapshot(
            f"SELECT equity, drawdown FROM equity WHERE namespace = %s AND {between}",  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            (namespace, *span),
        ),
        "orders": _snapshot(
            "SELECT client_order_id, side, qty, limit_price, status FROM orders"
            " WHERE namespace = %s AND pair LIKE %s",
            like,
        ),
        "fills": _snapshot(
            "SELECT fill_id, client_order_id, qty, price FROM fills WHERE namespace = %s AND pair LIKE %s",
            like,
        ),
        "governance_metrics": _snapshot(
            f"SELECT ic, state FROM governance_metrics WHERE namespace = %s AND {between}",  # noqa: S608 - identifiers are module constants; every value is a bound parameter
            (namespace, *span),
        ),
        "quarantine": _snapshot(
            "SELECT source, pair, reason, raw FROM quarantine WHERE namespace = %s AND pair LIKE %s", like
        ),
    }


def test_namespaces_writing_the_same_keys_keep_their_own_rows(tag: tuple[str, int]) -> None:
    prefix, t0 = tag
    live, backtest = fresh_namespace("live"), fresh_namespace("bt")
    p, coid = f"{prefix}S", f"{prefix}so"
    values = {
        live: dict(
            log_ret=0.25,
            ready=True,
            size=1000.0,
            equity=100_000.0,
            drawdown=0.0,
            side=1,
            qty=1000.0,
            price=1.25,
            status="FILLED",
            fill_qty=1000.0,
            ic=0.125,
            state="normal",
        ),
        backtest: dict(
            log_ret=-0.5,
            ready=False,
            size=-3000.0,
            equity=90_000.0,
            drawdown=0.1,
            side=-1,
            qty=3000.0,
            price=1.5,
            status="PARTIALLY_FILLED",
            fill_qty=500.0,
            ic=-0.25,
            state="reduced",
        ),
    }
    fid = f"{coid}:{t0 + MINUTE}"
    want = {  # written by hand from ``values``
        live: {
            "features": [(p, 0.25, True)],
            "positions": [(p, 1000.0)],
            "equity": [(100_000.0, 0.0)],
            "orders": [(coid, "BUY", 1000.0, 1.25, "FILLED")],
            "fills": [(fid, coid, 1000.0, 1.25)],
            "governance_metrics": [(0.125, "normal")],
            "quarantine": [("stream:market", p, "duplicate bar", "{}")],
        },
        backtest: {
            "features": [(p, -0.5, False)],
            "positions": [(p, -3000.0)],
            "equity": [(90_000.0, 0.1)],
            "orders": [(coid, "SELL", 3000.0, 1.5, "PARTIALLY_FILLED")],
            "fills": [(fid, coid, 500.0, 1.5)],
            "governance_metrics": [(-0.25, "reduced")],
            "quarantine": [("stream:market", p, "duplicate bar", "{}")],
        },
    }
    try:
        with connect() as c:
            for namespace in (live, backtest):
                for topic, batch in _same_keys(prefix, t0, values[namespace]).items():
                    WRITERS[topic](c, batch, namespace)
            assert _rows_of(live, prefix, t0) == want[live]  # the backtest did not overwrite the live rows
            assert _rows_of(backtest, prefix, t0) == want[backtest]
            for topic, batch in _same_keys(prefix, t0, values[live]).items():  # a live redelivery
                WRITERS[topic](c, batch, live)
        assert _rows_of(live, prefix, t0) == want[live]
        assert _rows_of(backtest, prefix, t0) == want[backtest]
        (n_equity,) = _snapshot(
            "SELECT count(*) FROM equity WHERE namespace = ANY(%s) AND ts = to_timestamp(%s / 1000.0)",
            ([live, backtest], t0),
        )[0]
        assert n_equity == 2
    finally:
        _delete_namespace(live)
        _delete_namespace(backtest)


def test_redis_cache_never_moves_backwards(services: dict[str, str]) -> None:
    ns = fresh_namespace("sink")
    cache = LatestCache.connect(None, ns)
    try:
        b = records(
            "features",
            4,
            seed=10,
            pair=["EURUSD", "EURUSD", "GBPUSD", "EURUSD"],
            ts=[3 * MINUTE, 5 * MINUTE, 2 * MINUTE, 4 * MINUTE],
        )
        assert cache.update("features", b) == 2
        assert cache.get_ts("features", "EURUSD") == 5 * MINUTE
        assert cache.get("features", "EURUSD")["close"] == pytest.approx(float(b["close"][1]))
        older = records("features", 2, seed=11, pair=["EURUSD", "GBPUSD"], ts=[4 * MINUTE, 2 * MINUTE])
        assert cache.update("features", older) == 0  # a replay: older or equal, nothing moves
        assert cache.get("features", "EURUSD")["close"] == pytest.approx(float(b["close"][1]))
        assert cache.get("features", "GBPUSD")["close"] == pytest.approx(float(b["close"][2]))
        newer = records("features", 1, seed=12, pair=["GBPUSD"], ts=[9 * MINUTE])
        assert cache.update("features", newer) == 1
        assert cache.get_ts("features", "GBPUSD") == 9 * MINUTE
    finally:
        cache.client.delete(index_key(ns), *(cache_key(ns, "features", p) for p in ("EURUSD", "GBPUSD")))


def test_sink_writer_caches_the_latest_record_of_every_topic_the_api_streams(ns: str) -> None:
    # the worker's sink path (SinkWriter, as `hslr worker --sinks` runs it) must fill the cache that
    # `hslr api` streams from; before the API only bars.clean and features were cached, so the trader's
    # portfolio, orders and fills, the regime and governance never reached Redis
    cache = LatestCache.connect(None, ns)
    t0 = 4_200_000_000_000 + int(uuid.uuid4().int % 10**6) * 10 * MINUTE
    want: dict[tuple[str, str], int] = {}
    try:
        streamed = (
            "bars.clean",
            "features",
            "regime.adjusted",
            "signals.governed",
            "orders",
            "fills",
            "portfolio",
        )
        for k, topic in enumerate((*streamed, "governance")):
            stem = TOPICS[topic].schema
            pairless = "pair" not in default_store().schema(stem).fields
            pairs = {} if pairless else {"pair": ["GBPUSD", "USDJPY", "GBPUSD"]}
            batch = records(stem, 3, seed=20 + k, ts=[t0 + 2 * MINUTE, t0, t0 + MINUTE], **pairs)
            writer = SinkWriter(topic, ns)
            writer.write(batch, None)
            writer.close()
            for pair, ts in (
                (("", t0 + 2 * MINUTE),) if pairless else (("GBPUSD", t0 + 2 * MINUTE), ("USDJPY", t0))
            ):
                want[(topic, pair)] = ts
        assert {k: cache.get_ts(*k) for k in want} == want
        assert cache.versions() == want  # the index the API polls names exactly these
        assert cache.get("portfolio", "GBPUSD")["ts"] == t0 + 2 * MINUTE
    finally:
        cache.client.delete(index_key(ns), *(cache_key(ns, t, p) for t, p in want))


def test_worker_with_sinks_persists_features_and_caches_the_latest(
    services: dict[str, str], tmp_path: Path
) -> None:
    pairs = ("EURUSD", "GBPUSD", "USDJPY")
    t0 = TUESDAY_2100 + int(uuid.uuid4().int % 5000) * 7 * 1440 * MINUTE  # a Tuesday no other run uses
    bars = make_bars(200, pairs, seed=13, start=t0)
    ns = fresh_namespace("sink")
    cfg = tmp_path / "hslr.toml"
    cfg.write_text(f"[market]\npairs = {json.dumps(list(pairs))}\n")
    ensure_topics(_bootstrap(), ns)
    out = Out(_bootstrap())
    publish(out, "bars", bars, ns, max_records=50)
    publish_marker(out, "bars", "sinks", ns)
    out.flush()
    span = (t0, t0 + 200 * MINUTE)
    try:
        with _sink_worker(["market", "features"], ns, cfg, tmp_path / "worker.log") as w:
            got = collect(
                _bootstrap(), ["features"], "sinks", ns, timeout=240, alive=lambda: w.poll() is None
            )
            feats = got["features"]
            assert feats.n == bars.n
            n_rows = _wait_rows(ns, span, feats.n, deadline=time.monotonic() + 60)
        assert n_rows == feats.n
        rows = _snapshot(
            "SELECT pair, feature_vector FROM features WHERE namespace = %s"
            " AND ts = to_timestamp(%s / 1000.0) AND pair = ANY(%s) ORDER BY pair",
            (ns, int(feats["ts"][-1]), list(pairs)),
        )
        last = {str(p): i for i, p in enumerate(feats["pair"])}
        assert len(rows) == len(pairs)
        for pair, fv in rows:
            for col in ("displacement", "log_ret", "gk_vol"):
                want = float(feats[col][last[pair]])
                assert fv[col] == pytest.approx(want) if math.isfinite(want) else fv[col] is None
        cache = LatestCache.connect(None, ns)
        for p in pairs:
            rec = cache.get("features", p)
            assert rec is not None
            assert rec["ts"] == int(feats["ts"][last[p]])
            assert rec["mid"] == pytest.approx(float(feats["mid"][last[p]]))
            assert cache.get_ts("bars.clean", p) == int(feats["ts"][last[p]])
        assert {k.decode() for k in cache.client.smembers(index_key(ns))} == {
            cache_key(ns, t, p) for t in ("features", "bars.clean") for p in pairs
        }  # the index the API reads names exactly the cached keys
        cache.client.delete(
            index_key(ns), *(cache_key(ns, t, p) for t in ("features", "bars.clean") for p in pairs)
        )
    finally:
        _delete_namespace(ns)


def test_sink_worker_refuses_to_start_when_the_database_is_gone(
    services: dict[str, str], tmp_path: Path
) -> None:
    # issue 11 #9: a sink worker whose database is gone used to consume, publish its outputs and only
    # then exit 71 on the first failed write, a restart loop that kept publishing; it now refuses to
    # start (exit 2) and says why, before it consumes anything
    ns = fresh_namespace("sink")
    cfg = tmp_path / "hslr.toml"
    cfg.write_text('[market]\npairs = ["EURUSD"]\n')
    ensure_topics(_bootstrap(), ns)
    out = Out(_bootstrap())
    publish(out, "bars", make_bars(5, ("EURUSD",), seed=14), ns, max_records=5)
    out.flush()
    dead_db = {"HSLR_PG_DSN": "postgresql://hslr@127.0.0.1:1/hslr"}  # nothing listens on port 1
    with _sink_worker(["market"], ns, cfg, tmp_path / "worker.log", env=dead_db) as w:
        rc = w.wait(120)
    assert rc == 2
    log = (tmp_path / "worker.log").read_bytes()
    assert b"PostgreSQL does not answer" in log
    assert b"Traceback" not in log


def _bootstrap() -> str:
    from streams.infra import bootstrap_servers

    return bootstrap_servers()


def _sink_worker(
    stages: list[str], namespace: str, config: Path, log: Path, env: dict[str, str] | None = None
) -> Any:
    """``hslr worker --stages … --sinks`` in a subprocess."""
    return worker(stages, namespace, config, log, env=env, args=["--sinks"])


def _wait_rows(namespace: str, span: tuple[int, int], want: int, deadline: float) -> int:
    n = -1
    while time.monotonic() < deadline:
        (n,) = _snapshot(
            "SELECT count(*) FROM features WHERE namespace = %s AND ts >= to_timestamp(%s / 1000.0)"
            " AND ts < to_timestamp(%s / 1000.0)",
            (namespace, *span),
        )[0]
        if n >= want:
            return int(n)
        time.sleep(0.5)
    return int(n)


def test_sinks_preflight_with_redis_down_refuses_and_with_both_up_passes(services: dict[str, str]) -> None:
    # issue 11 #9: a worker whose sinks cannot write must not start (it would publish unrecorded orders)
    from streams.binding.sink_agents import preflight

    with pytest.raises(RuntimeError, match="Redis does not answer"):
        preflight(["features"], redis_url="redis://127.0.0.1:1/0")
    preflight(["features", "orders"])  # the real services, password from the settings

"""Data and a running ``hslr api`` for the API tests: rows written by the real sink writers into a fresh
namespace, the Redis cache filled as the sink workers fill it, the server in a subprocess on loopback."""

from __future__ import annotations

import functools
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from psycopg.conninfo import make_conninfo

from streams.binding.workers import child_env, fresh_namespace
from streams.core.batch import Batch
from streams.infra import ensure_reader_role
from streams.storage.bars import save_bars
from streams.storage.db import connect, default_dsn
from streams.storage.redis_cache import LatestCache, cache_key, index_key
from streams.storage.sinks import WRITERS
from tests.kit.bars import bars as make_bars
from tests.kit.records import records

MINUTE = 60_000
PAIRS = ("GBPUSD", "USDJPY")
READER = "hslr_api_test"
NAMESPACED = (
    "fills",
    "orders",
    "features",
    "regime_output",
    "signals",
    "positions",
    "equity",
    "governance_metrics",
)
REGIMES = ("Stable_Flow", "Directional_Vol", "Event_Risk")
MIDS = {"GBPUSD": 1.27345, "USDJPY": 149.512}


def _regime(i: int) -> int:
    return (i // 2 + i % 2) % 3  # record i: minute i // 2, pair i % 2; the pairs differ each minute


def _probs(n: int) -> dict[str, list[float]]:
    p = [((0.7, 0.2, 0.1), (0.15, 0.6, 0.25), (0.05, 0.15, 0.8))[_regime(i)] for i in range(n)]
    return {
        "prob_stable": [x[0] for x in p],
        "prob_directional": [x[1] for x in p],
        "prob_event": [x[2] for x in p],
    }


@dataclass
class Seed:
    """What was written: the namespace, the base time and each topic's records."""

    namespace: str
    t0: int
    run_ids: list[str]
    topics: dict[str, Batch] = field(default_factory=dict)


def _portfolio(t0: int, n: int) -> Batch:
    pair = [p for _ in range(n) for p in ("", *PAIRS)]
    ts = [t0 + i * MINUTE for i in range(n) for _ in range(1 + len(PAIRS))]
    equity = [100_000.0 + 10.0 * (i % 7) - 3.0 * i for i in range(n) for _ in range(1 + len(PAIRS))]
    hwm = [max(equity[: k + 1]) for k in range(len(equity))]
    return records(
        "portfolio",
        len(pair),
        seed=1,
        pair=pair,
        ts=ts,
        equity_usd=equity,
        hwm_usd=hwm,
        drawdown=[1 - e / h for e, h in zip(equity, hwm, strict=True)],
        kill_active=[False] * len(pair),
        position_units=[0.0 if p == "" else 10_000.0 * (1 + i % 3) for i, p in enumerate(pair)],
        avg_price=[MIDS.get(p, 0.0) for p in pair],
        mid=[MIDS.get(p, 0.0) * (1 + 1e-4 * (i % 5 - 2)) for i, p in enumerate(pair)],
        unrealized_pnl_usd=[0.0 if p == "" else 4.0 * (i % 5 - 2) for i, p in enumerate(pair)],
    )


def _orders(t0: int, n: int) -> tuple[Batch, Batch]:
    ids = [f"o{i:03d}" for i in range(n)]
    ts = [t0 + (i // 3) * MINUTE for i in range(n)]  # three orders a minute: the key breaks the ties
    pair = [PAIRS[i % 2] for i in range(n)]
    common = {"pair": pair, "ts": ts, "client_order_id": ids[::-1]}  # ids descend within a minute
    orders = records("order", n, seed=2, action=["NEW"] * n, reason=[""] * n, side=[1] * n, **common)
    reports = records(
        "execution_report",
        n,
        seed=3,
        status=["FILLED"] * n,
        reason=[""] * n,
        side=[1] * n,
        last_qty=[1000.0 + i for i in range(n)],
        **common,
    )
    return orders, reports


def seed_data() -> Seed:
    """Write every resource the API serves into a fresh namespace (and unique far-future bars)."""
    t0 = 4_100_000_000_000 + int(uuid.uuid4().int % 10**6) * 60 * MINUTE
    seed = Seed(fresh_namespace("api"), t0, [f"api-test-{uuid.uuid4().hex[:8]}-{k}" for k in range(3)])
    orders, fills = _orders(t0, 25)
    n = 20
    seed.topics = {
        "bars": make_bars(30, PAIRS, seed=4, start=t0),
        "portfolio": _portfolio(t0, n),
        "regime.adjusted": records(
            "regime_adjusted",
            2 * n,
            seed=5,
            pair=[PAIRS[i % 2] for i in range(2 * n)],
            ts=[t0 + (i // 2) * MINUTE for i in range(2 * n)],
            regime=[REGIMES[_regime(i)] for i in range(2 * n)],
            tradeable=[_regime(i) == 0 for i in range(2 * n)],
            override_reason=["" for _ in range(2 * n)],
            **_probs(2 * n),
        ),
        "governance": records(
            "governance",
            n,
            seed=6,
            ts=[t0 + i * MINUTE for i in range(n)],
            state=["NORMAL"] * n,
            action=["NONE"] * n,
        ),
        "orders": orders,
        "fills": fills,
        "signals.governed": records(
            "governed_signal",
            n,
            seed=7,
            pair=[PAIRS[i % 2] for i in range(n)],
            ts=[t0 + (i // 2) * MINUTE for i in range(n)],
        ),
    }
    with connect() as conn:
        save_bars(conn, seed.topics["bars"])
        for topic in ("portfolio", "regime.adjusted", "governance", "orders", "fills", "signals.governed"):
            WRITERS[topic](conn, seed.topics[topic], seed.namespace)
        for k, run_id in enumerate(seed.run_ids):
            conn.execute(
                "INSERT INTO backtest_runs (run_id, kind, config, summary) VALUES (%s, 'test', '{}', %s)",
                (run_id, f'{{"k": {k}}}'),
            )
        conn.commit()
    cache = LatestCache.connect(None, seed.namespace)
    for topic in ("portfolio", "regime.adjusted", "governance", "orders"):
        cache.update(topic, seed.topics[topic])
    return seed


def drop_data(seed: Seed) -> None:
    """Delete what :func:`seed_data` wrote."""
    end = seed.t0 + 31 * MINUTE
    with connect() as conn:
        for table in NAMESPACED:
            conn.execute(f"DELETE FROM {table} WHERE namespace = %s", (seed.namespace,))  # noqa: S608
        for table in ("price_data", "spread_data"):
            conn.execute(
                f"DELETE FROM {table} WHERE pair = ANY(%s) AND ts >= to_timestamp(%s / 1000.0)"  # noqa: S608
                " AND ts < to_timestamp(%s / 1000.0)",
                (list(PAIRS), seed.t0, end),
            )
        conn.execute("DELETE FROM backtest_runs WHERE run_id = ANY(%s)", (seed.run_ids,))
        conn.commit()
    cache = LatestCache.connect(None, seed.namespace)
    keys = [k.decode() for k in cache.client.smembers(index_key(seed.namespace))]
    cache.client.delete(index_key(seed.namespace), *keys, cache_key(seed.namespace, "x", "y"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    tokens: tuple[str, str]
    reader_dsn: str


@functools.cache
def reader_login() -> tuple[str, str]:
    """A fresh password (once per test process) for the test's login role in the read-only group;
    returns (user, password)."""
    password = secrets.token_urlsafe(24)
    ensure_reader_role(READER, password)
    return READER, password


@contextmanager
def api_server(namespace: str, log: Path, **env: str) -> Iterator[Server]:
    """``hslr api`` in a subprocess on a free loopback port, with two fresh tokens."""
    user, password = reader_login()
    tokens = (secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    port = free_port()
    full = child_env(
        {
            "HSLR_API_TOKENS": ",".join(tokens),
            "HSLR_API_PG_USER": user,
            "HSLR_API_PG_PASSWORD": password,
            "HSLR_API_POLL_S": "0.1",
            **env,
        }
    )
    cmd = [sys.executable, "-m", "streams.cli", "api", "--port", str(port), "--namespace", namespace]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=full, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603 - fixed argv
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hslr api exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hslr api did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        dsn = make_conninfo(default_dsn(), user=user, password=password)
        yield Server(url, tokens, dsn)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

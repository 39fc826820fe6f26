"""Chaos: PostgreSQL becomes unreachable under a trader worker with sinks, mid-run (issue 11 #9). The
worker must not publish an order it cannot record: it records each batch's orders before publishing
them, and when the database is gone it stops (exit 71) before publishing; restarted once the database
is back, it catches up, and the topic and the table hold the same orders as an undisturbed run."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker, read_to_end
from streams.binding.workers import fresh_namespace, worker
from streams.stages.trader.stage import TraderStage
from streams.storage.db import connect, default_dsn
from tests.chaos.conftest import PrivateBroker
from tests.chaos.proxy import Cuttable
from tests.kit.governed import governed
from tests.kit.replays import complete, distinct_in_order

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


def _recorded(ns: str) -> set[str]:
    with connect() as c:
        rows = c.execute("SELECT client_order_id FROM orders WHERE namespace = %s", (ns,)).fetchall()
    return {str(r[0]) for r in rows}


def _published(bootstrap: str, ns: str) -> set[str]:
    return {str(c) for c in read_to_end(bootstrap, "orders", ns)["client_order_id"]}


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001 - a test predicate
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_a_worker_whose_database_goes_away_publishes_no_order_it_cannot_record(
    services: dict[str, str], broker: PrivateBroker, tmp_path: Path
) -> None:
    data = complete(governed(n_min=500, seed=3), "governed_signal")
    _, expected = TraderStage().process(TraderStage().initial_state(), "signals.governed", data)
    new = expected["orders"]["ts"][expected["orders"]["action"] == "NEW"]
    cut_at = int(np.median(new))  # orders on both sides of the outage
    first, second = data.take(data["ts"] < cut_at), data.take(data["ts"] >= cut_at)
    assert (new < cut_at).any()
    assert (new >= cut_at).any()
    info = conninfo_to_dict(default_dsn())
    db = Cuttable((str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HSLR_PG_DSN": make_conninfo(default_dsn(), host="127.0.0.1", port=str(db.port)),
        "HSLR_BATCH_WITHIN_S": "0.01",
    }
    ns = fresh_namespace("sinkcut")
    ensure_topics(broker.bootstrap, ns)
    out = Out(broker.bootstrap)
    try:
        with worker(["trader"], ns, None, tmp_path / "w1.log", env=env, args=["--sinks", "orders"]) as w:
            publish(out, "signals.governed", first, ns, max_records=50)
            out.flush()
            assert _wait(lambda: len(_published(broker.bootstrap, ns)) > 0, 120), "no order before the cut"
            db.cut()
            publish(out, "signals.governed", second, ns, max_records=50)
            publish_marker(out, "signals.governed", "cut", ns)
            out.flush()
            rc = w.wait(120)
        assert rc == 71  # stopped: it could not record
        published = _published(broker.bootstrap, ns)
        assert published <= _recorded(ns)  # every order sent was recorded first
        assert len(published) < len(set(expected["orders"]["client_order_id"]))  # the rest was held back
        # whichever gives up first stops the worker: the trader's record-first write (its batch of orders
        # unpublished) or the orders sink (still writing orders published before the cut)
        log = (tmp_path / "w1.log").read_text()
        assert re.search(
            r"cannot record its outputs; stopping before publishing them|cannot write its batch", log
        )
        notices = read_to_end(broker.bootstrap, "control", ns)
        assert list(notices["action"]) == ["NONE"]  # a notice: nothing latches, nothing to clear
        assert notices["issuer"][0] in ("worker:trader", "worker:sink:orders")
        assert re.search(r"outputs cannot be recorded|cannot write", notices["reason"][0])
        db.restore()
        with worker(["trader"], ns, None, tmp_path / "w2.log", env=env, args=["--sinks", "orders"]) as w2:
            got = collect(
                broker.bootstrap, ["orders"], "cut", ns, timeout=180, alive=lambda: w2.poll() is None
            )
        assert distinct_in_order(got["orders"]).equals(expected["orders"])
        assert _recorded(ns) == set(expected["orders"]["client_order_id"])
    finally:
        db.cut()
        with connect() as c:
            c.execute("DELETE FROM orders WHERE namespace = %s", (ns,))
            c.commit()


def test_a_sink_worker_whose_redis_goes_away_stops_says_why_and_recovers_by_itself(
    services: dict[str, str], broker: PrivateBroker, tmp_path: Path
) -> None:
    """Redis cut mid-run under a worker caching the latest bar: it stops (exit 71) before acknowledging
    what it could not cache, says why in its log and on control, refuses to restart while Redis is gone
    (exit 2) and, once Redis answers again, restarts and catches up with no operator step."""
    from urllib.parse import urlparse

    from streams.settings import settings
    from streams.storage.redis_cache import LatestCache
    from tests.kit.bars import bars

    url = urlparse(settings().redis_url)
    rd = Cuttable((url.hostname or "127.0.0.1", url.port or 6379))
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "REDIS_URL": f"redis://127.0.0.1:{rd.port}/0",
        "HSLR_BATCH_WITHIN_S": "0.01",
    }
    cfg = tmp_path / "hslr.toml"
    cfg.write_text('[market]\npairs = ["GBPUSD"]\n')
    data = bars(200, ("GBPUSD",), seed=5)
    last_first, last = int(data["ts"][99]), int(data["ts"][-1])
    ns = fresh_namespace("rediscut")
    ensure_topics(broker.bootstrap, ns)
    cache = LatestCache.connect(None, ns)  # the real Redis, not through the forwarder
    out = Out(broker.bootstrap)
    args = ["--sinks", "bars.clean"]
    try:
        with worker(["market"], ns, cfg, tmp_path / "w1.log", env=env, args=args) as w:
            publish(out, "bars", data.take(np.arange(100)), ns, max_records=10)
            out.flush()
            assert _wait(lambda: cache.get_ts("bars.clean", "GBPUSD") == last_first, 120)
            rd.cut()
            publish(out, "bars", data.take(np.arange(100, 200)), ns, max_records=10)
            out.flush()
            rc = w.wait(120)
        assert rc == 71
        assert "cannot write its batch; stopping before the ack" in (tmp_path / "w1.log").read_text()
        notices = read_to_end(broker.bootstrap, "control", ns)
        assert list(notices["action"]) == ["NONE"]
        assert notices["issuer"][0] == "worker:sink:bars.clean"
        with worker(["market"], ns, cfg, tmp_path / "w2.log", env=env, args=args) as w2:
            assert w2.wait(120) == 2  # a supervisor's restart is refused while Redis is gone
        assert "Redis does not answer" in (tmp_path / "w2.log").read_text()
        rd.restore()
        with worker(["market"], ns, cfg, tmp_path / "w3.log", env=env, args=args) as w3:
            assert _wait(lambda: cache.get_ts("bars.clean", "GBPUSD") == last, 120), "no catch-up"
            assert w3.poll() is None
    finally:
        rd.cut()
        keys = list(cache.client.scan_iter(match=f"*{ns}*"))
        if keys:
            cache.client.delete(*keys)

"""The offline deployment run for real (issue 15): the compose stack from locally built images on free
loopback ports, a synthetic replay through the containerised worker, its orders and fills in the
containerised PostgreSQL against the in-process replay of the same bars, a scrape through the
containerised Prometheus, a SIGKILLed worker restarted by its restart policy without a lost bar, and a
`down` that leaves nothing behind. Prints the figures (build, start, bars/s, recovery)."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from tests.deploy.stack import ROOT, Stack, compose_command, run, wait_until

pytestmark = pytest.mark.deploy
NS = "hslr"  # the compose worker's namespace (the live default)
INFRA = ["kafka", "timescaledb", "redis", "prometheus"]


def test_both_compose_files_validate(engine: None) -> None:
    """`config` accepts the online file alone and with the offline override; the offline one swaps every
    image for a local build, keeps Grafana out of a plain `up` and publishes every port on loopback."""
    stack = Stack()
    run([*compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], env=stack.env())
    merged = stack.compose("config")
    images = [line.split("image:")[1].strip() for line in merged.splitlines() if "image:" in line]
    assert {i for i in images if not i.startswith("hslr-offline/")} == {"grafana/grafana:11.4.0"}
    grafana = merged.split("\n  grafana:\n")[1].split("\n  kafka:\n")[0]
    assert "    profiles:\n    - grafana" in grafana
    ports = sorted(line.strip() for line in merged.splitlines() if line.strip().startswith("- 127.0.0.1:"))
    want = ["HSLR_GRAFANA_PORT", "HSLR_KAFKA_PORT", "HSLR_PROM_PORT", "HSLR_REDIS_PORT", "HSLR_PG_PORT"]
    inside = [3000, 9092, 9090, 6379, 5432]
    assert ports == sorted(f"- 127.0.0.1:{stack.ports[v]}:{i}/tcp" for v, i in zip(want, inside, strict=True))


def _staged(config: HSLRConfig, root: Path) -> Path:
    """The model artifacts and calendar the config names, copied under ``root`` (mounted at /deploy in
    the worker, readable by its unprivileged user), and the config rewritten to those paths."""
    data = dump_config(config)
    for section in ("regime", "edge"):
        src = Path(data[section]["model_path"])
        shutil.copytree(src.parent, root / section / src.parent.name, dirs_exist_ok=True)
        data[section]["model_path"] = f"/deploy/{section}/{src.parent.name}/{src.name}"
    cal = data.get("news", {}).get("calendar_path")
    if cal:
        (root / "calendar").mkdir(exist_ok=True)
        shutil.copy(cal, root / "calendar" / Path(cal).name)
        data["news"]["calendar_path"] = f"/deploy/calendar/{Path(cal).name}"
    (root / "config.json").write_text(json.dumps(data))
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return root / "config.json"


@pytest.fixture
def stack(
    request: pytest.FixtureRequest, images: float, trained: tuple[Batch, HSLRConfig, dict[str, Batch]]
) -> Iterator[Stack]:
    """The offline stack (not started yet) with the test's models mounted into the worker; `down` after."""
    work = Path(tempfile.mkdtemp(prefix="hslr-deploy-"))
    _staged(trained[1], work)
    env_file = work / "hslr.env"
    env_file.write_text(
        f"REDIS_PASSWORD={secrets.token_urlsafe(16)}\nHSLR_CONTROL_KEY={secrets.token_hex(16)}\n"
    )
    override = work / "test.yml"
    override.write_text(
        json.dumps(
            {
                "services": {
                    "worker": {
                        "environment": {"HSLR_CONFIG": "/deploy/config.json"},  # batching: the defaults
                        "volumes": [f"{work}:/deploy:ro"],
                    },
                    # the watchdog runs, but judges its own namespace: a 2020 replay looks stale to it
                    "watchdog": {"environment": {"HSLR_NAMESPACE": "deploywatch"}},
                }
            }
        )
    )
    s = Stack(extra_files=[override], env_file=env_file)
    failed = request.session.testsfailed
    try:
        yield s
    finally:
        if request.session.testsfailed > failed:  # the call phase failed: show why
            print(s.compose("logs", "--no-color", "--tail", "40", timeout=60))
        s.down()
        shutil.rmtree(work, ignore_errors=True)
    assert s.leftovers() == {}, "down left these behind"


def _high(bootstrap: str, key: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(TOPICS[key].name(NS), 0), timeout=10)[1]
    finally:
        c.close()


def _prom(port: int, expr: str) -> list[dict[str, Any]]:
    r = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=2).ok
    except requests.RequestException:
        return False


def _db(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    dsn = f"postgresql://hslr:{stack.pg_password}@127.0.0.1:{stack.ports['HSLR_PG_PORT']}/hslr"
    with psycopg.connect(dsn, connect_timeout=5) as c:
        return c.execute(sql).fetchall()


def _expected_rows(expected: dict[str, Batch]) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Orders and fills as the sinks must store them, derived from the in-process records: one row per
    NEW instruction (id, pair, ts, BUY/SELL, qty, limit) and one per execution report with a fill."""
    o = expected["orders"].take(np.asarray(expected["orders"]["action"]) == "NEW")
    orders = {
        (c, p, int(t), "BUY" if s > 0 else "SELL", round(float(q), 6), round(float(lp), 10))
        for c, p, t, s, q, lp in zip(
            o["client_order_id"], o["pair"], o["ts"], o["side"], o["qty"], o["limit_price"], strict=True
        )
    }
    f = expected["fills"].take(np.asarray(expected["fills"]["last_qty"]) > 0)
    fills = {
        (f"{c}:{int(t)}", c, p, int(t), round(float(q), 6), round(float(px), 10))
        for c, p, t, q, px in zip(
            f["client_order_id"], f["pair"], f["ts"], f["last_qty"], f["last_price"], strict=True
        )
    }
    return orders, fills


def _stored_rows(stack: Stack) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    ms = "(extract(epoch from ts) * 1000)::bigint"
    orders = {
        (c, p, int(t), s, round(q, 6), round(lp, 10))
        for c, p, t, s, q, lp in _db(
            stack,
            f"SELECT client_order_id, pair, {ms}, side, qty, limit_price FROM orders WHERE namespace = '{NS}'",  # noqa: S608
        )
    }
    fills = {
        (i, c, p, int(t), round(q, 6), round(px, 10))
        for i, c, p, t, q, px in _db(
            stack,
            f"SELECT fill_id, client_order_id, pair, {ms}, qty, price FROM fills WHERE namespace = '{NS}'",  # noqa: S608
        )
    }
    return orders, fills


def test_offline_stack_replays_like_in_process_and_survives_a_killed_worker(
    stack: Stack, images: float, trained: tuple[Batch, HSLRConfig, dict[str, Batch]]
) -> None:
    test, _config, expected = trained
    assert expected["fills"].n > 0, "the reference trades nothing: the comparison would be vacuous"
    figures: dict[str, float] = {"build_s": round(images, 1)}
    kafka = f"127.0.0.1:{stack.ports['HSLR_KAFKA_PORT']}"
    prom = stack.ports["HSLR_PROM_PORT"]

    # 1. the stack: services healthy, schema migrated, the worker scraped by the containerised Prometheus
    t0 = time.monotonic()
    stack.compose("up", "-d", *INFRA)
    wait_until("kafka, postgres, redis healthy", lambda: all(stack.healthy(s) for s in INFRA[:3]), 180)
    wait_until("prometheus ready", lambda: _ready(prom), 60)
    ensure_topics(kafka, NS)
    stack.compose("up", "-d", "migrate", "worker", "watchdog")
    wait_until(
        "the worker's metrics scraped by prometheus",
        lambda: any(r["value"][1] == "1" for r in _prom(prom, 'up{job="hslr-workers"}')),
        180,
    )
    figures["stack_start_s"] = round(time.monotonic() - t0, 1)
    assert stack.inspect("migrate")["State"]["ExitCode"] == 0

    # 2. first half of the bars through the containerised worker: bars/s
    cut = test.n // 2
    first, second = test.take(np.arange(cut)), test.take(np.arange(cut, test.n))
    out = Out(kafka)
    t1 = time.monotonic()
    publish(out, "bars", first, NS, max_records=500)
    publish_marker(out, "bars", "half", NS)
    out.flush()
    alive = lambda: stack.inspect("worker")["State"]["Running"]  # noqa: E731
    collect(kafka, ["portfolio"], "half", NS, timeout=300, alive=alive)
    figures["replay_bars_per_s"] = round(first.n / (time.monotonic() - t1))

    # 3. the rest, with the worker SIGKILLed once it is under way (mid-batch or just after one: either
    # way after outputs whose checkpoint may or may not have landed); the bars after that point are
    # published right after the kill, so the restarted worker always has work and new output proves it
    # resumed. Its restart policy brings it back from its checkpoint.
    part = second.n // 3
    before = _high(kafka, "portfolio")
    publish(out, "bars", second.take(np.arange(part)), NS, max_records=500)
    out.flush()
    wait_until("progress on the second half", lambda: _high(kafka, "portfolio") > before, 300, 0.05)
    pid, started = stack.kill9("worker")
    t_kill = time.monotonic()
    publish(out, "bars", second.take(np.arange(part, second.n)), NS, max_records=500)
    publish_marker(out, "bars", "end", NS)
    out.flush()
    wait_until(
        "the worker restarted by its restart policy",
        lambda: (st := stack.inspect("worker")["State"])["Running"] and st["StartedAt"] != started,
        120,
        0.2,
    )
    figures["restart_s"] = round(time.monotonic() - t_kill, 1)
    at_restart = _high(kafka, "portfolio")
    wait_until("output again after the restart", lambda: _high(kafka, "portfolio") > at_restart, 180, 0.2)
    figures["recovery_s"] = round(time.monotonic() - t_kill, 1)
    assert stack.inspect("worker")["RestartCount"] >= 1
    collect(kafka, ["orders", "fills", "portfolio"], "end", NS, timeout=600, alive=alive)

    # 4. orders and fills in the containerised PostgreSQL equal the in-process replay; no bar was lost
    want_orders, want_fills = _expected_rows(expected)
    wait_until("the sinks caught up", lambda: _stored_rows(stack) == (want_orders, want_fills), 120)
    # one features row per bar, keyed (namespace, pair, ts): the count reaching the reference's (the
    # features sink is its own agent and may trail the orders sink) means every bar got through
    count = f"SELECT count(*) FROM features WHERE namespace = '{NS}'"  # noqa: S608
    n_features = lambda: _db(stack, count)[0][0]  # noqa: E731
    try:
        wait_until("every bar's features stored", lambda: n_features() >= expected["features"].n, 120)
    finally:
        assert n_features() == expected["features"].n, "a bar was lost across the kill"

    # 5. a worker metric through the containerised Prometheus
    # the restarted worker's first scrapes come after its restart (the kill wrote stale markers for the
    # dead process's series): wait for a scrape of the new one (CI once queried before it and found none)
    query = 'sum(hslr_events_in_total{job="hslr-workers"})'
    try:
        wait_until("a worker metric in the containerised Prometheus", lambda: bool(_prom(prom, query)), 90)
    finally:
        targets = requests.get(f"http://127.0.0.1:{prom}/api/v1/targets", timeout=5).json()["data"]
        print(
            "prometheus targets:",
            [(t["labels"], t["health"], t["lastError"]) for t in targets["activeTargets"]],
        )
    events = _prom(prom, query)
    assert events, "no hslr_events_in_total series in the containerised Prometheus"
    assert float(events[0]["value"][1]) > 0
    print(f"\ndeployment figures: {json.dumps(figures)} ({test.n} bars, killed pid {pid})")

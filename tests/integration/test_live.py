"""Live path through Kafka: a gateway publishes each minute's bars and a watermark; the fused worker
decides every minute (a minute with a missing pair included) before the next minute is published, and
its orders, fills and portfolio equal the in-process replay of the same bars."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from backtest.engine import run_inprocess_engine
from streams.binding.book_check import trader_reader
from streams.binding.kafka_io import (
    Out,
    collect,
    ensure_topics,
    publish,
    publish_marker,
    publish_watermark,
)
from streams.binding.workers import fresh_namespace, worker
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.dag import STAGE_FACTORIES, build_stages, fuse
from streams.infra import bootstrap_servers
from tests.kit.decided import decided

pytestmark = pytest.mark.integration
LIVE_MINUTES = 40


def _scrape(log: Path) -> dict[str, float]:
    """The worker's /metrics (its port is in the start-up line of its log), as {series: value}."""
    import re
    import urllib.request

    port = re.search(r"metrics on 127\.0\.0\.1:(\d+)", log.read_text())
    assert port, "no metrics port in the worker log"
    text = urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=10).read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_gateway_minutes_are_decided_at_their_close_and_trade_like_the_replay(
    services: dict[str, str], tmp_path: Path, trained: tuple[Batch, HSLRConfig, dict[str, Batch]]
) -> None:
    test, config, _ = trained
    minutes = np.unique(test["ts"])
    live = minutes[-LIVE_MINUTES - 400 : -400]  # a weekday stretch, away from the weekend close
    keep = np.ones(test.n, dtype=bool)
    gappy = live[::7]  # USDJPY has no bar in these minutes
    keep &= ~(np.isin(test["ts"], gappy) & (test["pair"] == "USDJPY"))
    bars = test.take(keep & (test["ts"] <= live[-1]))
    expected = run_inprocess_engine(bars, config)
    assert expected["orders"].n > 0

    ns = fresh_namespace("live")
    stage = fuse(build_stages(config))
    ensure_topics(bootstrap_servers(), ns, [stage.spec.id])
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    out = Out(bootstrap_servers())
    trader = trader_reader(bootstrap_servers(), ns, config)
    # a batching window far longer than a minute's processing: a minute ends with its watermark and
    # goes to the stages at once (take_ready); Faust's take_events held each batch until the next tick
    env = {"HSLR_BATCH_WITHIN_S": "3.0", "HSLR_MESSAGE_RECORDS": "500"}
    with worker(list(STAGE_FACTORIES), ns, cfg, tmp_path / "worker.log", env=env, args=["--fuse"]) as w:
        publish(out, "bars", bars.take(bars["ts"] < live[0]), ns, max_records=500)  # history, in bulk
        out.flush()
        waits = []
        for m in live.tolist():
            minute = bars.take(bars["ts"] == m)
            publish(out, "bars", minute, ns, max_records=minute.n)
            publish_watermark(out, "bars", m, ns)
            out.flush()
            t0 = time.monotonic()
            while decided(trader) < m:  # the next minute is not published before that
                assert w.poll() is None, "the worker died"
                assert time.monotonic() - t0 < 120, f"minute {m} not decided at its close"
                time.sleep(0.05)
            waits.append(time.monotonic() - t0)
        publish_marker(out, "bars", "live", ns)
        out.flush()
        got = collect(
            bootstrap_servers(),
            ["orders", "fills", "portfolio"],
            "live",
            ns,
            timeout=300,
            alive=lambda: w.poll() is None,
        )
        metrics = _scrape(tmp_path / "worker.log")
    assert len(waits) == LIVE_MINUTES
    assert np.median(waits) < 1.0, waits  # not held for the 3 s window (the old code: 3.0 s median)
    assert len(gappy) >= 5
    # the worker exports the live latency of the group, and every member keeps its own stage label
    assert metrics[f'hslr_input_to_output_seconds_count{{stage="{stage.spec.id}"}}'] >= LIVE_MINUTES
    for sid in STAGE_FACTORIES:
        assert any(
            k.startswith("hslr_processing_seconds_count") and f'stage="{sid}"' in k for k in metrics
        ), sid
    assert metrics['hslr_events_in_total{stage="trader",topic="signals.governed"}'] == bars.n
    for key in ("orders", "fills", "portfolio"):
        assert got[key].equals(expected[key]), key


def test_a_paced_replay_publishes_each_minute_as_one_message_then_its_watermark(
    services: dict[str, str],
) -> None:
    from datetime import UTC, datetime

    from confluent_kafka import Consumer

    from streams.core.topics import TOPICS
    from streams.runner.runtime import END_OF_REPLAY, MARKER_HEADER, WATERMARK, WATERMARK_HEADER
    from streams.serde.avro import AvroCodec
    from streams.services.replay import replay
    from streams.storage.bars import save_bars
    from streams.storage.db import connect
    from tests.kit.bars import bars as make_bars

    start = datetime(2018, 6, 5, 9, 0, tzinfo=UTC)  # a window no other test stores bars in
    stored = make_bars(12, ("EURUSD", "GBPUSD"), start=int(start.timestamp() * 1000), seed=11)
    with connect() as conn:
        save_bars(conn, stored)
    ns = fresh_namespace("pace")
    t0 = time.monotonic()
    n = replay(
        ["EURUSD", "GBPUSD"],
        start,
        datetime(2018, 6, 5, 9, 12, tzinfo=UTC),
        namespace=ns,
        run="p",
        speed=600.0,
    )  # 12 minutes at 600x: 11 gaps of 0.1 s
    assert n == stored.n
    assert time.monotonic() - t0 >= 1.0
    c = Consumer(
        {"bootstrap.servers": bootstrap_servers(), "group.id": f"{ns}-check", "auto.offset.reset": "earliest"}
    )
    c.subscribe([TOPICS["bars"].name(ns)])
    seen: list[tuple[str, object]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (seen and seen[-1][0] == "end"):
        msg = c.poll(0.5)
        if msg is None or msg.error():
            continue
        h = dict(msg.headers() or [])
        if h.get(MARKER_HEADER) == WATERMARK:
            seen.append(("wm", int(h[WATERMARK_HEADER])))
        elif h.get(MARKER_HEADER) == END_OF_REPLAY:
            seen.append(("end", None))
        else:
            recs = AvroCodec("bar").decode_many(msg.value())
            seen.append(("bars", sorted((r["ts"], r["pair"]) for r in recs)))
    c.close()
    minutes = np.unique(stored["ts"]).tolist()
    want: list[tuple[str, object]] = []
    for m in minutes:
        want += [("bars", [(m, "EURUSD"), (m, "GBPUSD")]), ("wm", m)]
    assert seen == [*want, ("end", None)]

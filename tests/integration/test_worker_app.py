"""The worker's Faust app: a consumer that never leaves a partition out of its fetches for 1.5 s (issue
12's stalls), and its garbage collector's pauses as a metric.

The scenario that stalled the live path, on the real broker: a record of ``bars`` is fetched but waits
in the consumer (the agent is busy) for longer than aiokafka's 0.1 s prefetch backoff while the other
assigned partitions (``control``) are idle; then it is consumed and the next ``bars`` record is
produced. With Faust's consumer settings the fetcher has meanwhile sent a fetch for ``control`` alone,
which long-polls the broker for Faust's ``fetch_max_wait_ms`` (1,500 ms), and the new record waits for
it (~1.3 s here). The worker's consumer must hand it over within a fraction of that.
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from streams.binding import faust_consumer
from streams.binding.faust_app import create_app
from streams.binding.gc_pauses import GcPauses
from streams.binding.kafka_io import ensure_topics
from streams.binding.metrics import PrometheusMetrics
from streams.binding.workers import fresh_namespace
from streams.core.topics import TOPICS
from streams.infra import bootstrap_servers

pytestmark = pytest.mark.integration
FAUST_FETCH_WAIT_S = 1.5  # what faust 0.15's aiokafka driver sends (hard-coded fetch_max_wait_ms=1500)
BUSY_S = 0.3  # the agent busy with the previous batch: over aiokafka's 0.1 s prefetch backoff


def _metrics() -> PrometheusMetrics:
    return PrometheusMetrics(CollectorRegistry())


def _worker_consumer(app: faust.App) -> Any:
    """The aiokafka consumer the app's Faust consumer thread creates for a worker (not started)."""
    return app.consumer._thread._create_worker_consumer(app.transport)


async def _next_record_wait(boot: str, ns: str, app: faust.App) -> float:
    """Seconds from producing a ``bars`` record to the consumer handing it over, after the previous
    ``bars`` record waited ``BUSY_S`` in the consumer while ``control`` was idle."""
    bars, control = (TopicPartition(TOPICS[k].name(ns), 0) for k in ("bars", "control"))
    consumer = _worker_consumer(app)
    await consumer.start()
    faust_consumer.tune_started(consumer)  # what the worker's ConsumerThread.on_start does
    producer = Producer({"bootstrap.servers": boot})
    try:
        consumer.assign([bars, control])
        await consumer.seek_to_end(bars, control)
        await consumer.getmany(control, timeout_ms=500)  # positions known
        producer.produce(bars.topic, b"first")
        producer.flush(10)
        await asyncio.sleep(BUSY_S)  # fetched meanwhile, not consumed: the agent is busy
        first = await consumer.getmany(bars, timeout_ms=5000)
        assert [m.value for m in first.get(bars, [])] == [b"first"]
        producer.produce(bars.topic, b"next")
        producer.flush(10)
        t0 = time.monotonic()
        got = await consumer.getmany(bars, timeout_ms=5000)
        waited = time.monotonic() - t0
        assert [m.value for m in got.get(bars, [])] == [b"next"]
        return waited
    finally:
        await consumer.stop()


def test_a_partition_whose_records_waited_is_not_left_out_of_the_next_fetch(
    services: dict[str, str], tmp_path: Path
) -> None:
    boot, ns = bootstrap_servers(), fresh_namespace("fetch")
    ensure_topics(boot, ns)
    # the worker's app (its consumer; no stage is needed here)
    app = create_app([], bootstrap=boot, namespace=ns, datadir=tmp_path, metrics=_metrics())

    waited = asyncio.run(_next_record_wait(boot, ns, app))

    # Faust's settings: ~FAUST_FETCH_WAIT_S - BUSY_S + 0.1 (1.3 s); the worker's: one fetch round trip
    assert waited < (FAUST_FETCH_WAIT_S - BUSY_S) / 4, f"the next bars record waited {waited:.3f} s"


def test_the_worker_app_consumes_with_the_tuned_settings(services: dict[str, str], tmp_path: Path) -> None:
    app = create_app(
        [],
        bootstrap=bootstrap_servers(),
        namespace=fresh_namespace("fetch"),
        datadir=tmp_path,
        metrics=_metrics(),
    )

    async def created() -> int:
        consumer = _worker_consumer(app)
        return int(consumer._fetch_max_wait_ms)

    assert isinstance(app.consumer._thread, faust_consumer.ConsumerThread)
    assert asyncio.run(created()) == faust_consumer.FETCH_MAX_WAIT_MS < FAUST_FETCH_WAIT_S * 1000 / 10


def test_the_worker_app_exports_gc_pauses(services: dict[str, str], tmp_path: Path) -> None:
    metrics = _metrics()
    create_app(
        [], bootstrap=bootstrap_servers(), namespace=fresh_namespace("gc"), datadir=tmp_path, metrics=metrics
    )
    try:
        gc.collect(2)
        count = metrics.registry.get_sample_value("hslr_gc_pause_seconds_count", {"generation": "2"})
        assert count is not None
        assert count >= 1
    finally:
        gc.callbacks[:] = [c for c in gc.callbacks if not isinstance(c, GcPauses)]

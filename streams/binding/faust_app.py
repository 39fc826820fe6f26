"""The generic Faust binding: any pure stage becomes a Faust agent.

This is the only module that touches Faust. Each agent reads its stage's input topics as raw bytes in
batches (``streams.binding.batching.take_ready``), hands them to a
:class:`~streams.binding.delivery.Delivery` (the :class:`~streams.runner.runtime.StageRuntime`, then
the orders produced, then the other outputs, all flushed, then a checkpoint of state + input offsets
produced and flushed), all *before* the batch is acknowledged. Faust acknowledges a batch even when the agent body raised, so the body
never raises: record-level failures are dead-lettered by the runtime, and a failure to deliver (broker
gone) terminates the worker before the ack, so the batch is redelivered after restart and the
checkpoint's offsets make the redelivery a no-op for state.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from streams.binding.batching import Ready, take_ready
from streams.binding.delivery import Delivery, RecordFirst
from streams.binding.faust_consumer import use_tuned_consumer
from streams.binding.gc_pauses import watch_gc
from streams.binding.kafka_io import ensure_topics
from streams.binding.metrics import PrometheusMetrics
from streams.core.stage import Stage
from streams.core.topics import TOPICS
from streams.runner.observed import observe_members
from streams.runner.runtime import Envelope
from streams.serde import avro_kernels

log = logging.getLogger("hslr.binding")


def _envelope(event: Any) -> Envelope:
    msg = event.message
    headers = msg.headers or ()
    if isinstance(headers, dict):
        headers = headers.items()
    return Envelope(
        msg.topic,
        msg.partition,
        msg.offset,
        msg.key,
        msg.value,
        tuple((k, bytes(v)) for k, v in headers),
        int(msg.timestamp * 1000) if msg.timestamp else 0,
    )


def _export_lag(app: faust.App, metrics: PrometheusMetrics, sid: str, envelopes: Sequence[Envelope]) -> None:
    """hslr_consumer_lag = broker high watermark − next offset, per input partition (best effort)."""
    last: dict[tuple[str, int], int] = {}
    for e in envelopes:
        last[(e.topic, e.partition)] = e.offset
    for (topic, part), offset in last.items():
        try:
            high = app.consumer.highwater(TP(topic, part))
        except Exception:  # noqa: BLE001 - a metric must never stop the stage
            high = None
        if high is not None:
            metrics.lag.labels(sid, topic, str(part)).set(max(int(high) - offset - 1, 0))


def _export_delay(metrics: PrometheusMetrics, sid: str, envelopes: Sequence[Envelope], ready: Ready) -> None:
    """hslr_input_delay_seconds: delivery (the newest message's producer timestamp -> it reached the
    stream) and batching (the first message reached the stream -> the agent has the batch)."""
    if envelopes[-1].timestamp_ms > 0:
        metrics.input_delay(
            sid, "delivery", max(ready.arrived[-1] - envelopes[-1].timestamp_ms / 1000.0, 0.0)
        )
    metrics.input_delay(sid, "batching", max(time.time() - ready.arrived[0], 0.0))


def bind(
    app: faust.App,
    stage: Stage[Any],
    *,
    bootstrap: str,
    namespace: str,
    metrics: PrometheusMetrics,
    batch_max: int,
    batch_within: float,
    max_records: int = 500,
    record_first: RecordFirst | None = None,
    unpublished: frozenset[str] = frozenset(),
) -> None:
    """Register ``stage`` as an agent of ``app``; ``record_first`` (a worker with sinks) stores the
    outputs that must never be published unrecorded (orders) before they are produced; ``unpublished``:
    output topics computed but not produced (see ``StageRuntime``)."""
    names = [TOPICS[k].name(namespace) for k in stage.spec.inputs]
    channel = app.topic(*names, key_serializer="raw", value_serializer="raw")
    stage = observe_members(stage, metrics)  # a fused stage's members keep their own stage labels
    deliver = Delivery.build(stage, bootstrap, namespace, metrics, max_records, record_first, unpublished)
    runtime, checkpoints, sid = deliver.runtime, deliver.checkpoints, stage.spec.id
    metrics.init_stage(sid)

    async def agent(stream: Any) -> None:
        full, offsets = checkpoints.load(sid)
        if full is not None:
            runtime.restore(full, offsets)
            log.info(
                "stage %s restored from checkpoint (%d offsets)",
                sid,
                len(runtime.cp.offsets),
                extra={"stage": sid, "event": "restored"},
            )
        avro_kernels.warm()  # the codec's compiled loops, before the first batch waits on them
        # Everything alive now (the modules of Faust, aiokafka, numpy, scikit-learn; the models; the
        # restored state) lives as long as the process: keep it out of the cyclic collector's full
        # collections, which walk every tracked object (measured: 40-110 ms pauses at start-up).
        gc.freeze()
        clock = time.perf_counter
        t_next = clock()
        async for ready in take_ready(stream, batch_max, batch_within):
            t0 = clock()
            metrics.phase(sid, "wait", t0 - t_next)
            envelopes = [_envelope(e) for e in ready.events]
            try:
                _export_delay(metrics, sid, envelopes, ready)
                await deliver(envelopes)
            except BaseException:  # the ack follows this block: never let Faust ack a lost batch
                log.critical(
                    "stage %s cannot deliver its outputs; stopping before the ack",
                    sid,
                    exc_info=True,
                    extra={
                        "stage": sid,
                        "event": "stop_before_ack",
                        "message_ids": [f"{e.topic}:{e.partition}:{e.offset}" for e in envelopes[:20]],
                    },
                )
                logging.shutdown()
                os._exit(70)
            _export_lag(app, metrics, sid, envelopes)
            t_next = clock()

    app.agent(channel, name=f"{namespace}.{sid}")(agent)


def create_app(
    stages: Sequence[Stage[Any]],
    *,
    bootstrap: str,
    namespace: str,
    batch_max: int = 2000,
    batch_within: float = 0.002,
    max_records: int = 500,
    max_fetch_bytes: int = 1024**2,
    metrics: PrometheusMetrics | None = None,
    datadir: str | Path = "",
    logging_config: dict[str, Any] | None = None,
    record_first: RecordFirst | None = None,
    unpublished: frozenset[str] = frozenset(),
) -> faust.App:
    """A Faust app running ``stages``; its id (= consumer group) is ``<namespace>.<stage ids joined by _>``.

    ``max_fetch_bytes``: the consumer's fetch size per partition (Faust's ``consumer_max_fetch_size``).
    ``datadir`` is Faust's local data folder (default ``.cache/faust/<namespace>``); ``logging_config``
    replaces Faust's own logging set-up (``streams.logs.dict_config``: the project's JSON lines).
    """
    ids = "_".join(s.spec.id for s in stages)
    datadir = Path(datadir or f".cache/faust/{namespace}").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    ensure_topics(bootstrap, namespace, [s.spec.id for s in stages])
    app = faust.App(
        f"{namespace}.{ids}",
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=1,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=str(datadir),
        broker_commit_every=5000,
        broker_session_timeout=10.0,  # a killed worker's partitions move on within seconds
        broker_heartbeat_interval=2.0,
        stream_wait_empty=False,
        consumer_max_fetch_size=max_fetch_bytes,
        logging_config=logging_config,
    )
    use_tuned_consumer(app)  # before app.topic(...) makes Faust's own transport
    m = metrics or PrometheusMetrics()
    watch_gc(m.gc_pause)
    for s in stages:
        bind(
            app,
            s,
            bootstrap=bootstrap,
            namespace=namespace,
            metrics=m,
            batch_max=batch_max,
            batch_within=batch_within,
            max_records=max_records,
            record_first=record_first,
            unpublished=unpublished,
        )
    return app


def run_worker(app: faust.App, loglevel: str = "warn") -> None:
    """Start the Faust worker in this process (blocks until stopped)."""
    sys.argv = [sys.argv[0], "worker", "-l", loglevel, "--without-web"]
    app.main()

"""Persistence sinks as Faust agents: topic records → PostgreSQL (``streams.storage.sinks``) and Redis.

Same conventions as the stage binding (:mod:`streams.binding.faust_app`): raw bytes in batches
(``stream.take_events``), decoded with :meth:`AvroCodec.decode_messages`; end-of-replay markers are
skipped; undecodable messages go to the ``dead_letters`` table. Writers are idempotent upserts, so a
redelivered batch rewrites the same rows. The agent body never raises, because Faust acknowledges a
batch even when the body raised: a write that still fails after a few retries with backoff (database or
Redis gone) terminates the worker *before* the ack, and the batch is redelivered after the restart.
Blocking writes run in a thread so the worker's stage agents keep streaming meanwhile.

Orders are recorded *before* they are published (:func:`recorder`, :data:`RECORD_FIRST`): a sink agent
only learns that PostgreSQL is gone when it next writes, and until then the trader would keep sending
orders nobody records. With record-first the stage agent stores its batch's orders (idempotent upsert,
the same writer), and when that fails after the retries the worker exits before publishing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.binding.faust_app import _envelope
from streams.binding.metrics import PrometheusMetrics
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.runner.runtime import MARKER_HEADER, Envelope, Outgoing
from streams.serde.avro import AvroCodec
from streams.storage.redis_cache import CACHED_TOPICS, LatestCache
from streams.storage.sinks import WRITERS, write_deadletter

log = logging.getLogger("hslr.sinks")
RETRIES = 5
"""Attempts per batch before the worker exits (backoff 0.5, 1, 2, 4 s between them)."""


RECORD_FIRST = ("orders",)
"""Topics stored before they are published by a worker that sinks them."""


def default_sink_topics(stage_outputs: Sequence[str]) -> list[str]:
    """Topics a worker sinks by default: the outputs of its stages that have a writer or a cache."""
    return [t for t in dict.fromkeys(stage_outputs) if t in WRITERS or t in CACHED_TOPICS]


@dataclass
class SinkWriter:
    """Writes decoded batches of one topic to PostgreSQL and (for cached topics) Redis; reconnects lazily."""

    topic: str
    namespace: str
    dsn: str | None = None
    redis_url: str | None = None
    _conn: Any = field(default=None, repr=False)
    _cache: LatestCache | None = field(default=None, repr=False)

    def write(self, batch: Batch, dead: Batch | None) -> None:
        if self._conn is None or self._conn.closed:
            from streams.storage.db import connect

            self._conn = connect(self.dsn)
        try:
            if dead is not None and dead.n:
                write_deadletter(self._conn, dead, self.namespace)
            if batch.n:
                writer = WRITERS.get(self.topic)
                if writer is not None:
                    writer(self._conn, batch, self.namespace)
        except Exception:
            self.close()  # a failed transaction or a broken connection: start clean on the retry
            raise
        if batch.n and self.topic in CACHED_TOPICS:
            if self._cache is None:
                self._cache = LatestCache.connect(self.redis_url, self.namespace)
            self._cache.update(self.topic, batch)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may itself fail
                self._conn.close()
        self._conn = None


def decode(topic: str, envs: Sequence[Envelope], stage: str) -> tuple[Batch, Batch | None]:
    """Decode the records of ``envs`` (markers skipped); undecodable messages as deadletter rows."""
    envs = [e for e in envs if e.header(MARKER_HEADER) is None]  # end-of-replay and watermark markers
    batch, errors, _ = AvroCodec(TOPICS[topic].schema).decode_messages([e.value or b"" for e in envs])
    if not errors:
        return batch, None
    rows = [
        {
            "stage": stage,
            "topic": envs[i].topic,
            "partition": envs[i].partition,
            "offset": envs[i].offset,
            "key": envs[i].key,
            "value": envs[i].value or b"",
            "error_kind": "DECODE",
            "reason": reason,
            "ts": envs[i].timestamp_ms,
        }
        for i, reason in errors
    ]
    return batch, Batch.from_records(rows, list(rows[0]))


async def _write_with_retry(
    writer: SinkWriter, batch: Batch, dead: Batch | None, label: str, metrics: PrometheusMetrics
) -> None:
    for attempt in range(RETRIES):
        try:
            await asyncio.to_thread(writer.write, batch, dead)
            return
        except Exception:  # noqa: BLE001 - retried, then the worker exits below
            metrics.error(label)
            if attempt == RETRIES - 1:
                raise
            log.warning(
                "%s: write failed (attempt %d/%d), retrying", label, attempt + 1, RETRIES, exc_info=True
            )
            await asyncio.sleep(0.5 * 2**attempt)


def _notify(bootstrap: str, namespace: str, label: str, reason: str) -> None:
    """Best effort: a NONE notice on ``control`` from ``worker:<label>`` (stopping is what matters)."""
    from streams.binding.kafka_io import Out, control_notice

    with contextlib.suppress(Exception):
        out = Out(bootstrap)
        out.send(control_notice(namespace, f"worker:{label}", reason, int(time.time() * 1000)))
        out.flush(5.0)


def bind_sink(
    app: faust.App,
    topic: str,
    *,
    namespace: str,
    metrics: PrometheusMetrics,
    batch_max: int,
    batch_within: float,
    dsn: str | None = None,
    redis_url: str | None = None,
    bootstrap: str | None = None,
) -> None:
    """Register the sink agent of ``topic`` (stage label ``sink:<topic>``) on ``app``; with ``bootstrap``
    a write that still fails is announced on ``control`` before the worker stops."""
    channel = app.topic(TOPICS[topic].name(namespace), key_serializer="raw", value_serializer="raw")
    label = f"sink:{topic}"
    writer = SinkWriter(topic, namespace, dsn, redis_url)

    async def agent(stream: Any) -> None:
        async for events in stream.take_events(batch_max, within=batch_within):
            t0 = time.perf_counter()
            try:
                batch, dead = decode(topic, [_envelope(e) for e in events], label)
                metrics.events_in(label, topic, batch.n)
                if dead is not None:
                    metrics.dead_letter(label, "DECODE", dead.n)
                await _write_with_retry(writer, batch, dead, label, metrics)
                if batch.n and "ts" in batch:
                    metrics.last_event(label, int(batch["ts"].max()))
                metrics.processing(label, time.perf_counter() - t0)
            except BaseException as exc:  # the ack follows this block: never let Faust ack an unwritten batch
                log.critical("%s cannot write its batch; stopping before the ack", label, exc_info=True)
                if bootstrap:  # say why on control too (a notice: the restarted worker resumes by itself)
                    _notify(
                        bootstrap,
                        namespace,
                        label,
                        f"{label}: cannot write ({type(exc).__name__}); worker stopped",
                    )
                logging.shutdown()
                os._exit(71)

    app.agent(channel, name=f"{namespace}.{label}")(agent)


def recorder(
    topics: Sequence[str], *, namespace: str, metrics: PrometheusMetrics, dsn: str | None = None
) -> Callable[[Sequence[Outgoing]], Awaitable[None]] | None:
    """The stage agents' record-first step for the :data:`RECORD_FIRST` topics among ``topics`` (None
    when there is none): decode the batch's messages of those topics and write them, with retries;
    raises when the write still fails."""
    names = {TOPICS[t].name(namespace): t for t in topics if t in RECORD_FIRST}
    if not names:
        return None
    writers = {t: SinkWriter(t, namespace, dsn) for t in names.values()}

    async def record(outgoing: Sequence[Outgoing]) -> None:
        for name, topic in names.items():
            values = [o.value for o in outgoing if o.topic == name and o.value]  # markers carry no value
            if not values:
                continue
            batch, errors, _ = AvroCodec(TOPICS[topic].schema).decode_messages(values)
            if errors:  # the stage's own output: its schema was checked when it was encoded
                raise ValueError(f"record-first {topic}: {len(errors)} undecodable messages: {errors[:1]}")
            await _write_with_retry(writers[topic], batch, None, f"record-first:{topic}", metrics)

    return record


def preflight(topics: Sequence[str], *, dsn: str | None = None, redis_url: str | None = None) -> None:
    """Check that every store the sinks of ``topics`` write to answers, before the worker starts.

    A worker whose sinks cannot write would publish orders it cannot record, then exit (71) on the
    first failed write; under a supervisor that is a restart loop that keeps trading unrecorded. So a
    worker with sinks refuses to start while PostgreSQL or (for cached topics) Redis is down.

    Raises
    ------
    RuntimeError
        Naming the store that does not answer.
    """
    from streams.storage.db import connect

    try:
        with connect(dsn) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot record
        raise RuntimeError(
            f"sinks: PostgreSQL does not answer ({type(exc).__name__}); not starting, or orders would be "
            "published that cannot be recorded"
        ) from None
    if any(t in CACHED_TOPICS for t in topics):
        try:
            LatestCache.connect(redis_url, "preflight").client.ping()
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(
                f"sinks: Redis does not answer ({type(exc).__name__}: {exc}); not starting, or orders "
                "would be published that cannot be recorded"
            ) from None


def add_sinks(
    app: faust.App,
    topics: Sequence[str],
    *,
    namespace: str,
    metrics: PrometheusMetrics,
    batch_max: int = 2000,
    batch_within: float = 0.05,
    dsn: str | None = None,
    redis_url: str | None = None,
    bootstrap: str | None = None,
) -> list[str]:
    """Bind a sink agent for each of ``topics`` (topic keys with a writer or a Redis cache); return them."""
    unknown = sorted(t for t in topics if t not in WRITERS and t not in CACHED_TOPICS)
    if unknown:
        raise ValueError(f"no sink for topic(s) {unknown}; sinks exist for {sorted(WRITERS)}")
    for t in topics:
        bind_sink(
            app,
            t,
            namespace=namespace,
            metrics=metrics,
            batch_max=batch_max,
            batch_within=batch_within,
            dsn=dsn,
            redis_url=redis_url,
            bootstrap=bootstrap,
        )
    return list(topics)

"""One batch's way out of a stage agent: outputs produced (orders first), made durable, then checkpointed.

The live decision is the ``orders`` message; everything else a minute produces (bars.clean, features,
regime, signals, governance, targets, portfolio, ...) is published for audit, sinks and dashboards.
So :class:`Delivery` produces and flushes the ``orders`` messages as soon as the stage code is done,
then encodes and produces the other topics (``StageRuntime(first=...)``): waiting for the orders'
acknowledgement leaves the two cores to the broker and the order gateway while the order travels
(measured on a loaded machine: the gateway's part 0.7-1.3 ms shorter p50 than when the rest was
encoded meanwhile). Then every output is flushed, then the checkpoint (state + input offsets) is
produced and flushed, all before the batch is acknowledged, in that order: Kafka orders nothing across topics, and a checkpoint that lands
before its outputs would make a crash skip (lose) them on restart; repeats are deduplicated instead.
Each topic's messages keep their order (records, then the markers after them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.binding.codecs import codec_for
from streams.binding.kafka_io import CheckpointStore, Out, control_notice
from streams.binding.metrics import PrometheusMetrics
from streams.core.stage import Stage
from streams.runner.runtime import Envelope, Outgoing, StageRuntime

log = logging.getLogger("hslr.binding")
FIRST = ("orders",)
"""Topics a batch produces before the others are encoded: what the order gateway reads (issue 12)."""
RecordFirst = Callable[[Sequence[Outgoing]], Awaitable[None]]
"""Stores a batch's outputs before they are published; raises when it cannot (streams.binding.sink_agents)."""


async def _recorded(
    record_first: RecordFirst, outgoing: Sequence[Outgoing], sid: str, out: Out, namespace: str
) -> None:
    """Store the outputs that must be recorded before they are published, or end the worker before
    publishing anything of this batch (exit 71; the batch is redelivered after a restart), saying why
    in the log, in ``hslr_errors`` (the writer's retries) and on ``control`` (a notice, action NONE:
    nothing to clear, the restarted worker resumes by itself once the store answers)."""
    try:
        await record_first(outgoing)
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot record, so do not publish
        log.critical(
            "stage %s cannot record its outputs; stopping before publishing them", sid, exc_info=True
        )
        reason = (
            f"{sid}: outputs cannot be recorded ({type(exc).__name__}); worker stopped before publishing them"
        )
        with contextlib.suppress(Exception):  # the notice is best effort: stopping is what matters
            out.send(control_notice(namespace, f"worker:{sid}", reason, int(time.time() * 1000)))
            out.flush(5.0)
        logging.shutdown()
        os._exit(71)


def _export_latency(
    metrics: PrometheusMetrics, sid: str, envelopes: Sequence[Envelope], outgoing: Sequence[Outgoing]
) -> None:
    """hslr_input_to_output_seconds: producer timestamp of the batch's oldest record-carrying input → its
    outputs flushed (markers and batches without records are left out). On a live feed this is the bar's
    publish → the decision on Kafka; on a replay it mostly measures the backlog."""
    stamps = [e.timestamp_ms for e in envelopes if e.value and e.timestamp_ms > 0]
    if stamps and any(o.value for o in outgoing):
        metrics.input_to_output(sid, max(time.time() - min(stamps) / 1000.0, 0.0))


def _durable(
    out: Out,
    checkpoints: CheckpointStore,
    runtime: StageRuntime,
    metrics: PrometheusMetrics,
    sid: str,
    envelopes: Sequence[Envelope],
    outgoing: Sequence[Outgoing],
) -> None:
    """Outputs (already produced) durable first, then the checkpoint: Kafka orders nothing across topics,
    and a checkpoint that lands before its outputs would make a crash skip (lose) them on restart;
    repeats are deduplicated instead. Raises when Kafka cannot take them."""
    t1 = time.perf_counter()
    out.flush()
    t2 = time.perf_counter()
    _export_latency(metrics, sid, envelopes, outgoing)
    checkpoints.save(sid, *runtime.checkpoint())
    out.flush()
    t3 = time.perf_counter()
    metrics.phase(sid, "flush", t2 - t1)
    metrics.phase(sid, "checkpoint", t3 - t2)


@dataclass
class Delivery:
    """Delivers each batch of one stage agent; see the module docstring."""

    runtime: StageRuntime
    out: Out
    checkpoints: CheckpointStore
    metrics: PrometheusMetrics
    namespace: str
    record_first: RecordFirst | None = None

    @classmethod
    def build(
        cls,
        stage: Stage[Any],
        bootstrap: str,
        namespace: str,
        metrics: PrometheusMetrics,
        max_records: int = 500,
        record_first: RecordFirst | None = None,
        unpublished: frozenset[str] = frozenset(),
    ) -> Delivery:
        """A delivery for ``stage`` (its runtime hands the :data:`FIRST` topics it writes over first)."""
        runtime = StageRuntime(
            stage,
            namespace=namespace,
            metrics=metrics,
            max_records=max_records,
            codec_for=lambda key: codec_for(key, namespace),
            first=[k for k in FIRST if k in stage.spec.outputs],
            unpublished=unpublished,
        )
        out = Out(bootstrap)
        return cls(runtime, out, CheckpointStore(bootstrap, namespace, out), metrics, namespace, record_first)

    async def __call__(self, envelopes: Sequence[Envelope]) -> None:
        """Process, produce (orders first), flush, checkpoint; raises when Kafka cannot take them."""
        rt = self.runtime
        outgoing = await self._publish(rt.handle(envelopes, defer_readings=True))
        if outgoing:  # the orders durable before the rest of the minute takes the cores
            t0 = time.perf_counter()
            self.out.flush()
            self.metrics.phase(rt.sid, "flush", time.perf_counter() - t0)
        outgoing += await self._publish(rt.rest())
        if outgoing or rt.changed():  # else a redelivery of this batch is a no-op anyway
            _durable(self.out, self.checkpoints, rt, self.metrics, rt.sid, envelopes, outgoing)
        rt.report_readings()  # gauges after the decisions are out

    async def _publish(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        """Record what must be recorded first (orders, a worker with sinks), then produce, unflushed."""
        if outgoing:
            sid = self.runtime.sid
            if self.record_first is not None:
                await _recorded(self.record_first, outgoing, sid, self.out, self.namespace)
            t0 = time.perf_counter()
            self.out.send(outgoing)
            self.metrics.phase(sid, "produce", time.perf_counter() - t0)
        return outgoing

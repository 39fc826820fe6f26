"""Prometheus metrics of every stage (the only module that imports prometheus_client)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from streams.core.batch import Batch
from streams.runner.readings import COUNTER, GAUGE, INITIAL, SPECS, readings

log = logging.getLogger("hslr.metrics")


def _domain(registry: CollectorRegistry) -> dict[str, Any]:
    """The trading, regime and governance metrics of :data:`streams.runner.readings.SPECS`."""
    kinds = {GAUGE: Gauge, COUNTER: Counter}
    out: dict[str, Any] = {}
    for spec in SPECS:  # prometheus_client appends _total to a counter's name itself
        name = spec.name.removesuffix("_total")
        out[spec.name] = kinds[spec.kind](name, spec.doc, list(spec.labels), registry=registry)
    for name, labels in INITIAL:
        out[name].labels(*labels)
    return out


class PrometheusMetrics:
    """Implements ``streams.runner.runtime.Metrics`` with the names the alert rules use."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._in = Counter("hslr_events_in", "Records consumed", ["stage", "topic"], registry=registry)
        self._out = Counter("hslr_events_out", "Records produced", ["stage", "topic"], registry=registry)
        self._dead = Counter(
            "hslr_dead_letters", "Messages dead-lettered", ["stage", "reason"], registry=registry
        )
        self._err = Counter("hslr_errors", "Stage processing errors", ["stage"], registry=registry)
        self._dup = Counter(
            "hslr_duplicates_dropped", "Redelivered records dropped", ["stage", "topic"], registry=registry
        )
        self._lat = Histogram(
            "hslr_processing_seconds",
            "Batch processing time",
            ["stage"],
            registry=registry,
            buckets=(1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self._e2e = Histogram(
            "hslr_input_to_output_seconds",
            "Wall time from the oldest input message's producer timestamp to the batch's "
            "outputs durable on Kafka (live: bar publish -> decision for the trader)",
            ["stage"],
            registry=registry,
            buckets=(1e-3, 2e-3, 5e-3, 1e-2, 1.5e-2, 2e-2, 3e-2, 5e-2, 0.1, 0.25, 0.5, 1, 5, 30),
        )
        self._delay = Histogram(
            "hslr_input_delay_seconds",
            "Before a batch reaches the stage code: delivery = the newest message's producer timestamp -> "
            "Faust handed it to the agent's stream (Kafka, the fetch, Faust's dispatch); batching = the "
            "batch's first message reached the stream -> the batch reached the agent",
            ["stage", "step"],
            registry=registry,
            buckets=(2.5e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 7.5e-3, 1e-2, 2e-2, 5e-2, 0.1, 1, 30),
        )
        self._last = Gauge(
            "hslr_last_event_ts_seconds", "Event time of the last record", ["stage"], registry=registry
        )
        self.lag = Gauge(
            "hslr_consumer_lag", "Consumer lag (messages)", ["stage", "topic", "partition"], registry=registry
        )
        self._phase = Counter(
            "hslr_binding_seconds",
            "Wall time of a stage's agent by phase: wait (for the next batch: fetch, Faust, idle), decode, "
            "stages, encode, produce, flush (outputs durable), checkpoint (serialise, produce, flush)",
            ["stage", "phase"],
            registry=registry,
        )
        self._gc = Histogram(
            "hslr_gc_pause_seconds",
            "Wall time the cyclic garbage collector stopped the process, per collection",
            ["generation"],
            registry=registry,
            buckets=(1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.gauges: dict[str, Gauge] = {}
        self.domain = _domain(registry)

    def init_stage(self, stage: str) -> None:
        """Export the stage's error and dead-letter counters at 0 before the first one (a series that
        appears only with its first increment hides that increment from ``increase()``)."""
        self._err.labels(stage)
        for reason in ("DECODE", "PROCESS"):
            self._dead.labels(stage, reason)

    def events_in(self, stage: str, topic: str, n: int) -> None:
        self._in.labels(stage, topic).inc(n)

    def events_out(self, stage: str, topic: str, n: int) -> None:
        self._out.labels(stage, topic).inc(n)

    def dead_letter(self, stage: str, reason: str, n: int) -> None:
        self._dead.labels(stage, reason).inc(n)

    def error(self, stage: str) -> None:
        self._err.labels(stage).inc()

    def duplicates(self, stage: str, topic: str, n: int) -> None:
        self._dup.labels(stage, topic).inc(n)

    def processing(self, stage: str, seconds: float) -> None:
        self._lat.labels(stage).observe(seconds)

    def phase(self, stage: str, phase: str, seconds: float) -> None:
        self._phase.labels(stage, phase).inc(seconds)

    def input_to_output(self, stage: str, seconds: float) -> None:
        self._e2e.labels(stage).observe(seconds)

    def input_delay(self, stage: str, step: str, seconds: float) -> None:
        self._delay.labels(stage, step).observe(seconds)

    def gc_pause(self, generation: int, seconds: float) -> None:
        self._gc.labels(str(generation)).observe(seconds)

    def last_event(self, stage: str, ts_ms: int) -> None:
        self._last.labels(stage).set(ts_ms / 1000.0)

    def records(self, stage: str, topic: str, batch: Batch) -> None:
        """Update the domain metrics from one output batch of topic key ``topic``."""
        try:
            got = readings(topic, batch)
        except Exception:  # noqa: BLE001 - a metric must never stop the stage
            log.exception("stage %s: no metrics from a %s batch", stage, topic)
            return
        for r in got:
            metric = self.domain[r.name]
            child = metric.labels(*r.labels) if r.labels else metric
            if isinstance(metric, Counter):
                child.inc(r.value)
            else:
                child.set(r.value)

    def model_info(self, kind: str, version: str) -> None:
        """Export ``hslr_model_info{kind, version} 1`` for the artifact this worker loaded."""
        self.domain["hslr_model_info"].labels(kind, version).set(1.0)

    def gauge(self, name: str, value: float, doc: str = "") -> None:
        """Set a stage-defined gauge (e.g. ``hslr_drawdown_ratio``), created on first use."""
        if name not in self.gauges:
            self.gauges[name] = Gauge(name, doc or name, registry=self.registry)
        self.gauges[name].set(value)


def serve(port: int, addr: str = "127.0.0.1") -> int:
    """Expose /metrics on ``addr`` at the first free port from ``port``; return the port used."""
    for p in range(port, port + 50):
        try:
            start_http_server(p, addr=addr)
            return p
        except OSError:
            continue
    raise RuntimeError(f"no free metrics port in {port}..{port + 49}")

"""hslr_gc_pause_seconds: every collection of the process, by generation, with its duration."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from streams.binding.gc_pauses import GcPauses, watch_gc
from streams.binding.metrics import PrometheusMetrics


@pytest.fixture
def metrics() -> Iterator[PrometheusMetrics]:
    before = list(gc.callbacks)
    m = PrometheusMetrics(CollectorRegistry())
    yield m
    gc.callbacks[:] = before


def _sample(m: PrometheusMetrics, name: str, generation: str) -> float:
    value = m.registry.get_sample_value(name, {"generation": generation})
    return 0.0 if value is None else value


def _cycles(n: int) -> None:
    for _ in range(n):
        a: list[object] = []
        a.append(a)  # garbage only the cyclic collector frees


def test_a_full_collection_is_observed_with_its_duration(metrics: PrometheusMetrics) -> None:
    watch_gc(metrics.gc_pause)
    gc.disable()  # no automatic collection inside the measured call
    try:
        _cycles(50_000)
        t0 = time.perf_counter()
        freed = gc.collect(2)
        wall = time.perf_counter() - t0
    finally:
        gc.enable()
    assert freed >= 50_000
    assert _sample(metrics, "hslr_gc_pause_seconds_count", "2") == 1
    assert 0 < _sample(metrics, "hslr_gc_pause_seconds_sum", "2") <= wall


def test_each_generation_has_its_own_series(metrics: PrometheusMetrics) -> None:
    watch_gc(metrics.gc_pause)
    for generation in (0, 1, 2, 0):
        gc.collect(generation)
    counts = [_sample(metrics, "hslr_gc_pause_seconds_count", str(g)) for g in (0, 1, 2)]
    assert counts[0] >= 2
    assert counts[1] >= 1
    assert counts[2] >= 1


def test_watching_again_replaces_the_earlier_hook(metrics: PrometheusMetrics) -> None:
    watch_gc(metrics.gc_pause)
    watch_gc(metrics.gc_pause)
    assert sum(isinstance(c, GcPauses) for c in gc.callbacks) == 1
    gc.collect(2)
    assert _sample(metrics, "hslr_gc_pause_seconds_count", "2") == 1

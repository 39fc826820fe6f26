"""Per-member metrics for co-located stages.

A fused worker runs several stages in one agent (:mod:`streams.core.fused`); the runtime's metrics then
describe the group. :class:`Observed` wraps one member so that it still reports its own records in and
out, processing time and last event time under its own stage label, as it would in its own agent. The
clock is read here, around the pure stage, never inside it: observation cannot change an output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streams.core.batch import Batch
from streams.core.fused import FusedStage
from streams.core.stage import Outputs, Stage
from streams.runner.runtime import accepted_event_time


class Observed:
    """``stage`` with its calls reported to ``metrics`` (see ``streams.runner.runtime.Metrics``)."""

    def __init__(
        self, stage: Stage[Any], metrics: Any, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.stage, self.metrics, self.clock = stage, metrics, clock
        self.spec = stage.spec
        if hasattr(stage, "on_watermark"):
            self.on_watermark = self._on_watermark

    def initial_state(self) -> Any:
        return self.stage.initial_state()

    def process(self, state: Any, topic: str, batch: Batch) -> tuple[Any, Outputs]:
        t0 = self.clock()
        state, outputs = self.stage.process(state, topic, batch)
        self._report(t0, outputs)
        self.metrics.events_in(self.spec.id, topic, batch.n)
        ts = accepted_event_time(self.spec, topic, batch, outputs)
        if ts is not None:
            self.metrics.last_event(self.spec.id, ts)
        return state, outputs

    def _on_watermark(self, state: Any, ts: int) -> tuple[Any, Outputs]:
        t0 = self.clock()
        state, outputs = self.stage.on_watermark(state, ts)  # type: ignore[attr-defined]
        self._report(t0, outputs)
        return state, outputs

    def _report(self, t0: float, outputs: Outputs) -> None:
        self.metrics.processing(self.spec.id, self.clock() - t0)
        for key, b in outputs.items():
            if b.n:
                self.metrics.events_out(self.spec.id, key, b.n)


def observe_members(stage: Stage[Any], metrics: Any) -> Stage[Any]:
    """A fused stage whose members report their own metrics; any other stage unchanged."""
    if not isinstance(stage, FusedStage):
        return stage
    return FusedStage([Observed(m, metrics) for m in stage.members], stage.external)

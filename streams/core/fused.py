"""Co-located stages: several DAG stages run as one stage, internal topics handed over in memory.

The live path's latency is dominated by the Kafka hops between agents (a consume, a produce, a flush
and a checkpoint per hop), not by the stage code. A :class:`FusedStage` runs a chain of stages the way
Kafka Streams runs a sub-topology: a batch from an *external* input goes through every member in DAG
order in one call, and a topic that only members write (``bars.clean``, ``features``, ``signals``, ...) is
handed to the later members directly. Every member output is still returned, so every topic is still
published (audit trail, sinks, Redis cache, dashboards) and the decision costs one hop instead of seven.

Equivalence with the chained deployment: each internal topic has exactly one writer, so its members
see the same records in the same order as through Kafka, and stage outputs do not depend on how
records are batched (the stage contract). Topics that are also written from outside the group
(``control``: operators, the watchdog, the binding's HALT) are *not* handed over internally; members'
writes to them go to Kafka and come back through the group's input like any other command, exactly as
in the chained deployment. The parity test runs the fused Faust worker against the in-process replay.

State: :class:`FusedState` holds one state per member, and the same member state object when a member
did not change, so the runtime checkpoints only the members that changed (the news calendar is large
and rarely changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streams.core.batch import Batch, concat
from streams.core.stage import Outputs, Stage, StageSpec


@dataclass(frozen=True)
class FusedState:
    """The member states, in member order."""

    members: tuple[Any, ...]


def fused_spec(stages: Sequence[Stage[Any]], external: frozenset[str]) -> tuple[StageSpec, frozenset[str]]:
    """The group's spec and its internal topics; raises ``ValueError`` on an invalid group."""
    if not stages:
        raise ValueError("a fused stage needs at least one member")
    writers: dict[str, list[str]] = {}
    for s in stages:
        for t in s.spec.outputs:
            writers.setdefault(t, []).append(s.spec.id)
    internal = frozenset(t for t, w in writers.items() if t not in external)
    shared = {t: w for t, w in writers.items() if t in internal and len(w) > 1}
    if shared:
        raise ValueError(f"topics with several writers cannot be handed over internally: {shared}")
    written: set[str] = set()
    inputs: list[str] = []
    for s in stages:
        for t in s.spec.inputs:
            if t in internal and t not in written:
                raise ValueError(
                    f"stage {s.spec.id} reads {t!r} before its writer {writers[t][0]} in the group"
                )
            if t not in internal and t not in inputs:
                inputs.append(t)
        written.update(s.spec.outputs)
    outputs = tuple(dict.fromkeys(t for s in stages for t in s.spec.outputs))
    sid = "_".join(s.spec.id for s in stages)
    return StageSpec(sid, tuple(inputs), outputs), internal


class FusedStage:
    """Runs ``stages`` (in DAG order) as one stage; see the module docstring.

    ``external`` names the topics also written from outside the group (never handed over internally).
    """

    def __init__(self, stages: Sequence[Stage[Any]], external: frozenset[str]) -> None:
        self.members = tuple(stages)
        self.external = external
        self.spec, self.internal = fused_spec(self.members, external)

    def initial_state(self) -> FusedState:
        return FusedState(tuple(s.initial_state() for s in self.members))

    def process(self, state: FusedState, topic: str, batch: Batch) -> tuple[FusedState, Outputs]:
        if topic not in self.spec.inputs:
            raise ValueError(f"fused stage {self.spec.id} has no input {topic!r}; inputs: {self.spec.inputs}")
        pending: dict[str, list[Batch]] = {topic: [batch]}
        produced: dict[str, list[Batch]] = {}
        states = list(state.members)
        for i, stage in enumerate(self.members):
            for key in stage.spec.inputs:
                parts = pending.get(key, []) if key in self.internal or key == topic else []
                for part in parts:
                    states[i], outputs = stage.process(states[i], key, part)
                    self._collect(outputs, produced, pending)
        return self._result(state, states, produced)

    def on_watermark(self, state: FusedState, ts: int) -> tuple[FusedState, Outputs]:
        """Pass a watermark through the members in order, as the chained deployment would: a member first
        processes what earlier members emitted on the watermark, then gets the watermark itself."""
        pending: dict[str, list[Batch]] = {}
        produced: dict[str, list[Batch]] = {}
        states = list(state.members)
        for i, stage in enumerate(self.members):
            for key in stage.spec.inputs:
                for part in pending.get(key, []) if key in self.internal else []:
                    states[i], outputs = stage.process(states[i], key, part)
                    self._collect(outputs, produced, pending)
            hook = getattr(stage, "on_watermark", None)
            if hook is not None:
                states[i], outputs = hook(states[i], ts)
                self._collect(outputs, produced, pending)
        return self._result(state, states, produced)

    def _collect(
        self, outputs: Outputs, produced: dict[str, list[Batch]], pending: dict[str, list[Batch]]
    ) -> None:
        for k, b in outputs.items():
            produced.setdefault(k, []).append(b)
            if k in self.internal:
                pending.setdefault(k, []).append(b)

    @staticmethod
    def _result(
        state: FusedState, states: list[Any], produced: dict[str, list[Batch]]
    ) -> tuple[FusedState, Outputs]:
        changed = any(a is not b for a, b in zip(states, state.members, strict=True))
        new = FusedState(tuple(states)) if changed else state
        return new, {k: concat(v) for k, v in produced.items()}

"""Run a stage over its inputs in one of several run modes; every mode must give the same outputs.

Bytewax runs each test under every execution mode; ``tests/conftest.py``'s ``runner`` fixture does the
same with these modes:

``batch``         each input batch in one ``process`` call
``splits``        each input batch cut at random rows (seeded) into up to five calls
``per_record``    one call per record
``fused``         the stage inside a one-member :class:`~streams.core.fused.FusedStage`
``runtime_avro``  the transport-free runtime: inputs Avro-encoded into messages, outputs decoded back
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.core.batch import Batch, concat
from streams.core.fused import FusedStage, FusedState
from streams.core.topics import TOPICS
from streams.runner.runtime import Envelope, StageRuntime
from streams.serde.avro import AvroCodec, empty_batch

RUN_MODES = ("batch", "splits", "per_record", "fused", "runtime_avro")
NAMESPACE = "kit"
Inputs = Sequence[tuple[str, Batch]]


def _chunks(batch: Batch, mode: str, rng: np.random.Generator) -> Iterator[Batch]:
    if mode == "per_record":
        cuts = list(range(1, batch.n))
    elif mode == "splits" and batch.n > 1:
        cuts = sorted(set(rng.integers(1, batch.n, size=min(4, batch.n - 1)).tolist()))
    else:
        cuts = []
    edges = [0, *cuts, batch.n]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        yield batch.take(slice(a, b))


@dataclass
class Runner:
    """``runner(stage, [(topic, batch), ...], state=None) -> (state, {output topic: batch})``."""

    mode: str
    seed: int = 0
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        if self.mode not in RUN_MODES:
            raise ValueError(f"unknown run mode {self.mode!r}; modes: {RUN_MODES}")
        self.rng = np.random.default_rng(self.seed)

    def __call__(self, stage: Any, inputs: Inputs, state: Any = None) -> tuple[Any, dict[str, Batch]]:
        if self.mode == "runtime_avro":
            return self._runtime(stage, inputs, state)
        # A topic the stage both reads and writes (control) is written from outside too: never internal.
        external = frozenset(stage.spec.inputs) & frozenset(stage.spec.outputs)
        target = FusedStage([stage], external) if self.mode == "fused" else stage
        if state is None:
            state = target.initial_state()
        elif self.mode == "fused":
            state = FusedState((state,))
        parts: dict[str, list[Batch]] = {}
        for topic, batch in inputs:
            for chunk in _chunks(batch, self.mode, self.rng):
                state, out = target.process(state, topic, chunk)
                for key, value in out.items():
                    parts.setdefault(key, []).append(value)
        if self.mode == "fused":
            state = state.members[0]
        return state, {k: concat(v) for k, v in parts.items()}

    def _runtime(self, stage: Any, inputs: Inputs, state: Any) -> tuple[Any, dict[str, Batch]]:
        rt = StageRuntime(stage, namespace=NAMESPACE, max_records=500)
        if state is not None:
            rt.cp.state = state
        names = {TOPICS[k].name(NAMESPACE): k for k in stage.spec.outputs}
        outputs: dict[str, list[bytes]] = {}
        offset = 0
        for topic, batch in inputs:
            codec = AvroCodec(TOPICS[topic].schema)
            envelopes = []
            for value in codec.encode_batch(complete(batch, codec), max_records=max(1, batch.n // 3)):
                envelopes.append(Envelope(TOPICS[topic].name(NAMESPACE), 0, offset, None, value))
                offset += 1
            for message in rt.handle(envelopes):
                if message.topic in names and message.value:
                    outputs.setdefault(names[message.topic], []).append(message.value)
        if rt.halted:
            raise RuntimeError(f"the runtime dead-lettered a batch: {rt.halted}")
        decoded = {}
        for key in stage.spec.outputs:
            schema = TOPICS[key].schema
            messages = outputs.get(key, [])
            decoded[key] = AvroCodec(schema).decode_batch(messages)[0] if messages else empty_batch(schema)
        return rt.cp.state, decoded


_FILL: dict[str, tuple[Any, Any]] = {
    "string": ("", np.str_),
    "long": (0, np.int64),
    "int": (0, np.int32),
    "double": (0.0, np.float64),
    "float": (0.0, np.float64),
    "boolean": (False, np.bool_),
}


def complete(batch: Batch, codec: AvroCodec) -> Batch:
    """``batch`` with a placeholder column (empty, zero, false) for every schema field it lacks that has no
    default: test factories build only the fields a stage reads, a topic's schema wants them all. The
    stage carries the placeholders forward; compare outputs on the columns of the batch-mode result."""
    extra = {}
    for f in codec.info.raw["fields"]:
        if f["name"] in batch or "default" in f:
            continue
        t = f["type"]
        t = next(x for x in t if x != "null") if isinstance(t, list) else t
        if isinstance(t, dict):
            t = t["symbols"][0] if t.get("type") == "enum" else t["type"]
            value, dtype = _FILL.get(t, (t, np.str_))
        else:
            value, dtype = _FILL[t]
        extra[f["name"]] = np.full(batch.n, value, dtype=dtype)
    return batch.with_columns(**extra) if extra else batch


def same(reference: Batch, got: Batch) -> bool:
    """``got`` equals ``reference`` on their common columns: through Avro a record carries exactly its
    schema's fields (placeholders added, fields outside the schema dropped); other modes keep them all."""
    common = [k for k in reference if k in got]
    return len(common) >= len(list(reference)) // 2 and reference.select(common).equals(got.select(common))


def run(stage: Any, inputs: Inputs, state: Any = None) -> tuple[Any, dict[str, Batch]]:
    """Process ``inputs`` as given (one ``process`` call per batch): the reference the modes are held to."""
    return Runner("batch")(stage, inputs, state)


def pieces(batch: Batch, cuts: Sequence[int]) -> list[Batch]:
    """``batch`` cut at the row indices ``cuts`` (any order, repeats allowed)."""
    edges = [0, *sorted(set(c for c in cuts if 0 < c < batch.n)), batch.n]
    return [batch.take(slice(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

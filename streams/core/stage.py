"""The one stage contract shared by the Faust binding, the in-process replay and the tests.

A stage is pure, transport-free code. It declares the topics it reads and writes (by DAG key, see
``streams.dag``), owns an explicit immutable state, and turns one columnar batch from one of its inputs
into batches for its outputs::

    state, outputs = stage.process(state, topic, batch)

Rules every stage follows (the parity tests check them):

* ``process`` never mutates ``state`` or ``batch``; it returns a new state (copy-on-write).
* Outputs depend only on the state and the records, never on how records were split into batches:
  processing ``a`` then ``b`` equals processing ``concat(a, b)``.
* Time comes from the records (``ts``, ms UTC) and randomness from an explicit ``numpy.random.Generator``;
  no clock reads, no globals, no I/O.
* The first input is the primary one (it drives the outputs); further inputs are side inputs
  (calendar updates, control commands) that only change state.
* Optional ``on_watermark(state, ts) -> (state, outputs)``: called when the primary input promises that
  no record at or before ``ts`` follows (a live feed's minute-close marker). A stage that holds records
  back until it has seen enough (the trader waits for every pair of a minute) may emit them then; the
  outputs must be those it would have emitted anyway, only earlier. Replays carry no watermarks. Feedback loops never cross stages: a
  loop (risk sizing that needs the equity its own orders produce) lives inside one stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from streams.core.batch import Batch

S = TypeVar("S")

Outputs = Mapping[str, Batch]


@dataclass(frozen=True)
class StageSpec:
    """Declaration of a stage: its id (= consumer group, topic prefix and Prometheus ``stage`` label),
    the topic keys it reads (primary first) and the topic keys it writes."""

    id: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.inputs[0]


@runtime_checkable
class Stage(Protocol[S]):
    """A pure DAG stage (see the module docstring for the rules)."""

    spec: StageSpec

    def initial_state(self) -> S: ...

    def process(self, state: S, topic: str, batch: Batch) -> tuple[S, Outputs]: ...


def run_records(stage: Stage[Any], state: Any, topic: str, batch: Batch) -> tuple[Any, dict[str, Batch]]:
    """Process ``batch`` one record at a time (the per-event path) and concatenate the outputs.

    Used by the parity tests as the reference that the vectorised path must equal.
    """
    from streams.core.batch import concat

    parts: dict[str, list[Batch]] = {}
    for i in range(batch.n):
        state, out = stage.process(state, topic, batch.take(slice(i, i + 1)))
        for k, b in out.items():
            parts.setdefault(k, []).append(b)
    return state, {k: concat(v) for k, v in parts.items()}

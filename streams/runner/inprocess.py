"""In-process replay: the DAG's stages chained over whole arrays, no broker.

Runs exactly the stage code the Faust workers run, in DAG order. Each stage consumes its side inputs
first (calendar, control: reference data known before the replayed bars), then its primary input in
chunks of ``chunk`` rows (``None``: one chunk). Because stage outputs do not depend on chunking, any
chunk size gives the same result; the parity tests use that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.core.batch import Batch, concat
from streams.core.stage import Stage


def _chunks(parts: list[Batch], chunk: int | None) -> list[Batch]:
    """The records of ``parts`` in order, as one batch (``chunk`` None) or batches of ``chunk`` rows.

    Upstream outputs already come in pieces; re-joining them costs a copy of every column, so pieces are
    only joined when they must be re-cut to the chunk size.
    """
    data = concat(parts)
    if data.n == 0:
        return []
    if chunk is None or chunk >= data.n:
        return [data]
    return [data.take(slice(i, i + chunk)) for i in range(0, data.n, chunk)]


def run_inprocess(
    stages: Sequence[Stage[Any]],
    sources: Mapping[str, Batch],
    *,
    chunk: int | None = None,
    states: dict[str, Any] | None = None,
) -> dict[str, Batch]:
    """Run ``stages`` over ``sources`` (topic key → batch); return every topic's records.

    ``states`` (stage id → state) is updated in place with each stage's final state, so a caller can
    continue a replay or inspect state; missing entries start from ``initial_state()``.
    """
    topics: dict[str, list[Batch]] = {k: [v] for k, v in sources.items()}
    states = states if states is not None else {}
    for stage in stages:
        sid = stage.spec.id
        state = states.get(sid, stage.initial_state())
        for key in (*stage.spec.inputs[1:], stage.spec.primary):
            for part in _chunks(topics.get(key, []), chunk):
                state, outputs = stage.process(state, key, part)
                for k, b in outputs.items():
                    topics.setdefault(k, []).append(b)
        states[sid] = state
    return {k: concat(v) for k, v in topics.items()}

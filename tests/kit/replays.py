"""Comparing what a Kafka deployment published with an undisturbed run."""

from __future__ import annotations

import json

import numpy as np

from streams.core.batch import Batch


def distinct_in_order(b: Batch) -> Batch:
    """Drop exact repeats (at-least-once redelivery re-emits identical records), keep first occurrences."""
    rows = [json.dumps(r, sort_keys=True, default=str) for r in b.to_records()]
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        seen.setdefault(r, i)
    return b.take(np.array(sorted(seen.values()), dtype=np.int64))

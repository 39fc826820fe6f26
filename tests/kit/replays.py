"""Comparing what a Kafka deployment published with an undisturbed run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from streams.core.batch import Batch


def distinct_in_order(b: Batch) -> Batch:
    """Drop exact repeats (at-least-once redelivery re-emits identical records), keep first occurrences."""
    rows = [json.dumps(r, sort_keys=True, default=str) for r in b.to_records()]
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        seen.setdefault(r, i)
    return b.take(np.array(sorted(seen.values()), dtype=np.int64))


def complete(b: Batch, schema: str) -> Batch:
    """``b`` with every field of ``schema`` it lacks filled with a neutral value (0, False, '')."""
    raw = json.loads((Path(__file__).resolve().parents[2] / "schemas" / f"{schema}.avsc").read_text())
    fill = {"double": 0.0, "float": 0.0, "int": 0, "long": 0, "boolean": False, "string": ""}
    extra = {}
    for f in raw["fields"]:
        if f["name"] not in b:
            typ = f["type"] if isinstance(f["type"], str) else f["type"].get("type", "string")
            extra[f["name"]] = np.full(b.n, fill.get(typ, ""))
    return b.with_columns(**extra)

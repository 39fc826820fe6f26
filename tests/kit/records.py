"""Random records of any topic schema (every field typed from its ``.avsc``), some columns fixed."""

from __future__ import annotations

from typing import Any

import numpy as np

from streams.core.batch import Batch
from streams.serde.avro import default_store, records_to_batch


def _value(avro_type: Any, rng: np.random.Generator) -> Any:
    if isinstance(avro_type, list):
        return _value(next(t for t in avro_type if t != "null"), rng)
    if isinstance(avro_type, dict):
        return avro_type["symbols"][0] if avro_type["type"] == "enum" else _value(avro_type["type"], rng)
    return {
        "string": lambda: f"s{rng.integers(1000)}",
        "long": lambda: int(rng.integers(1, 2**40)),
        "int": lambda: int(rng.integers(0, 4)),
        "double": lambda: float(rng.normal()),
        "boolean": lambda: bool(rng.integers(2)),
        "bytes": lambda: rng.bytes(6),
    }[avro_type]()


def records(stem: str, n: int, seed: int, **columns: list[Any]) -> Batch:
    """``n`` random records of schema ``stem`` (every field typed from the schema), ``columns`` fixed."""
    rng = np.random.default_rng(seed)
    info = default_store().schema(stem)
    rows = [{f["name"]: _value(f["type"], rng) for f in info.raw["fields"]} for _ in range(n)]
    for name, values in columns.items():
        for r, v in zip(rows, values, strict=True):
            r[name] = v
    return records_to_batch(rows, info)

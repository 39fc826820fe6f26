"""Columnar batches: the one record container every stage sees.

A :class:`Batch` is an immutable mapping of column name to a 1-D numpy array, all of the same length.
Stages read and return batches; bindings turn Avro records into batches and back. Strings (``pair``)
are numpy unicode arrays, times are ``int64`` milliseconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from streams.core.units import Array


class Batch(Mapping[str, Array]):
    """An immutable, equal-length set of named numpy columns."""

    __slots__ = ("_cols", "_n")

    def __init__(self, cols: Mapping[str, Any]) -> None:
        arrays = {k: np.asarray(v) for k, v in cols.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns differ in length: { {k: len(a) for k, a in arrays.items()} }")
        for a in arrays.values():
            a.flags.writeable = False
        self._cols = arrays
        self._n = lengths.pop() if lengths else 0

    def __getitem__(self, name: str) -> Array:
        return self._cols[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:  # number of columns (Mapping protocol)
        return len(self._cols)

    @property
    def n(self) -> int:
        """Number of rows."""
        return self._n

    def __repr__(self) -> str:
        return f"Batch(n={self._n}, columns={list(self._cols)})"

    @classmethod
    def empty(cls, fields: Sequence[str]) -> Batch:
        return cls({f: np.empty(0) for f in fields})

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> Batch:
        """Build a batch from row dicts, keeping only ``fields`` (in that order)."""
        if not records:
            return cls.empty(fields)
        return cls({f: np.array([r[f] for r in records]) for f in fields})

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as plain Python dicts (numpy scalars converted with ``.item()``)."""
        cols = {k: v.tolist() for k, v in self._cols.items()}
        return [dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)]

    def take(self, index: Array | slice) -> Batch:
        """Rows selected by an integer index or boolean mask."""
        return Batch({k: v[index] for k, v in self._cols.items()})

    def with_columns(self, **cols: Any) -> Batch:
        return Batch({**self._cols, **cols})

    def select(self, fields: Iterable[str]) -> Batch:
        return Batch({f: self._cols[f] for f in fields})

    def equals(self, other: Batch, *, rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Column-wise equality (NaN equals NaN); floats compared with the given tolerances."""
        if set(self) != set(other) or self.n != other.n:
            return False
        for k, a in self._cols.items():
            b = other[k]
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
                    return False
            elif not np.array_equal(a, b):
                return False
        return True


def concat(batches: Sequence[Batch]) -> Batch:
    """Row-wise concatenation; all batches must share the same columns."""
    batches = [b for b in batches if b.n or len(b)]
    if not batches:
        return Batch({})
    if len(batches) == 1:
        return batches[0]  # immutable: no copy needed
    names = list(batches[0])
    return Batch({k: np.concatenate([b[k] for b in batches]) for k in names})

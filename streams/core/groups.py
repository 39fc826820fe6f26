"""Grouping helpers over numpy columns: rows per pair, distinct values of sorted keys.

``np.unique`` hashes or sorts its whole input; event-time keys are already non-decreasing, so their
distinct values and run starts are one comparison of neighbours (same values, same order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.units import I64


def group_rows(pair: npt.NDArray[np.str_]) -> list[tuple[str, npt.NDArray[np.intp]]]:
    """Return ``(pair, row indices in order)`` for each distinct pair of ``pair`` (shape (n,)), sorted by pair."""
    if pair.dtype.kind == "U" and 0 < pair.dtype.itemsize // 4 <= 9:
        codes = pair.view(np.uint32).reshape(len(pair), -1)
        if len(pair) and int(codes.max()) < 128:
            # ASCII codes of up to 9 characters pack into one int64: hashing ints beats sorting strings
            key = codes[:, 0].astype(np.int64)
            for j in range(1, codes.shape[1]):
                key |= codes[:, j].astype(np.int64) << (7 * j)
            if (key == key[0]).all():  # one pair: no hashing
                return [(str(pair[0]), np.arange(len(pair)))]
            firsts = [np.flatnonzero(key == k) for k in np.unique(key, sorted=False).tolist()]
            return sorted((str(pair[idx[0]]), idx) for idx in firsts)
    names, inverse = np.unique(pair, return_inverse=True)
    return [(str(name), np.flatnonzero(inverse == j)) for j, name in enumerate(names.tolist())]


def run_starts(keys: I64) -> npt.NDArray[np.intp]:
    """Index of the first row of each run of equal values of non-decreasing ``keys`` (shape (n,))."""
    if keys.size == 0:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))


def sorted_unique(keys: I64) -> I64:
    """``np.unique(keys)`` of non-decreasing ``keys`` (shape (n,))."""
    return keys[run_starts(keys)]


def union_sorted(*keys: I64) -> I64:
    """``np.union1d`` of sorted integer arrays, shape (U,)."""
    parts = [k for k in keys if k.size]
    if len(parts) <= 1:
        return sorted_unique(parts[0].astype(np.int64)) if parts else np.empty(0, dtype=np.int64)
    return sorted_unique(np.sort(np.concatenate(parts).astype(np.int64)))


def order_codes(s: npt.NDArray[np.str_]) -> I64 | None:
    """Integers in the order of the strings ``s`` (shape (n,)), so a sort by them equals a sort by ``s``;
    None unless every string is ASCII of at most 9 characters (7 bits each, big-endian in an int64)."""
    width = s.dtype.itemsize // 4 if s.dtype.kind == "U" else 0
    if s.size == 0 or not 0 < width <= 9:
        return None
    codes = np.ascontiguousarray(s).view(np.uint32).reshape(s.size, width)
    if int(codes.max()) >= 128:
        return None
    key = np.zeros(s.size, dtype=np.int64)
    for j in range(width):  # numpy pads shorter strings with NUL, which sorts first: same as here
        key = (key << 7) | codes[:, j].astype(np.int64)
    return key

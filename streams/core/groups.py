"""Grouping helpers over numpy columns: rows per pair, distinct values of sorted keys.

``np.unique`` hashes or sorts its whole input; event-time keys are already non-decreasing, so their
distinct values and run starts are one comparison of neighbours (same values, same order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.jit import njit
from streams.core.units import I64


def group_rows(pair: npt.NDArray[np.str_]) -> list[tuple[str, npt.NDArray[np.intp]]]:
    """Return ``(pair, row indices in order)`` for each distinct pair of ``pair`` (shape (n,)), sorted by pair."""
    if pair.dtype.kind == "U" and pair.size and pair.dtype.itemsize:
        codes = np.ascontiguousarray(pair).view(np.uint32).reshape(pair.size, -1)
        order, offsets = _group(codes)
        if offsets.size:  # up to 64 distinct pairs: one compiled pass, no hashing or sorting of strings
            bounds = zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
            return sorted((str(pair[order[a]]), order[a:b]) for a, b in bounds)
    names, inverse = np.unique(pair, return_inverse=True)
    return [(str(name), np.flatnonzero(inverse == j)) for j, name in enumerate(names.tolist())]


@njit
def _group(codes: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.intp], I64]:
    """Rows grouped by equal code rows (groups in order of first appearance, rows in order) and the
    group offsets into them; empty offsets when there are more than 64 groups."""
    n, w = codes.shape
    first = np.empty(64, dtype=np.int64)
    gid = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        g = 0
        while g < k:
            r = first[g]
            c = 0
            while c < w and codes[i, c] == codes[r, c]:
                c += 1
            if c == w:
                break
            g += 1
        if g == k:
            if k == 64:
                return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
            first[k] = i
            k += 1
        gid[i] = g
    offsets = np.zeros(k + 1, dtype=np.int64)
    for i in range(n):
        offsets[gid[i] + 1] += 1
    offsets = np.cumsum(offsets)
    fill = offsets[:-1].copy()
    order = np.empty(n, dtype=np.intp)
    for i in range(n):
        order[fill[gid[i]]] = i
        fill[gid[i]] += 1
    return order, offsets


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


def order_ranks(s: npt.NDArray[np.str_]) -> I64 | None:
    """The rank of each string of ``s`` (shape (n,)) among its distinct values, in string order: a sort
    by the ranks equals a sort by ``s``. None when there are more than 64 distinct values."""
    if s.dtype.kind != "U" or s.size == 0 or s.dtype.itemsize == 0:
        return None
    ranks = _ranks(np.ascontiguousarray(s).view(np.uint32).reshape(s.size, -1))
    return ranks if ranks.size == s.size else None


@njit
def _ranks(codes: npt.NDArray[np.uint32]) -> I64:
    order, offsets = _group(codes)
    k = offsets.size - 1
    if k < 1:
        return np.empty(0, dtype=np.int64)
    heads = order[offsets[:-1]]  # first row of each group
    rank = np.zeros(k, dtype=np.int64)  # code points compare as numpy compares strings (NUL-padded)
    for g in range(k):
        for h in range(k):
            c = 0
            while c < codes.shape[1] and codes[heads[h], c] == codes[heads[g], c]:
                c += 1
            if c < codes.shape[1] and codes[heads[h], c] < codes[heads[g], c]:
                rank[g] += 1
    out = np.empty(codes.shape[0], dtype=np.int64)
    for g in range(k):
        for i in range(offsets[g], offsets[g + 1]):
            out[order[i]] = rank[g]
    return out

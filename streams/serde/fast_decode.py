"""Column-wise decoding of Avro record batches written with a row index (``hslr-rows`` header).

A record batch is standard Avro (``streams.serde.fast_encode`` writes it); its writer also sends each
row's start offset, so a reader can decode field by field for all rows at once, and for many messages at
once: their record bytes are joined and decoded as one block. Without an index, or whenever anything does
not add up (every row must end exactly where the next begins), callers decode with fastavro instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

_MAX_VARINT = 10
_FIXED = {"boolean": 1, "float": 4, "double": 8}
_PAD = 1024
"""Zero bytes after the joined record bytes, so fixed-width windows near the end stay inside the buffer."""


def _window(buf: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """``buf[pos[i] : pos[i] + width]`` for every row, as a (rows, width) array. A sliding-window view
    indexed by row copies ``width`` contiguous bytes per row (8x faster than a 2-D index); positions
    past the record bytes read padding, which the final row-end check rejects."""
    if len(pos) and int(pos.max()) + width > len(buf):
        buf = np.concatenate([buf, np.zeros(int(pos.max()) + width - len(buf), dtype=np.uint8)])
    return sliding_window_view(buf, width)[pos]


def _read_varint(
    buf: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    byte = buf[pos].astype(np.uint64)
    z = byte & np.uint64(0x7F)
    length = np.ones(len(pos), dtype=np.int64)
    idx = np.flatnonzero(byte & np.uint64(0x80))
    for k in range(1, _MAX_VARINT + 1):
        if not len(idx):
            break
        if k == _MAX_VARINT:
            raise ValueError("varint longer than 10 bytes")
        byte = buf[pos[idx] + k].astype(np.uint64)
        z[idx] |= (byte & np.uint64(0x7F)) << np.uint64(7 * k)
        length[idx] += 1
        idx = idx[(byte & np.uint64(0x80)) != 0]
    value = (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)
    return value, length


def _runs(types: list[str]) -> list[tuple[int, int]]:
    """[start, end) index ranges of consecutive fields: fixed-width runs and single variable fields."""
    runs, i = [], 0
    while i < len(types):
        j = i + 1
        if types[i] in _FIXED:
            while j < len(types) and types[j] in _FIXED:
                j += 1
        runs.append((i, j))
        i = j
    return runs


def _fixed_run(
    buf: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64], names: list[str], types: list[str]
) -> dict[str, Any]:
    width = sum(_FIXED[t] for t in types)
    raw = _window(buf, pos, width)
    cols: dict[str, Any] = {}
    at = 0
    for name, t in zip(names, types, strict=True):
        w = _FIXED[t]
        if t == "boolean":
            cols[name] = raw[:, at] != 0
        else:
            cols[name] = np.ascontiguousarray(raw[:, at : at + w]).view("<f8" if w == 8 else "<f4").ravel()
            cols[name] = cols[name].astype(np.float64 if w == 8 else np.float32)
        at += w
    pos += width
    return cols


def _string(buf: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    lens, head_len = _read_varint(buf, pos)
    pos += head_len
    if (lens < 0).any():
        raise ValueError("negative string length")
    width = int(lens.max(initial=0))
    if not width:
        return np.full(len(pos), "", dtype=str)
    mat = _window(buf, pos, width)
    mask = np.arange(width)[None, :] < lens[:, None]
    mat[~mask] = 0
    pos += lens
    if (mask & (mat == 0)).any():
        raise ValueError("NUL inside a string")  # numpy strings would drop it: fastavro decides
    if int(mat.max()) < 0x80:
        return mat.astype(np.uint32).view(f"<U{width}").ravel()
    return np.char.decode(mat.view(f"S{width}").ravel(), "utf-8").astype(str)


def _count(body: bytes) -> tuple[int, int]:
    """(record count, bytes of its varint) at the start of an Avro array body."""
    z = shift = 0
    for k, byte in enumerate(body[:_MAX_VARINT]):
        z |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return (z >> 1) ^ -(z & 1), k + 1
    raise ValueError("bad record count")


def decode_bodies(
    bodies: Sequence[bytes], indexes: Sequence[bytes], names: list[str], types: list[str]
) -> dict[str, Any]:
    """Columns of Avro array bodies (count varint, records, 0), each with its row index (row start
    offsets, little-endian int32, count + 1 values), decoded as one block: rows in message order."""
    parts, starts, offset = [], [], 0
    for body, index in zip(bodies, indexes, strict=True):
        n, head = _count(body)
        rel = np.frombuffer(index, dtype="<i4")
        if n <= 0 or len(rel) != n + 1 or rel[0] != 0:
            raise ValueError("row index does not match the record count")
        if head + int(rel[-1]) != len(body) - 1 or body[-1] != 0:
            raise ValueError("row index does not cover the array body")
        parts.append(body[head:-1])
        starts.append(rel[:-1].astype(np.int64) + offset)
        offset += int(rel[-1])
    buf = np.frombuffer(b"".join([*parts, bytes(_PAD)]), dtype=np.uint8)
    start = np.concatenate(starts)
    end = np.append(start[1:], offset)
    if (end <= start).any():
        raise ValueError("row index is not increasing")
    pos = start.copy()
    cols: dict[str, Any] = {}
    for a, b in _runs(types):
        t, name = types[a], names[a]
        if t in _FIXED:
            cols.update(_fixed_run(buf, pos, names[a:b], types[a:b]))
        elif t == "string":
            cols[name] = _string(buf, pos)
        else:
            v, length = _read_varint(buf, pos)
            cols[name] = v.astype(np.int32) if t == "int" else v
            pos += length
    if not np.array_equal(pos, end):
        raise ValueError("decoded rows do not end where the index says")
    return cols


def decode_rows(body: bytes, index: bytes, names: list[str], types: list[str]) -> dict[str, Any]:
    """Columns of one Avro array body with its row index (see :func:`decode_bodies`)."""
    return decode_bodies([body], [index], names, types)

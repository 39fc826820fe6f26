"""Column-wise decoding of Avro record batches written with a row index (``hslr-rows`` header).

A record batch is standard Avro (``streams.serde.fast_encode`` writes it); its writer also sends each
row's start offset, so a reader can decode all rows of many messages at once: their record bytes are
joined and decoded as one block by a compiled loop (``streams.serde.avro_kernels``). Without an index,
or whenever anything does not add up (every row must end exactly where the next begins, strings must be
valid UTF-8 without NUL), this raises ``ValueError`` and callers decode with fastavro instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.serde import avro_kernels as k

_MAX_VARINT = 10


def _count(body: bytes) -> tuple[int, int]:
    """(record count, bytes of its varint) at the start of an Avro array body."""
    z = shift = 0
    for i, byte in enumerate(body[:_MAX_VARINT]):
        z |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return (z >> 1) ^ -(z & 1), i + 1
    raise ValueError("bad record count")


def _check(err: int) -> None:
    if err:
        raise ValueError(k.ERRORS[err])


def _strings(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64], length: npt.NDArray[np.int64]) -> Any:
    width = int(length.max(initial=0))
    if not width:
        return np.full(len(at), "", dtype=str)
    codes, most, err = k.utf8_codes(buf, at, length, width)
    _check(err)
    if most < width:  # non-ASCII values: fewer code points than bytes
        codes = np.ascontiguousarray(codes[:, :most])
    return codes.view(f"<U{most}").ravel()


def _column(t: str, bits: npt.NDArray[np.uint64]) -> Any:
    if t == "double":
        return bits.view(np.float64)
    if t == "float":
        return bits.astype(np.uint32).view(np.float32)
    if t == "boolean":
        return bits != 0
    return bits.view(np.int64).astype(np.int32) if t == "int" else bits.view(np.int64)


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
    buf = np.frombuffer(b"".join(parts), dtype=np.uint8)
    start = np.concatenate(starts)
    end = np.append(start[1:], offset)
    if (end <= start).any():
        raise ValueError("row index is not increasing")
    kinds = np.array([k.KIND[t] for t in types], dtype=np.int64)
    nums, s_at, s_len, err = k.decode_rows(buf, start, end, kinds, types.count("string"))
    _check(err)
    cols: dict[str, Any] = {}
    s = 0
    for f, (name, t) in enumerate(zip(names, types, strict=True)):
        if t == "string":
            cols[name] = _strings(buf, s_at[s], s_len[s])
            s += 1
        else:
            cols[name] = _column(t, nums[f])
    return cols


def decode_rows(body: bytes, index: bytes, names: list[str], types: list[str]) -> dict[str, Any]:
    """Columns of one Avro array body with its row index (see :func:`decode_bodies`)."""
    return decode_bodies([body], [index], names, types)

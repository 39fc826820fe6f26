"""Avro binary encoding of flat record batches, byte-identical to fastavro, compiled (numba).

Encoding is where a Kafka replay spends much of its time: every stage re-encodes its wide, flat output
records. For schemas whose fields are all ``boolean``, ``int``, ``long``, ``float``, ``double`` or
``string``, this module encodes a whole batch in one compiled loop (``streams.serde.avro_kernels``)
instead of a Python dict and a fastavro call per record. Anything else (unions, enums, bytes, nested
types, strings with NUL characters or lone surrogates, string columns holding non-strings) returns
``None`` and the caller falls back to fastavro. The tests compare bytes with fastavro's on random and
dirty records.

How: the non-string fields become one ``(rows, fields)`` uint64 matrix (zigzag ints, float bits, 0/1),
the string fields one matrix of their UCS-4 code points side by side; the kernel writes each row's body
(varints, little-endian floats, UTF-8 strings) and its start. Rows are encoded in blocks of
:data:`BLOCK_ROWS` so memory stays bounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.serde import avro_kernels as k

SUPPORTED = frozenset(k.KIND)
BLOCK_ROWS = 16384
"""Rows encoded at once (the output buffer of a 46-field signal block is then a few MB)."""


def plain_types(raw: dict[str, Any]) -> list[str] | None:
    """The field types of a flat record schema, or None when a field is not a supported primitive."""
    out = []
    for f in raw["fields"]:
        t = f["type"]
        if isinstance(t, dict) and "logicalType" in t:
            t = t["type"]
        if not isinstance(t, str) or t not in SUPPORTED:
            return None
        out.append(t)
    return out


def _zigzag(v: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def _number(t: str, col: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if t in ("int", "long"):
        return _zigzag(col)
    if t == "double":
        return np.asarray(col, dtype="<f8").view(np.uint64)
    if t == "float":
        return np.asarray(col, dtype="<f4").view(np.uint32)
    return col.astype(bool)


def _codes(col: npt.NDArray[Any]) -> npt.NDArray[np.uint32] | None:
    """UCS-4 code points (rows, width) of a string column; None for a column holding non-strings."""
    if col.dtype.kind == "O":
        if not all(isinstance(v, str) for v in col.tolist()):
            return None
        col = col.astype(str)
    elif col.dtype.kind != "U":
        return None
    width = col.dtype.itemsize // 4
    return np.ascontiguousarray(col).view(np.uint32).reshape(len(col), width)


def encode_rows(
    batch: Batch, names: list[str], types: list[str]
) -> tuple[bytes, npt.NDArray[np.int64]] | None:
    """All rows of ``batch`` as concatenated Avro record bodies, and each row's start offset (n + 1 values)."""
    n = batch.n
    bodies, lengths = [], []
    for a in range(0, n, BLOCK_ROWS):
        part = batch.take(slice(a, min(a + BLOCK_ROWS, n))) if n > BLOCK_ROWS else batch
        block = _encode_block(part, names, types)
        if block is None:
            return None
        bodies.append(block[0])
        lengths.append(np.diff(block[1]))
    row_start = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.concatenate(lengths), out=row_start[1:])
    return b"".join(bodies), row_start


def _encode_block(
    batch: Batch, names: list[str], types: list[str]
) -> tuple[bytes, npt.NDArray[np.int64]] | None:
    n = batch.n
    kinds = np.array([k.KIND[t] for t in types], dtype=np.int64)
    nums = np.empty((n, len(types)), dtype=np.uint64)  # a string field's slot is never read
    strings: list[npt.NDArray[np.uint32]] = []
    str_at = np.zeros(len(types), dtype=np.int64)
    str_width = np.zeros(len(types), dtype=np.int64)
    capacity = 0
    for f, (name, t) in enumerate(zip(names, types, strict=True)):
        col = np.asarray(batch[name])
        if t != "string":
            nums[:, f] = _number(t, col)
            capacity += k.WIDTH[int(kinds[f])]
            continue
        codes = _codes(col)
        if codes is None:
            return None
        str_at[f] = sum(s.shape[1] for s in strings)
        str_width[f] = codes.shape[1]
        capacity += 5 + 4 * codes.shape[1]
        strings.append(codes)
    codes_all = np.hstack(strings) if strings else np.zeros((n, 0), dtype=np.uint32)
    body, starts, err = k.encode_rows(kinds, nums, codes_all, str_at, str_width, capacity * n)
    if err:
        return None
    return body.tobytes(), starts


def zigzag_varint(value: int) -> bytes:
    z = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        if z < 0x80:
            out.append(z)
            return bytes(out)
        out.append((z & 0x7F) | 0x80)
        z >>= 7


def encode_array_messages(
    batch: Batch, names: list[str], types: list[str], prefix: bytes, max_records: int
) -> list[tuple[bytes, bytes]] | None:
    """Record-batch messages (``prefix`` + Avro array of up to ``max_records`` records) with their row
    index (see :func:`row_index`), or None when the batch needs fastavro."""
    enc = encode_rows(batch, names, types)
    if enc is None:
        return None
    body, starts = enc
    view = memoryview(body)
    out = []
    for a in range(0, batch.n, max_records):
        b = min(a + max_records, batch.n)
        out.append(
            (
                b"".join((prefix, zigzag_varint(b - a), view[starts[a] : starts[b]], b"\x00")),
                row_index(starts, a, b),
            )
        )
    return out


ROW_INDEX_HEADER = "hslr-rows"
"""Kafka header of a record batch: each row's start offset (see :func:`row_index`); readers use it to
decode column-wise (``streams.serde.fast_decode``)."""


def row_index(starts: npt.NDArray[np.int64], a: int, b: int) -> bytes:
    """Row offsets of rows ``a..b`` relative to the first one, as little-endian int32 (b - a + 1 values)."""
    return (starts[a : b + 1] - starts[a]).astype("<i4").tobytes()

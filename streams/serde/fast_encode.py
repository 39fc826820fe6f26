"""Vectorised Avro binary encoding of flat records (numpy), byte-identical to fastavro.

Encoding is where a Kafka replay spends most of its time: every stage re-encodes its wide, flat output
records. For schemas whose fields are all ``boolean``, ``int``, ``long``, ``float``, ``double`` or
``string``, this module encodes a whole batch with a few numpy operations per field instead of a Python
dict and a fastavro call per record. Anything else (unions, enums, bytes, nested types, strings with NUL
characters) returns ``None`` and the caller falls back to fastavro. The tests compare bytes with
fastavro's on random records.

How: every field becomes a band of byte columns of a padded ``(rows, width)`` matrix (a double: 8
columns, a varint: as many as its longest value, a string: its length varint then its bytes) with a mask
of the bytes each row really uses; the rows' Avro bodies, concatenated, are the masked bytes in row-major
order (one pass). Rows are encoded in blocks of about :data:`BLOCK_ROWS` so memory stays bounded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch

SUPPORTED = frozenset({"boolean", "int", "long", "float", "double", "string"})
_MAX_VARINT = 10
BLOCK_ROWS = 16384
"""Rows encoded at once (the padded matrix of a 46-field signal block is then about 6 MB)."""

Band = tuple[npt.NDArray[np.uint8], "npt.NDArray[np.bool_] | None", "npt.NDArray[np.int64] | int"]
"""(bytes (rows, width), used-byte mask or None when every byte is used, bytes used per row)."""


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


def _varint_len(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    n = np.ones(len(z), dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        above = z >= np.uint64(1 << (7 * k))
        if not above.any():
            break
        n += above
    return n


def _zigzag(v: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def _varint_band(z: npt.NDArray[np.uint64]) -> Band:
    length = _varint_len(z)
    width = int(length.max(initial=1))
    if width == 1:
        return z.astype(np.uint8)[:, None], None, 1
    k = np.arange(width)
    mat = ((z[:, None] >> (k * 7).astype(np.uint64)) & np.uint64(0x7F)).astype(np.uint8)
    if int(length.min()) == width:  # every value as long (timestamps): a fixed-width band
        mat[:, :-1] |= 0x80
        return mat, None, width
    mat |= (k[None, :] < (length - 1)[:, None]).astype(np.uint8) << 7
    return mat, k[None, :] < length[:, None], length


def _utf8(col: npt.NDArray[Any]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]] | None:
    """(UTF-8 bytes (rows, width), byte length per row) of a string column; None when a value holds NUL
    (numpy strings cannot carry it faithfully). ASCII columns are converted code by code; others encode
    each distinct value once."""
    text = col if col.dtype.kind == "U" else col.astype(str)
    n, width = len(text), text.dtype.itemsize // 4
    if n == 0 or width == 0:
        return np.zeros((n, 0), dtype=np.uint8), np.zeros(n, dtype=np.int64)
    codes = np.ascontiguousarray(text).view(np.uint32).reshape(n, width)
    if int(codes.max()) < 0x80:
        used = codes != 0  # numpy pads with NUL; a NUL followed by a character is one inside the value
        if width > 1 and (used[:, 1:] & ~used[:, :-1]).any():
            return None
        return codes.astype(np.uint8), used.sum(axis=1)
    values, inverse = np.unique(text, return_inverse=True)
    encoded = [v.encode() for v in values.tolist()]
    if any(b"\x00" in e for e in encoded):
        return None
    lens = np.array([len(e) for e in encoded], dtype=np.int64)
    table = np.array(encoded, dtype=f"S{max(int(lens.max()), 1)}")
    return table.view(np.uint8).reshape(len(encoded), -1)[inverse.ravel()], lens[inverse.ravel()]


def _bands(t: str, col: npt.NDArray[Any]) -> list[Band] | None:
    n = len(col)
    if t == "boolean":
        return [(col.astype(np.uint8), None, 1)]
    if t in ("int", "long"):
        return [_varint_band(_zigzag(col))]
    if t in ("double", "float"):
        width = 8 if t == "double" else 4
        return [(np.asarray(col, dtype="<f8" if width == 8 else "<f4"), None, width)]
    if n and col.dtype.kind == "U" and bool((col == col[0]).all()):  # a constant: encode it once
        value = str(col[0]).encode()
        if b"\x00" in value:
            return None
        row = np.frombuffer(zigzag_varint(len(value)) + value, dtype=np.uint8)
        return [(np.broadcast_to(row, (n, len(row))), None, len(row))]
    text = _utf8(col)
    if text is None:
        return None
    mat, lens = text
    if not mat.shape[1] or int(lens.min()) == mat.shape[1]:  # every value as long (pairs): fixed width
        return [_varint_band(_zigzag(lens)), (mat, None, mat.shape[1])]
    used = np.arange(mat.shape[1])[None, :] < lens[:, None]
    return [_varint_band(_zigzag(lens)), (mat, used, lens)]


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
        lengths.append(block[1])
    row_start = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.concatenate(lengths), out=row_start[1:])
    return b"".join(bodies), row_start


def _encode_block(batch: Batch, names: list[str], types: list[str]) -> tuple[bytes, Any] | None:
    bands: list[Band] = []
    for name, t in zip(names, types, strict=True):
        got = _bands(t, np.asarray(batch[name]))
        if got is None:
            return None
        bands.extend(got)
    n = batch.n
    # the padded matrix as a packed structured array: a typed column is copied in one typed pass
    layout = np.dtype(
        [
            (f"f{i}", d.dtype) if d.ndim == 1 else (f"f{i}", np.uint8, (d.shape[1],))
            for i, (d, _, _) in enumerate(bands)
        ]
    )
    rows = np.empty(n, dtype=layout)
    row_len = np.zeros(n, dtype=np.int64)
    for i, (data, _, length) in enumerate(bands):
        rows[f"f{i}"] = data
        row_len += length
    mat = rows.view(np.uint8).reshape(n, layout.itemsize)
    if all(used is None for _, used, _ in bands):
        return mat.tobytes(), row_len
    mask = np.ones((n, layout.itemsize), dtype=bool)
    at = 0  # packed: each band starts where the previous one ends
    for data, used, _ in bands:
        width = data.shape[1] if data.ndim == 2 else data.dtype.itemsize
        if used is not None:
            mask[:, at : at + width] = used
        at += width
    return mat[mask].tobytes(), row_len


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
    out = []
    for a in range(0, batch.n, max_records):
        b = min(a + max_records, batch.n)
        out.append(
            (prefix + zigzag_varint(b - a) + body[starts[a] : starts[b]] + b"\x00", row_index(starts, a, b))
        )
    return out


ROW_INDEX_HEADER = "hslr-rows"
"""Kafka header of a record batch: each row's start offset (see :func:`row_index`); readers use it to
decode column-wise (``streams.serde.fast_decode``)."""


def row_index(starts: npt.NDArray[np.int64], a: int, b: int) -> bytes:
    """Row offsets of rows ``a..b`` relative to the first one, as little-endian int32 (b - a + 1 values)."""
    return (starts[a : b + 1] - starts[a]).astype("<i4").tobytes()

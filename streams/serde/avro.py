"""Avro binary with standard framing, for every topic of the DAG.

Default framing is Avro *single-object encoding* (spec 1.10+): ``C3 01`` + the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form + the Avro binary body. Writer
schemas are resolved from ``schemas/*.avsc`` and ``schemas/archive/*.avsc`` (earlier versions), so a
reader decodes records written by any known version into its current schema (schema resolution).
The Confluent wire format (used when ``SCHEMA_REGISTRY_URL`` is set) is in ``streams.binding``.

Logical types are kept in the ``.avsc`` files (documentation, registry compatibility) but stripped
for the runtime codecs: ``timestamp-millis`` values stay ``int`` milliseconds end to end, which is what
the stages use, and the Parsing Canonical Form (hence the fingerprint) is unchanged by that.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from fastavro.schema import to_parsing_canonical_form

from streams.core.batch import Batch, concat
from streams.serde.fast_decode import decode_bodies
from streams.serde.fast_encode import encode_array_messages, plain_types

MAGIC = b"\xc3\x01"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
_EMPTY = 0xC15D213AA4D7A795


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of ``data``, as defined by the Avro specification."""
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


VECTOR_MIN_ROWS = 64
"""Smallest batch the numpy encoder writes: below it its per-column cost exceeds fastavro's per-row cost
(measured on bars and 46-field signals: the two cross between 48 and 120 rows)."""


class DecodeError(ValueError):
    """Bytes that are not a record of a known schema; the reason is the message."""


def _strip_logical(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


@dataclass(frozen=True)
class SchemaInfo:
    """One writer schema: the record itself (``many=False``) or an array of it (``many=True``)."""

    name: str
    raw: dict[str, Any]
    parsed: Any
    fingerprint: int
    fields: tuple[str, ...]
    prefix: bytes = field(repr=False)
    many: bool = False


def _info(name: str, raw: dict[str, Any], many: bool = False) -> SchemaInfo:
    schema: Any = {"type": "array", "items": raw} if many else raw
    parsed = fastavro.parse_schema(_strip_logical(schema), _write_hint=False)
    fp = crc64_avro(to_parsing_canonical_form(schema).encode())
    return SchemaInfo(
        name, raw, parsed, fp, tuple(f["name"] for f in raw["fields"]), MAGIC + struct.pack("<Q", fp), many
    )


class SchemaStore:
    """Current schema per name plus every known writer schema (single and array form) by fingerprint."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.current: dict[str, SchemaInfo] = {}
        self.current_many: dict[str, SchemaInfo] = {}
        self.by_fingerprint: dict[int, SchemaInfo] = {}
        for path in sorted(directory.glob("*.avsc")):
            raw = json.loads(path.read_text())
            self.current[path.stem] = self._add(path.stem, raw)
            self.current_many[path.stem] = self._add(path.stem, raw, many=True)
        for path in sorted((directory / "archive").glob("*.avsc")):
            # archive/<name>.v<N>.avsc: earlier versions, readable but never written
            raw = json.loads(path.read_text())
            self._add(path.name.split(".")[0], raw)
            self._add(path.name.split(".")[0], raw, many=True)

    def _add(self, name: str, raw: dict[str, Any], many: bool = False) -> SchemaInfo:
        info = _info(name, raw, many)
        return self.by_fingerprint.setdefault(info.fingerprint, info)

    def schema(self, name: str) -> SchemaInfo:
        try:
            return self.current[name]
        except KeyError:
            raise KeyError(f"no schema {name!r} in {SCHEMA_DIR}") from None


@cache
def default_store() -> SchemaStore:
    return SchemaStore()


class AvroCodec:
    """Encode and decode records of one schema with single-object framing.

    A message holds one record, or — for throughput, since every Kafka message costs a Faust event —
    a *record batch*: the same framing around an Avro ``array`` of the record, whose fingerprint
    identifies it. Readers accept both; writers batch up to ``max_records`` rows per message.
    """

    def __init__(self, schema: str, store: SchemaStore | None = None) -> None:
        self.store = store or default_store()
        self.info = self.store.schema(schema)
        self.many = self.store.current_many[schema]
        self._plain = plain_types(self.info.raw)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.info.fields

    def encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self.info.prefix)
        fastavro.schemaless_writer(buf, self.info.parsed, record)
        return buf.getvalue()

    def decode_many(self, data: bytes) -> list[dict[str, Any]]:
        """Decode one framed message (a record or a record batch) into its records.

        Raises :class:`DecodeError` with the reason when the bytes are not one of this topic's schemas.
        """
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < 10:
            raise DecodeError(f"message too short for single-object encoding ({len(data or b'')} bytes)")
        if data[:2] != MAGIC:
            raise DecodeError(f"bad magic {bytes(data[:2]).hex()} (expected c301)")
        (fp,) = struct.unpack_from("<Q", data, 2)
        writer = self.store.by_fingerprint.get(fp)
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {fp:016x}")
        reader = self.many if writer.many else self.info
        body = io.BytesIO(data[10:])
        try:
            same = fp == reader.fingerprint
            rec = fastavro.schemaless_reader(body, writer.parsed, None if same else reader.parsed)
        except Exception as exc:  # fastavro raises many types on corrupt bodies
            raise DecodeError(f"corrupt Avro body for {writer.name}: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(data) - 10:
            raise DecodeError(f"{len(data) - 10 - body.tell()} trailing bytes after a {writer.name} record")
        records: list[Any] = rec if isinstance(rec, list) else [rec]
        if not all(isinstance(r, dict) for r in records):
            raise DecodeError(f"decoded a non-record from {writer.name}")
        return records

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode a message holding exactly one record."""
        records = self.decode_many(data)
        if len(records) != 1:
            raise DecodeError(f"expected one record, the message holds {len(records)}")
        return records[0]

    def _rows(self, batch: Batch) -> list[dict[str, Any]]:
        missing = [f for f in self.fields if f not in batch and not _has_default(self.info.raw, f)]
        if missing:
            raise KeyError(f"batch lacks fields {missing} of {self.info.name}")
        names = [f for f in self.fields if f in batch]
        cols = [batch[f].tolist() for f in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]

    def encode_batch(self, batch: Batch, max_records: int = 1) -> list[bytes]:
        """Encode the rows of ``batch`` (columns named as the schema's fields) into messages of at most
        ``max_records`` records each (1: one single-record message per row)."""
        return [m for m, _ in self.encode_batch_indexed(batch, max_records)]

    def encode_batch_indexed(self, batch: Batch, max_records: int = 1) -> list[tuple[bytes, bytes | None]]:
        """Like :meth:`encode_batch`, with each record batch's row index (``None`` where there is none);
        the index travels in the ``hslr-rows`` header and lets readers decode column-wise. Batches of
        fewer than :data:`VECTOR_MIN_ROWS` rows (the live path: a minute's bars) are written by fastavro,
        which is faster there; the bytes are the same either way."""
        if (
            max_records > 1
            and batch.n >= VECTOR_MIN_ROWS
            and self._plain is not None
            and all(f in batch for f in self.fields)
        ):
            fast = encode_array_messages(batch, list(self.fields), self._plain, self.many.prefix, max_records)
            if fast is not None:
                return [(m, i) for m, i in fast]
        return [(m, None) for m in self._encode_fastavro(batch, max_records)]

    def _encode_fastavro(self, batch: Batch, max_records: int) -> list[bytes]:
        rows = self._rows(batch)
        if max_records <= 1:
            prefix, parsed, write = self.info.prefix, self.info.parsed, fastavro.schemaless_writer
            out = []
            for row in rows:
                buf = io.BytesIO()
                buf.write(prefix)
                write(buf, parsed, row)
                out.append(buf.getvalue())
            return out
        messages = []
        for i in range(0, len(rows), max_records):
            buf = io.BytesIO()
            buf.write(self.many.prefix)
            fastavro.schemaless_writer(buf, self.many.parsed, rows[i : i + max_records])
            messages.append(buf.getvalue())
        return messages

    def decode_batch(self, messages: Sequence[bytes]) -> tuple[Batch, list[tuple[int, str]]]:
        """Decode many messages into a batch; undecodable ones come back as ``(index, reason)``."""
        batch, errors, _ = self.decode_messages(messages)
        return batch, errors

    def decode_messages(
        self, messages: Sequence[bytes], indexes: Sequence[bytes | None] | None = None
    ) -> tuple[Batch, list[tuple[int, str]], np.ndarray]:
        """Like :meth:`decode_batch`, also returning for every row the index of its message.

        ``indexes`` (the messages' ``hslr-rows`` headers) enable column-wise decoding of record batches
        written with the current schema, consecutive ones as one block; any message whose index does not
        check out is decoded by fastavro.
        """
        parts: list[Batch] = []
        records: list[dict[str, Any]] = []  # fastavro-decoded rows not yet in parts
        origin: list[int] = []
        errors: list[tuple[int, str]] = []
        i = 0
        while i < len(messages):
            j = i
            while j < len(messages) and self._indexed(messages[j], indexes[j] if indexes else None):
                j += 1
            cols = self._columnar(messages[i:j], (indexes or [])[i:j]) if j > i else None
            if cols is not None:
                if records:
                    parts.append(records_to_batch(records, self.info))
                    records = []
                parts.append(Batch(cols))
                for k in range(i, j):
                    origin.extend([k] * (len((indexes or [])[k] or b"") // 4 - 1))
                i = j
                continue
            for k in range(i, max(j, i + 1)):  # fastavro for the rest, message by message
                try:
                    recs = self.decode_many(messages[k])
                except DecodeError as exc:
                    errors.append((k, str(exc)))
                    continue
                records.extend(recs)
                origin.extend([k] * len(recs))
            i = max(j, i + 1)
        if records or not parts:
            parts.append(records_to_batch(records, self.info))
        return concat(parts), errors, np.array(origin, dtype=np.int64)

    def _indexed(self, data: bytes, index: bytes | None) -> bool:
        return (
            index is not None
            and self._plain is not None
            and len(data) >= 11
            and data[:10] == self.many.prefix
        )

    def _columnar(self, data: Sequence[bytes], indexes: Sequence[bytes | None]) -> dict[str, Any] | None:
        try:
            bodies = [bytes(m[10:]) for m in data]
            return decode_bodies(
                bodies, [bytes(x or b"") for x in indexes], list(self.fields), self._plain or []
            )
        except Exception:  # noqa: BLE001 - a bad index only costs the fast path; fastavro decides
            return None


def _has_default(raw: dict[str, Any], name: str) -> bool:
    return any(f["name"] == name and "default" in f for f in raw["fields"])


_NUMPY_KIND = {
    "long": np.int64,
    "int": np.int32,
    "double": np.float64,
    "float": np.float32,
    "boolean": np.bool_,
}


def _dtype(avro_type: Any) -> Any:
    if isinstance(avro_type, dict):
        avro_type = avro_type.get("type")
    if isinstance(avro_type, str) and avro_type in _NUMPY_KIND:
        return _NUMPY_KIND[avro_type]
    if avro_type == "string":
        return np.str_
    return object


def records_to_batch(records: Sequence[dict[str, Any]], info: SchemaInfo) -> Batch:
    """Columns typed from the schema (long → int64, double → float64, string → str, else object)."""
    cols: dict[str, Any] = {}
    fields = info.raw["fields"]
    names = [f["name"] for f in fields]
    # one C-level pass transposes rows into columns (a comprehension per field costs twice as much)
    if not records:
        columns: list[Any] = [[] for _ in names]
    elif len(names) == 1:
        columns = [[r[names[0]] for r in records]]
    else:
        columns = list(zip(*map(itemgetter(*names), records), strict=True))
    for f, values in zip(fields, columns, strict=True):
        dt = _dtype(f["type"])
        if dt is object:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            cols[f["name"]] = arr
        else:
            cols[f["name"]] = np.array(values, dtype=dt) if values else np.empty(0, dtype=dt)
    return Batch(cols)


def empty_batch(schema: str) -> Batch:
    return records_to_batch([], default_store().schema(schema))

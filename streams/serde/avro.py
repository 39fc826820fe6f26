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
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from fastavro.schema import to_parsing_canonical_form

from streams.core.batch import Batch

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
    name: str
    raw: dict[str, Any]
    parsed: Any
    fingerprint: int
    fields: tuple[str, ...]
    prefix: bytes = field(repr=False)


def _info(name: str, raw: dict[str, Any]) -> SchemaInfo:
    parsed = fastavro.parse_schema(_strip_logical(raw), _write_hint=False)
    fp = crc64_avro(to_parsing_canonical_form(raw).encode())
    return SchemaInfo(name, raw, parsed, fp, tuple(f["name"] for f in raw["fields"]),
                      MAGIC + struct.pack("<Q", fp))


class SchemaStore:
    """Current schema per name plus every known writer schema by fingerprint."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.current: dict[str, SchemaInfo] = {}
        self.by_fingerprint: dict[int, SchemaInfo] = {}
        for path in sorted(directory.glob("*.avsc")):
            info = _info(path.stem, json.loads(path.read_text()))
            self.current[path.stem] = info
            self.by_fingerprint[info.fingerprint] = info
        for path in sorted((directory / "archive").glob("*.avsc")):
            # archive/<name>.v<N>.avsc: earlier versions, readable but never written
            info = _info(path.name.split(".")[0], json.loads(path.read_text()))
            self.by_fingerprint.setdefault(info.fingerprint, info)

    def schema(self, name: str) -> SchemaInfo:
        try:
            return self.current[name]
        except KeyError:
            raise KeyError(f"no schema {name!r} in {SCHEMA_DIR}") from None


@cache
def default_store() -> SchemaStore:
    return SchemaStore()


class AvroCodec:
    """Encode and decode records of one schema with single-object framing."""

    def __init__(self, schema: str, store: SchemaStore | None = None) -> None:
        self.store = store or default_store()
        self.info = self.store.schema(schema)
        self._readers: dict[int, Any] = {}

    @property
    def fields(self) -> tuple[str, ...]:
        return self.info.fields

    def encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self.info.prefix)
        fastavro.schemaless_writer(buf, self.info.parsed, record)
        return buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode one framed message; raise :class:`DecodeError` with the reason when it is not one."""
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) < 10:
            raise DecodeError(f"message too short for single-object encoding ({len(data or b'')} bytes)")
        if data[:2] != MAGIC:
            raise DecodeError(f"bad magic {bytes(data[:2]).hex()} (expected c301)")
        (fp,) = struct.unpack_from("<Q", data, 2)
        writer = self.store.by_fingerprint.get(fp)
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {fp:016x}")
        body = io.BytesIO(data[10:])
        try:
            if fp == self.info.fingerprint:
                rec = fastavro.schemaless_reader(body, self.info.parsed, None)
            else:
                rec = fastavro.schemaless_reader(body, writer.parsed, self.info.parsed)
        except Exception as exc:  # fastavro raises many types on corrupt bodies
            raise DecodeError(f"corrupt Avro body for {writer.name}: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(data) - 10:
            raise DecodeError(f"{len(data) - 10 - body.tell()} trailing bytes after a {writer.name} record")
        if not isinstance(rec, dict):
            raise DecodeError(f"decoded a non-record {type(rec).__name__}")
        return rec

    def encode_batch(self, batch: Batch) -> list[bytes]:
        """Encode every row of ``batch`` (columns named as the schema's fields)."""
        missing = [f for f in self.fields if f not in batch and not _has_default(self.info.raw, f)]
        if missing:
            raise KeyError(f"batch lacks fields {missing} of {self.info.name}")
        names = [f for f in self.fields if f in batch]
        cols = [batch[f].tolist() for f in names]
        prefix, parsed, write = self.info.prefix, self.info.parsed, fastavro.schemaless_writer
        out = []
        for row in zip(*cols, strict=True):
            buf = io.BytesIO()
            buf.write(prefix)
            write(buf, parsed, dict(zip(names, row, strict=True)))
            out.append(buf.getvalue())
        return out

    def decode_batch(self, messages: Sequence[bytes]) -> tuple[Batch, list[tuple[int, str]]]:
        """Decode many messages into a batch; undecodable ones come back as ``(index, reason)``."""
        records, errors = [], []
        for i, m in enumerate(messages):
            try:
                records.append(self.decode(m))
            except DecodeError as exc:
                errors.append((i, str(exc)))
        return records_to_batch(records, self.info), errors


def _has_default(raw: dict[str, Any], name: str) -> bool:
    return any(f["name"] == name and "default" in f for f in raw["fields"])


_NUMPY_KIND = {"long": np.int64, "int": np.int32, "double": np.float64, "float": np.float32, "boolean": np.bool_}


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
    for f in info.raw["fields"]:
        dt = _dtype(f["type"])
        values = [r[f["name"]] for r in records]
        if dt is object:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            cols[f["name"]] = arr
        else:
            cols[f["name"]] = np.array(values, dtype=dt) if values else np.empty(0, dtype=dt)
    return Batch(cols)


def empty_batch(schema: str) -> Batch:
    return records_to_batch([], default_store().schema(schema))

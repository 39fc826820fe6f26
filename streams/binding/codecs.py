"""Which wire format a topic uses: Avro single-object encoding (default) or, when
``SCHEMA_REGISTRY_URL`` is set, the Confluent wire format with schemas registered in that registry.

Both codecs offer ``encode_batch(batch, max_records)`` and ``decode_messages(messages)``; the runtime,
the replay and the collectors take a codec from :func:`codec_for` and never look at framing.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from functools import cache
from typing import Any, cast

import fastavro
import numpy as np

from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.serde.avro import AvroCodec, DecodeError, _strip_logical, default_store, records_to_batch

CONFLUENT_MAGIC = 0


def frame(schema_id: int, body: bytes) -> bytes:
    """Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body."""
    return struct.pack(">bI", CONFLUENT_MAGIC, schema_id) + body


def unframe(data: bytes) -> tuple[int, bytes]:
    if len(data) < 5 or data[0] != CONFLUENT_MAGIC:
        raise DecodeError(f"not Confluent wire format ({len(data)} bytes, magic {data[:1].hex() or 'none'})")
    (schema_id,) = struct.unpack_from(">I", data, 1)
    return schema_id, data[5:]


class ConfluentCodec:
    """One record per message, writer schema registered under subject ``<topic>-value``.

    Readers fetch writer schemas by id from the registry (cached) and resolve them to the current
    ``schemas/<stem>.avsc``; ``max_records`` is ignored (the Confluent format has no record batches).
    """

    def __init__(self, stem: str, subject: str, client: Any) -> None:
        from confluent_kafka.schema_registry import Schema

        self.info = default_store().schema(stem)
        self.client = client
        self.schema_id = client.register_schema(subject, Schema(json.dumps(self.info.raw), "AVRO"))
        self._writers: dict[int, Any] = {self.schema_id: self.info.parsed}

    def _writer(self, schema_id: int) -> Any:
        if schema_id not in self._writers:
            raw = json.loads(self.client.get_schema(schema_id).schema_str)
            self._writers[schema_id] = fastavro.parse_schema(_strip_logical(raw), _write_hint=False)
        return self._writers[schema_id]

    def encode_batch(self, batch: Batch, max_records: int = 1) -> list[bytes]:
        del max_records
        rows = AvroCodec(self.info.name)._rows(batch)
        out = []
        for row in rows:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, self.info.parsed, row)
            out.append(frame(self.schema_id, buf.getvalue()))
        return out

    def encode_batch_indexed(self, batch: Batch, max_records: int = 1) -> list[tuple[bytes, bytes | None]]:
        return [(m, None) for m in self.encode_batch(batch, max_records)]

    def decode_messages(
        self, messages: Sequence[bytes], indexes: Sequence[bytes | None] | None = None
    ) -> tuple[Batch, list[tuple[int, str]], np.ndarray]:
        del indexes  # single records only
        records: list[dict[str, Any]] = []
        origin: list[int] = []
        errors: list[tuple[int, str]] = []
        for i, m in enumerate(messages):
            try:
                schema_id, body = unframe(m)
                writer = self._writer(schema_id)
                record = fastavro.schemaless_reader(io.BytesIO(body), writer, self.info.parsed)
                records.append(cast(dict[str, Any], record))  # a record schema decodes to a dict
                origin.append(i)
            except Exception as exc:  # noqa: BLE001 - any failure is this message's decode error
                errors.append((i, f"{type(exc).__name__}: {exc}"))
        return records_to_batch(records, self.info), errors, np.array(origin, dtype=np.int64)

    def decode_batch(self, messages: Sequence[bytes]) -> tuple[Batch, list[tuple[int, str]]]:
        batch, errors, _ = self.decode_messages(messages)
        return batch, errors


@cache
def _registry(url: str) -> Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": url})


def codec_for(key: str, namespace: str = "hslr", registry_url: str | None = None) -> Any:
    """The codec of topic ``key``: Confluent when a registry URL is configured, else single-object."""
    if registry_url is None:
        from streams.settings import settings

        registry_url = settings().schema_registry_url
    topic = TOPICS[key]
    if registry_url:
        return ConfluentCodec(topic.schema, f"{topic.name(namespace)}-value", _registry(registry_url))
    return AvroCodec(topic.schema)

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import fastavro
import numpy as np
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from streams.serde.avro import MAGIC, AvroCodec, DecodeError, SchemaStore, crc64_avro
from tests.kit.bars import bars

SCHEMAS = sorted(p.stem for p in Path("schemas").glob("*.avsc"))


def test_crc64_matches_avro_spec_vectors() -> None:
    # Second method: fastavro's own CRC-64-AVRO (hex of the little-endian bytes).
    for text in ['"int"', '"string"', '{"type":"record","name":"A","fields":[]}']:
        ours = struct.pack("<Q", crc64_avro(text.encode())).hex()
        assert ours == fingerprint(text, "CRC-64-AVRO")
    # The empty input's fingerprint is the spec's EMPTY constant.
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


@pytest.mark.parametrize("stem", SCHEMAS)
def test_every_schema_is_documented(stem: str) -> None:
    raw = json.loads(Path(f"schemas/{stem}.avsc").read_text())
    assert raw["type"] == "record"
    assert raw["namespace"].startswith("io.hslr.")
    assert raw.get("doc"), f"{stem} has no doc"
    for f in raw["fields"]:
        assert f.get("doc"), f"{stem}.{f['name']} has no doc"
        if f["name"] == "ts":
            assert f["type"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_single_object_framing() -> None:
    codec = AvroCodec("bar")
    rec = bars(1).to_records()[0]
    msg = codec.encode(rec)
    assert msg[:2] == MAGIC
    canonical = to_parsing_canonical_form(codec.info.raw)
    assert msg[2:10].hex() == fingerprint(canonical, "CRC-64-AVRO")
    assert codec.decode(msg) == rec


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (b"garbage-garbage", "bad magic"),
        (MAGIC + b"\x00" * 8 + b"\x02", "unknown writer schema"),
    ],
)
def test_decode_errors_have_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        AvroCodec("bar").decode(data)


def test_truncated_and_trailing_bodies_are_rejected() -> None:
    codec = AvroCodec("bar")
    msg = codec.encode(bars(1).to_records()[0])
    with pytest.raises(DecodeError, match="corrupt"):
        codec.decode(msg[:-20])
    with pytest.raises(DecodeError, match="trailing"):
        codec.decode(msg + b"\x00")


def test_batch_round_trip_keeps_dtypes() -> None:
    b = bars(50, ("EURUSD", "USDJPY"))
    codec = AvroCodec("bar")
    back, errors = codec.decode_batch([*codec.encode_batch(b), b"junk"])
    assert errors == [(100, "message too short for single-object encoding (4 bytes)")]
    assert back.equals(b)
    assert back["ts"].dtype == np.int64
    assert back["spread_modeled"].dtype == bool


def test_reader_resolves_an_archived_writer_schema(tmp_path: Path) -> None:
    # An older Bar without `source`: the current reader fills the default.
    raw = json.loads(Path("schemas/bar.avsc").read_text())
    old = {**raw, "fields": [f for f in raw["fields"] if f["name"] != "source"]}
    (tmp_path / "archive").mkdir()
    (tmp_path / "bar.avsc").write_text(json.dumps(raw))
    (tmp_path / "archive" / "bar.v0.avsc").write_text(json.dumps(old))
    store = SchemaStore(tmp_path)
    writer = store.by_fingerprint[crc64_avro(to_parsing_canonical_form(old).encode())]
    rec = {k: v for k, v in bars(1).to_records()[0].items() if k != "source"}
    buf = io.BytesIO(writer.prefix)  # an old producer: the archived schema's fingerprint and body
    buf.seek(0, io.SEEK_END)
    fastavro.schemaless_writer(buf, fastavro.parse_schema(old), rec)
    decoded = AvroCodec("bar", store).decode(buf.getvalue())
    assert decoded == {**rec, "source": ""}


def test_record_batch_messages_round_trip_and_mix_with_single_records() -> None:
    codec = AvroCodec("bar")
    b = bars(60, ("EURUSD", "USDJPY", "GBPUSD"))
    many = codec.encode_batch(b, max_records=50)
    assert len(many) == 4  # 180 records
    assert all(m[2:10] == codec.many.prefix[2:] for m in many)
    single = codec.encode_batch(b.take(slice(0, 2)))
    back, errors, origin = codec.decode_messages([*many, *single])
    assert not errors
    assert back.n == 182
    assert origin.tolist() == [0] * 50 + [1] * 50 + [2] * 50 + [3] * 30 + [4, 5]
    assert back.take(slice(0, 180)).equals(b)
    with pytest.raises(DecodeError, match="expected one record"):
        codec.decode(many[0])


@pytest.mark.parametrize("stem", SCHEMAS)
def test_empty_and_single_record_batches(stem: str) -> None:
    codec = AvroCodec(stem)
    empty, errors = codec.decode_batch([])
    assert empty.n == 0
    assert not errors
    assert list(empty) == list(codec.fields)

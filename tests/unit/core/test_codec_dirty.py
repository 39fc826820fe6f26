"""The compiled codec on dirty values: bytes equal fastavro's (second method), the column-wise reader
gives fastavro's values back, and what it cannot carry goes to fastavro instead of being altered."""

from __future__ import annotations

import io
import math

import fastavro
import numpy as np
import pytest

from streams.core.batch import Batch
from streams.serde.avro import AvroCodec
from streams.serde.fast_decode import decode_rows
from streams.serde.fast_encode import BLOCK_ROWS, encode_array_messages, plain_types, zigzag_varint

SCHEMA = {
    "type": "record",
    "name": "Dirty",
    "namespace": "io.hslr.test",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "l", "type": "long"},
        {"name": "i", "type": "int"},
        {"name": "d", "type": "double"},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "boolean"},
        {"name": "t", "type": "string"},
    ],
}
NAMES = [f["name"] for f in SCHEMA["fields"]]
TYPES = plain_types(SCHEMA) or []
ARRAY = fastavro.parse_schema({"type": "array", "items": SCHEMA})

STRINGS = ["", "a", "é", "日本語", "😀x", "x" * 300, "gov_état,kl", "\x7f\x01", "ü" * 70]
LONGS = [0, -1, 1, 63, -64, 64, 2**31, -(2**31) - 1, 2**62, 2**63 - 1, -(2**63), 1_580_000_000_000]
INTS = [0, -1, 2**31 - 1, -(2**31), 127, -128]
DOUBLES = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, -1.5]
FLOATS = [math.inf, -math.inf, -0.0, 0.0, 1e-45, 3.4028234663852886e38, 0.1]


def _dirty(n: int) -> Batch:
    k = np.arange(n)
    return Batch(
        {
            "s": np.array(STRINGS)[k % len(STRINGS)],
            "l": np.array(LONGS, dtype=np.int64)[k % len(LONGS)],
            "i": np.array(INTS, dtype=np.int32)[k % len(INTS)],
            "d": np.array(DOUBLES)[k % len(DOUBLES)],
            "f": np.array(FLOATS, dtype=np.float32)[k % len(FLOATS)],
            "b": k % 3 == 0,
            "t": np.array(STRINGS[::-1])[k % len(STRINGS)],
        }
    )


def _fastavro(records: list[dict]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, ARRAY, records)
    return buf.getvalue()


def _bits(values: list) -> list:
    """Floats as their bytes (NaN == NaN, -0.0 != 0.0), everything else as it is."""
    return [np.float64(v).tobytes() if isinstance(v, float) else v for v in values]


@pytest.mark.parametrize("n", [1, 97, BLOCK_ROWS + 3])  # BLOCK_ROWS + 3: two encoder blocks
def test_dirty_values_are_fastavros_bytes_and_decode_to_its_values(n: int) -> None:
    batch = _dirty(n)
    ours = encode_array_messages(batch, NAMES, TYPES, b"", 1000)
    assert ours is not None
    rows = [dict(zip(NAMES, r, strict=True)) for r in zip(*(batch[c].tolist() for c in NAMES), strict=True)]
    for m, (msg, index) in enumerate(ours):
        assert msg == _fastavro(rows[m * 1000 : (m + 1) * 1000])
        cols = decode_rows(msg, index, NAMES, TYPES)
        want = fastavro.schemaless_reader(io.BytesIO(msg), ARRAY, None)
        for name in NAMES:
            assert _bits(cols[name].tolist()) == _bits([r[name] for r in want]), name
            if TYPES[NAMES.index(name)] == "string":  # as wide as numpy makes the values (records_to_batch)
                assert cols[name].dtype == np.array([r[name] for r in want], dtype=str).dtype


def test_a_string_column_holding_none_is_refused_not_written_as_text() -> None:
    batch = _dirty(4)
    bad = batch["s"].astype(object)
    bad[2] = None
    cols = {c: batch[c] for c in NAMES}
    cols["s"] = bad
    assert encode_array_messages(Batch(cols), NAMES, TYPES, b"", 10) is None  # fastavro decides (raises)
    cols["s"] = batch["s"].astype(object)  # an object column of real strings is fine
    assert encode_array_messages(Batch(cols), NAMES, TYPES, b"", 10) is not None


def test_a_lone_surrogate_is_refused() -> None:
    batch = _dirty(2)
    cols = {c: batch[c] for c in NAMES}
    cols["t"] = np.array(["ok", "\ud800"])
    assert encode_array_messages(Batch(cols), NAMES, TYPES, b"", 10) is None


def _body(*fields: bytes) -> tuple[bytes, bytes]:
    row = b"".join(fields)
    return zigzag_varint(1) + row + b"\x00", np.array([0, len(row)], dtype="<i4").tobytes()


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (b"\xff" * 9 + b"\x02", "64 bits"),  # a 10-byte varint above 2**64: fastavro gives a bigger int
        (b"\x80" * 10 + b"\x00", "10 bytes"),
        (zigzag_varint(2) + b"\xc3\x28", "(?i)utf-8"),  # invalid continuation byte
        (zigzag_varint(3) + b"\xed\xa0\x80", "(?i)utf-8"),  # an encoded surrogate
        (zigzag_varint(2) + b"\xc0\x80", "(?i)utf-8"),  # overlong NUL
        (zigzag_varint(-2) + b"ab", "negative"),
        (zigzag_varint(9) + b"ab", "inside a value"),
    ],
)
def test_bad_bytes_are_refused_by_the_column_wise_reader(row: bytes, reason: str) -> None:
    long_first = reason in ("64 bits", "10 bytes")
    body, index = _body(row)
    names, types = (["l"], ["long"]) if long_first else (["s"], ["string"])
    with pytest.raises(ValueError, match=reason):
        decode_rows(body, index, names, types)


def test_a_union_schema_stays_with_fastavro_and_round_trips() -> None:
    codec = AvroCodec("dead_letter")
    assert plain_types(codec.info.raw) is None
    recs = [
        {
            "stage": "edge",
            "topic": "t",
            "partition": 0,
            "offset": 2**40,
            "key": None if k % 2 else b"EURUSD",
            "value": b"\x00\xff",
            "error_kind": "DECODE",
            "reason": "bad é",
            "ts": 0,
        }
        for k in range(80)
    ]
    batch = Batch.from_records(recs, list(codec.fields))
    indexed = codec.encode_batch_indexed(batch, 500)
    assert [i for _, i in indexed] == [None]
    back, errors, _ = codec.decode_messages([m for m, _ in indexed], [None])
    assert not errors
    assert back.to_records() == recs

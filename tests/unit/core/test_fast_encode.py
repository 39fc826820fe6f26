"""The vectorised encoder writes exactly fastavro's bytes (second method) on random flat records."""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.batch import Batch
from streams.serde.avro import AvroCodec
from streams.serde.fast_decode import decode_rows
from streams.serde.fast_encode import encode_array_messages, plain_types, zigzag_varint

SCHEMA = {
    "type": "record",
    "name": "T",
    "namespace": "io.hslr.test",
    "fields": [
        {"name": "s", "type": "string"},
        {"name": "l", "type": "long"},
        {"name": "i", "type": "int"},
        {"name": "d", "type": "double"},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "boolean"},
    ],
}
PARSED = fastavro.parse_schema({"type": "array", "items": SCHEMA})

rows = st.lists(
    st.fixed_dictionaries(
        {
            "s": st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
            ),
            "l": st.integers(-(2**63), 2**63 - 1),
            "i": st.integers(-(2**31), 2**31 - 1),
            "d": st.floats(allow_nan=True, allow_infinity=True),
            "f": st.floats(width=32, allow_nan=False),
            "b": st.booleans(),
        }
    ),
    min_size=1,
    max_size=40,
)


def _batch(records: list[dict]) -> Batch:
    return Batch(
        {
            "s": np.array([r["s"] for r in records], dtype=str),
            "l": np.array([r["l"] for r in records], dtype=np.int64),
            "i": np.array([r["i"] for r in records], dtype=np.int32),
            "d": np.array([r["d"] for r in records]),
            "f": np.array([r["f"] for r in records], dtype=np.float32),
            "b": np.array([r["b"] for r in records]),
        }
    )


@settings(max_examples=200, deadline=None)
@given(rows, st.integers(1, 7))
def test_bytes_equal_fastavro(records: list[dict], chunk: int) -> None:
    batch = _batch(records)
    names, types = [f["name"] for f in SCHEMA["fields"]], plain_types(SCHEMA)
    ours = encode_array_messages(batch, names, types, b"", chunk)
    assert ours is not None
    python_rows = [
        dict(zip(names, r, strict=True)) for r in zip(*(batch[n].tolist() for n in names), strict=True)
    ]
    for k, (msg, index) in enumerate(ours):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, PARSED, python_rows[k * chunk : (k + 1) * chunk])
        assert msg == buf.getvalue()
        # and the column-wise reader, given the row index, recovers the rows (second method: fastavro)
        cols = decode_rows(msg, index, names, types)
        back = [
            dict(zip(names, r, strict=True)) for r in zip(*(cols[n].tolist() for n in names), strict=True)
        ]
        want = fastavro.schemaless_reader(io.BytesIO(msg), PARSED, None)
        assert json.dumps(back, default=str) == json.dumps(want, default=str)


def test_zigzag_by_hand() -> None:
    # Avro spec examples: 0→00, -1→01, 1→02, -2→03, 2→04, -64→7f, 64→80 01
    assert [zigzag_varint(v) for v in (0, -1, 1, -2, 2, -64, 64)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x04",
        b"\x7f",
        b"\x80\x01",
    ]


@pytest.mark.parametrize("stem", sorted(p.stem for p in Path("schemas").glob("*.avsc")))
def test_codec_round_trips_through_the_fast_path(stem: str) -> None:
    from streams.serde.avro import records_to_batch
    from tests.integration.test_backbone import _sample

    codec = AvroCodec(stem)
    rng = np.random.default_rng(3)
    batch = records_to_batch(
        [_sample(codec.info.raw, rng) for _ in range(80)], codec.info
    )  # ≥ VECTOR_MIN_ROWS
    indexed = codec.encode_batch_indexed(batch, max_records=8)
    messages = [m for m, _ in indexed]
    back, errors, _ = codec.decode_messages(messages)
    assert not errors
    assert back.equals(batch)
    columnar, errors, origin = codec.decode_messages(messages, [i for _, i in indexed])
    assert not errors
    assert columnar.equals(batch)
    assert origin.tolist() == [k // 8 for k in range(80)]


def test_a_lying_row_index_falls_back_to_fastavro() -> None:
    codec = AvroCodec("bar")
    from tests.kit.bars import bars

    b = bars(40)  # 80 rows: the numpy encoder writes it, with a row index
    [(msg, index)] = codec.encode_batch_indexed(b, max_records=100)
    bad = np.frombuffer(index, dtype="<i4").copy()
    bad[3] += 1
    back, errors, _ = codec.decode_messages([msg], [bad.tobytes()])
    assert not errors
    assert back.equals(b)


def test_small_batches_are_written_by_fastavro_with_the_same_bytes() -> None:
    from streams.serde.avro import VECTOR_MIN_ROWS
    from tests.kit.bars import bars

    codec = AvroCodec("bar")
    small = bars(VECTOR_MIN_ROWS // 2 - 1)  # 2 pairs per minute: just under the threshold
    [(msg, index)] = codec.encode_batch_indexed(small, max_records=500)
    assert index is None  # fastavro: no row index, readers decode with fastavro
    fields = list(codec.fields)
    [(vector, _)] = encode_array_messages(small, fields, plain_types(codec.info.raw), codec.many.prefix, 500)
    assert msg == vector
    big = bars(VECTOR_MIN_ROWS // 2)
    assert codec.encode_batch_indexed(big, max_records=500)[0][1] is not None


def test_strings_with_nul_fall_back_to_fastavro() -> None:
    batch = Batch(
        {
            "s": np.array(["a\x00b"]),
            "l": np.array([1]),
            "i": np.array([1], dtype=np.int32),
            "d": np.array([1.0]),
            "f": np.array([1.0], dtype=np.float32),
            "b": np.array([True]),
        }
    )
    assert (
        encode_array_messages(batch, [f["name"] for f in SCHEMA["fields"]], plain_types(SCHEMA), b"", 5)
        is None
    )


def _signals_like(n: int, rng: np.random.Generator) -> Batch:
    """Columns shaped like the DAG's outputs: constant strings, equal-length pairs, varying reasons (some
    non-ASCII), millisecond timestamps (6-byte varints), small ints, NaN doubles."""
    reasons = np.array(["", "spread", "news,kl", "gov_état", "z"])
    return Batch(
        {
            "s": rng.choice(np.array(["EURUSD", "GBPUSD", "USDJPY"]), n),
            "l": 1_580_000_000_000 + 60_000 * np.arange(n, dtype=np.int64),
            "i": rng.integers(-3, 300, n).astype(np.int32),
            "d": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "f": rng.normal(size=n).astype(np.float32),
            "b": rng.random(n) < 0.5,
            "c": np.full(n, "synth:3"),
            "r": rng.choice(reasons, n),
        }
    )


WIDE = {
    **SCHEMA,
    "fields": [*SCHEMA["fields"], {"name": "c", "type": "string"}, {"name": "r", "type": "string"}],
}


@pytest.mark.parametrize("n", [1, 64, 1000, 40_000])  # 40,000: more than one encoder block
def test_output_shaped_columns_equal_fastavro_and_decode_as_one_block(n: int) -> None:
    """The encoder's shortcuts (constant strings, fixed-width varints and strings, non-ASCII values, blocks
    of BLOCK_ROWS) write fastavro's bytes; the reader decodes many messages as one block."""
    from streams.serde.fast_decode import decode_bodies

    batch = _signals_like(n, np.random.default_rng(n))
    names, types = [f["name"] for f in WIDE["fields"]], plain_types(WIDE)
    parsed = fastavro.parse_schema({"type": "array", "items": WIDE})
    ours = encode_array_messages(batch, names, types, b"", 700)
    assert ours is not None
    rows = batch.to_records()
    for k, (msg, _) in enumerate(ours):
        buf = io.BytesIO()
        fastavro.schemaless_writer(
            buf, parsed, [{f: r[f] for f in names} for r in rows[k * 700 : (k + 1) * 700]]
        )
        assert msg == buf.getvalue()
    cols = decode_bodies([m for m, _ in ours], [i for _, i in ours], names, types)
    assert Batch(cols).equals(batch)


def test_one_lying_index_in_a_block_falls_back_without_losing_rows() -> None:
    codec = AvroCodec("bar")
    from tests.kit.bars import bars

    b = bars(120)  # 240 rows in messages of 50: decoded as one block
    indexed = codec.encode_batch_indexed(b, max_records=50)
    indexes = [i for _, i in indexed]
    bad = np.frombuffer(indexes[2], dtype="<i4").copy()
    bad[5] -= 1
    indexes[2] = bad.tobytes()
    back, errors, origin = codec.decode_messages([m for m, _ in indexed], indexes)
    assert not errors
    assert back.equals(b)
    assert origin.tolist() == [k // 50 for k in range(240)]


def test_a_nul_inside_a_string_is_not_decoded_column_wise() -> None:
    """numpy strings drop a trailing NUL: the column-wise reader refuses it and fastavro decodes it."""
    from streams.serde.fast_decode import decode_rows

    names, types = ["s"], ["string"]
    body = zigzag_varint(1) + zigzag_varint(2) + b"a\x00" + b"\x00"
    with pytest.raises(ValueError, match="NUL"):
        decode_rows(body, np.array([0, 3], dtype="<i4").tobytes(), names, types)

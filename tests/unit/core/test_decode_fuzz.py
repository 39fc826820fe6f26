"""Fuzz the topic decoders (hypothesis, bounded): truncated, bit-flipped or foreign bytes, with or
without a row index, never raise; every message is decoded or reported with a reason (issue 11)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.serde.avro import AvroCodec
from tests.kit.bars import bars

BAR = AvroCodec("bar")
VALID = BAR.encode_batch_indexed(bars(5), 4)  # [(message, row index)]


@st.composite
def message(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    value, index = draw(st.sampled_from(VALID))
    kind = draw(st.sampled_from(["keep", "cut", "flip", "random", "index"]))
    if kind == "cut":
        value = value[: draw(st.integers(0, len(value)))]
    elif kind == "flip":
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + bytes([value[i] ^ draw(st.integers(1, 255))]) + value[i + 1 :]
    elif kind == "random":
        value = draw(st.binary(max_size=200))
    elif kind == "index":
        index = draw(st.binary(max_size=40))
    return value, index if draw(st.booleans()) else None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message(), max_size=8))
def test_decoder_never_raises_and_reports_every_bad_message(msgs: list[tuple[bytes, bytes | None]]) -> None:
    batch, errors, origin = BAR.decode_messages([v for v, _ in msgs], [i for _, i in msgs])
    bad = {i for i, _ in errors}
    assert all(reason for _, reason in errors)
    assert bad.isdisjoint(set(origin.tolist()))
    assert len(origin) == batch.n
    decoded = set(origin.tolist())
    for i, (v, _) in enumerate(msgs):  # every message: rows, a reported error, or an empty batch
        assert i in bad or i in decoded or BAR.decode_many(v) == []

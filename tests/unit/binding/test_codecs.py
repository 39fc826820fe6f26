from __future__ import annotations

import struct

import pytest

from streams.binding.codecs import codec_for, frame, unframe
from streams.serde.avro import AvroCodec, DecodeError


def test_confluent_framing_by_hand() -> None:
    msg = frame(258, b"\x02ab")
    assert msg == b"\x00\x00\x00\x01\x02\x02ab"  # magic 0, id 258 big-endian, body
    assert unframe(msg) == (258, b"\x02ab")
    assert struct.unpack(">I", msg[1:5]) == (258,)


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x01", b"\xc3\x01" + b"\x00" * 10])
def test_unframe_rejects_other_formats(data: bytes) -> None:
    with pytest.raises(DecodeError, match="not Confluent"):
        unframe(data)


def test_single_object_encoding_without_a_registry() -> None:
    assert isinstance(codec_for("bars", registry_url=""), AvroCodec)

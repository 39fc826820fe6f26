"""Page cursors round-trip exactly and refuse anything else with BadCursor."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.api.paging import BadCursor, decode_cursor, encode_cursor


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_cursor_round_trips_to_the_microsecond(when: datetime, key: str | None) -> None:
    text = encode_cursor((when, key))
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(text) == (when, key)


def test_cursor_keeps_the_instant_of_another_offset() -> None:
    when = datetime(2020, 1, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
    assert decode_cursor(encode_cursor((when, "o1")))[0] == when


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'["2020-01-01T00:00:00", "k"]').decode(),  # no offset
        base64.urlsafe_b64encode(b'["2020-01-01T00:00:00+00:00", 5]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_foreign_cursors_are_refused(text: str) -> None:
    with pytest.raises(BadCursor, match="invalid cursor"):
        decode_cursor(text)

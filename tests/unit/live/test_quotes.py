"""v20 stream lines -> quotes, heartbeats or a quarantined line with its reason."""

from __future__ import annotations

import json

import pytest

from streams.live.quotes import BadLine, Heartbeat, Quote, instrument, parse_line, parse_time_ns

# 2016-06-22T18:41:36Z: 16974 days after the epoch (1970..2015: 46 years, 11 leap) + 173 days of 2016
# (Jan 31 + Feb 29 + Mar 31 + Apr 30 + May 31 + 21) -> 16974*86400 + 18*3600 + 41*60 + 36
T0 = (46 * 365 + 11 + 31 + 29 + 31 + 30 + 31 + 21) * 86400 + 18 * 3600 + 41 * 60 + 36


def test_rfc3339_nanoseconds_exact() -> None:
    assert T0 == 1466620896
    assert parse_time_ns("2016-06-22T18:41:36.201836422Z") == T0 * 10**9 + 201836422
    assert parse_time_ns("2016-06-22T18:41:36Z") == T0 * 10**9
    assert parse_time_ns("2016-06-22T18:41:36.2Z") == T0 * 10**9 + 200_000_000
    assert parse_time_ns("2016-06-22T20:41:36.5+02:00") == T0 * 10**9 + 500_000_000
    assert parse_time_ns("1466620896.201836422") == T0 * 10**9 + 201836422


@pytest.mark.parametrize("bad", ["2016-06-22 18:41:36Z", "2016-13-01T00:00:00Z", "yesterday", ""])
def test_bad_times_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time_ns(bad)


def _price(**kw: object) -> bytes:
    obj = {
        "type": "PRICE",
        "instrument": "EUR_USD",
        "time": "2016-06-22T18:41:36.201836422Z",
        "bids": [{"price": "1.13015", "liquidity": 10000000}, {"price": "1.13013", "liquidity": 10000000}],
        "asks": [{"price": "1.13028", "liquidity": 10000000}],
        "closeoutBid": "1.13015",
        "closeoutAsk": "1.13028",
        "tradeable": True,
    }
    obj.update(kw)
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


def test_price_with_and_without_type() -> None:
    want = Quote("EURUSD", T0 * 10**9 + 201836422, 1.13015, 1.13028, True)
    assert parse_line(_price()) == want
    assert parse_line(_price(type=None)) == want  # older objects carry no type


def test_heartbeat_and_blank() -> None:
    assert parse_line(b'{"type":"HEARTBEAT","time":"2016-06-22T18:41:36.201836422Z"}') == Heartbeat(
        T0 * 10**9 + 201836422
    )
    assert parse_line(b"\r\n") is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"type":"PRICE","instrument":"EUR_U', "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"type":"ORDER_FILL"}', "unknown type"),
        (_price(bids=[]), "no price levels"),
        (_price(asks=[{"price": "1.1290"}]), "crossed"),
        (_price(bids=[{"price": "-1"}]), "not positive"),
        (_price(instrument="XXX_YYY"), "unknown pair"),
        (_price(time="soon"), "neither RFC 3339"),
        (_price(instrument=None), "instrument"),
        (b'{"type":"HEARTBEAT"}', "bad heartbeat"),
    ],
)
def test_malformed_lines_are_quarantined_with_a_reason(line: bytes, reason: str) -> None:
    ev = parse_line(line)
    assert isinstance(ev, BadLine)
    assert reason in ev.reason
    assert ev.line == line


def test_instrument_spelling() -> None:
    assert instrument("eur/usd") == "EUR_USD"

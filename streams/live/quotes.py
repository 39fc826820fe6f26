"""OANDA v20 pricing-stream lines -> quotes and heartbeats (pure).

A stream line is one JSON object. ``{"type": "HEARTBEAT", "time": ...}`` is a heartbeat; a price is an
object with ``instrument``, ``time``, ``bids`` and ``asks`` (``[{"price": "1.10012", "liquidity":
1000000}, ...]``, best first, decimal strings), ``closeoutBid/Ask`` and ``tradeable``. Older price
objects carry no ``type`` field, so a line is a price by its fields, never by ``type`` alone. Anything
else is a :class:`BadLine` with the reason, never an exception.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from streams.fx.pairs import normalize_pair

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_UNIX = re.compile(r"^(\d{1,12})(?:\.(\d{1,9}))?$")
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book of one instrument at ``ts_ns`` (ns UTC); prices in quote currency per base."""

    pair: str
    ts_ns: int
    bid: float
    ask: float
    tradeable: bool = True


@dataclass(frozen=True, slots=True)
class Heartbeat:
    ts_ns: int


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a usable price or heartbeat, kept with the reason (quarantine)."""

    line: bytes
    reason: str


Event = Quote | Heartbeat | BadLine


def parse_time_ns(text: str) -> int:
    """Parse an RFC 3339 time with up to nanosecond digits (``2016-06-22T18:41:36.201836422Z``) or a
    v20 UNIX time (``1466620896.201836422``) into integer ns since the epoch, UTC.

    Raises
    ------
    ValueError
        Not one of the two formats.
    """
    m = _RFC3339.match(text)
    if m:
        date, hh, mm, ss, frac, tz = m.groups()
        y, mo, d = (int(x) for x in date.split("-"))
        days = _days_from_civil(y, mo, d)
        if not (1 <= mo <= 12 and 1 <= d <= 31 and int(hh) < 24 and int(mm) < 60 and int(ss) < 61):
            raise ValueError(f"time {text!r} out of range")
        secs = days * 86400 + int(hh) * 3600 + int(mm) * 60 + int(ss)
        if tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
        return secs * _NS + int((frac or "0").ljust(9, "0"))
    u = _UNIX.match(text)
    if u:
        return int(u.group(1)) * _NS + int((u.group(2) or "0").ljust(9, "0"))
    raise ValueError(f"time {text!r} is neither RFC 3339 nor UNIX")


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date, no datetime rounding
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _best(levels: object) -> float:
    if not isinstance(levels, list) or not levels or not isinstance(levels[0], dict):
        raise ValueError("no price levels")
    price = float(levels[0]["price"])
    if not math.isfinite(price) or price <= 0.0:
        raise ValueError(f"price {price} not positive")
    return price


def parse_line(line: bytes) -> Event | None:
    """Parse one stream line; ``None`` for a blank line (keep-alive newline)."""
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return BadLine(line, f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return BadLine(line, "not a JSON object")
    kind = obj.get("type")
    try:
        if kind == "HEARTBEAT":
            return Heartbeat(parse_time_ns(str(obj["time"])))
        if kind not in (None, "PRICE"):
            return BadLine(line, f"unknown type {kind!r}")
        return _price(obj)
    except (KeyError, TypeError, ValueError) as exc:
        return BadLine(line, f"bad {'heartbeat' if kind == 'HEARTBEAT' else 'price'}: {exc!r}")


def _price(obj: dict[str, object]) -> Quote:
    if "instrument" not in obj:
        raise KeyError("instrument")
    bid, ask = _best(obj.get("bids")), _best(obj.get("asks"))
    if ask < bid:
        raise ValueError(f"crossed quote bid {bid} > ask {ask}")
    return Quote(
        pair=normalize_pair(str(obj["instrument"])),
        ts_ns=parse_time_ns(str(obj["time"])),
        bid=bid,
        ask=ask,
        tradeable=bool(obj.get("tradeable", True)),
    )


def instrument(pair: str) -> str:
    """OANDA's spelling of a pair: ``EURUSD`` -> ``EUR_USD``."""
    p = normalize_pair(pair)
    return f"{p[:3]}_{p[3:]}"

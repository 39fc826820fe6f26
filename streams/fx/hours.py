"""FX market hours: the one definition every stage, the spread model and the watchdog use.

The FX week follows New York: it opens Sunday 17:00 and closes Friday 17:00 America/New_York, so in
UTC it runs Sunday 21:00 to Friday 21:00 in US summer time and Sunday 22:00 to Friday 22:00 in winter.
Christmas and New Year are closed: the New York trading days dated 25 December and 1 January, i.e.
from 17:00 New York on the 24th (31st) to 17:00 New York on the 25th (1st). A 1-minute bar is open
when its open time is.

Times are int64 milliseconds since the epoch, UTC. Arrays are converted with the UTC offsets of
``zoneinfo`` time zones, looked up once per year and zone (the transitions of a year are found by
bisection and cached), then applied with ``np.searchsorted``: no Python loop per bar.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
NEW_YORK = "America/New_York"
ROLL_MIN = 17 * 60
"""New York minute of the day at which the FX day rolls (the week opens Sunday, closes Friday)."""
HOLIDAYS = ((12, 25), (1, 1))
"""(month, day) of the New York trading days on which the market is closed."""
_SUNDAY, _FRIDAY, _SATURDAY = 6, 4, 5  # weekday numbers, Monday = 0


def _offset_at(ms: int, zone: ZoneInfo) -> int:
    off = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds()) * 1000 if off is not None else 0


@lru_cache(maxsize=512)
def _year_transitions(zone_key: str, year: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Start times (ms UTC, the year's start first) and UTC offsets (ms) of a zone's spans in ``year``.

    Finds each change by bisection to the minute between month starts (zones change at most once a
    month)."""
    zone = ZoneInfo(zone_key)
    starts = [int(datetime(year, m, 1, tzinfo=UTC).timestamp() * 1000) for m in range(1, 13)]
    starts.append(int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000))
    times, offsets = [starts[0]], [_offset_at(starts[0], zone)]
    for lo, hi in zip(starts[:-1], starts[1:], strict=True):
        before, after = _offset_at(lo, zone), _offset_at(hi, zone)
        if before == after:
            continue
        a, b = lo // MINUTE_MS, hi // MINUTE_MS  # offset(a) == before, offset(b) == after
        while b - a > 1:
            mid = (a + b) // 2
            a, b = (mid, b) if _offset_at(mid * MINUTE_MS, zone) == before else (a, mid)
        times.append(b * MINUTE_MS)
        offsets.append(after)
    return tuple(times), tuple(offsets)


def utc_offset_ms(ts_ms: I64, zone: str = NEW_YORK) -> I64:
    """Return the UTC offset of ``zone`` at each time, ms (local = UTC + offset), shape (n,).

    Parameters
    ----------
    ts_ms : ndarray of int64, shape (n,)
        Times, ms since the epoch, UTC.
    zone : str
        IANA time zone name.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    if ts.size == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = (datetime.fromtimestamp(int(x) / 1000, tz=UTC).year for x in (ts.min(), ts.max()))
    times: list[int] = []
    offsets: list[int] = []
    for year in range(first, last + 1):
        t, o = _year_transitions(zone, year)
        times.extend(t)
        offsets.extend(o)
    idx = np.searchsorted(np.asarray(times, dtype=np.int64), ts, side="right") - 1
    return np.asarray(offsets, dtype=np.int64)[idx]


def local_ms(ts_ms: I64, zone: str = NEW_YORK) -> I64:
    """Return wall-clock times of ``zone`` as if they were UTC, ms, shape (n,)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    return ts + utc_offset_ms(ts, zone)


def local_minute_of_day(ts_ms: I64, zone: str = NEW_YORK) -> I64:
    """Return minutes since local midnight in ``zone``, shape (n,)."""
    return (local_ms(ts_ms, zone) // MINUTE_MS) % 1440


def in_local_hours(ts_ms: I64, start_hour: int, end_hour: int, zone: str = NEW_YORK) -> B:
    """Return True when the local hour in ``zone`` is in ``[start_hour, end_hour)`` (wraps midnight)."""
    hour = local_minute_of_day(ts_ms, zone) // 60
    if start_hour <= end_hour:
        return np.asarray((hour >= start_hour) & (hour < end_hour), dtype=np.bool_)
    return np.asarray((hour >= start_hour) | (hour < end_hour), dtype=np.bool_)


def _trading_day(ny: I64) -> I64:
    """New York trading day (days since the epoch) of New York wall times: a day ends at 17:00."""
    return (ny + (1440 - ROLL_MIN) * MINUTE_MS) // DAY_MS


def is_holiday(ts_ms: I64) -> B:
    """Return True inside the New York trading days dated 25 December and 1 January, shape (n,)."""
    return _holiday(local_ms(ts_ms))


def _holiday(ny: I64) -> B:
    days = _trading_day(ny)
    if days.size == 0:
        return np.zeros(0, dtype=np.bool_)
    lo, hi = int(days.min()), int(days.max())
    table = np.zeros(hi - lo + 1, dtype=np.bool_)  # one flag per trading day in the range
    first, last = (int(str(np.datetime64(d, "D"))[:4]) for d in (lo, hi))
    for year in range(first, last + 1):
        for m, d in HOLIDAYS:
            k = int(np.datetime64(f"{year}-{m:02d}-{d:02d}", "D").astype(np.int64)) - lo
            if 0 <= k < len(table):
                table[k] = True
    return table[days - lo]


def is_open(ts_ms: I64) -> B:
    """Return True for times inside the FX week (New York) and not on a holiday, shape (n,).

    Parameters
    ----------
    ts_ms : ndarray of int64, shape (n,)
        Times (bar open times), ms since the epoch, UTC.
    """
    ny = local_ms(ts_ms)
    minute = (ny // MINUTE_MS) % 1440
    weekday = (ny // DAY_MS + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday
    closed = (
        (weekday == _SATURDAY)
        | ((weekday == _FRIDAY) & (minute >= ROLL_MIN))
        | ((weekday == _SUNDAY) & (minute < ROLL_MIN))
    )
    return np.asarray(~closed & ~_holiday(ny), dtype=np.bool_)


def is_open_at(epoch_s: float) -> bool:
    """Return whether the FX market is open at one time given in seconds since the epoch (UTC)."""
    return bool(is_open(np.array([int(epoch_s * 1000)], dtype=np.int64))[0])


def open_minutes(start_ms: int, end_ms: int) -> I64:
    """Return the open minutes in ``[start_ms, end_ms)`` as bar open times (ms UTC), shape (n,).

    ``start_ms`` is rounded up to a whole minute.
    """
    first = -(-start_ms // MINUTE_MS) * MINUTE_MS
    grid = np.arange(first, end_ms, MINUTE_MS, dtype=np.int64)
    return grid[is_open(grid)]


def open_minutes_between(prev_ts: int, ts: int) -> int:
    """Return how many open minutes lie strictly between two bar open times (ms UTC)."""
    if ts - prev_ts <= MINUTE_MS:
        return 0
    grid = np.arange(prev_ts + MINUTE_MS, ts, MINUTE_MS, dtype=np.int64)
    return int(is_open(grid).sum())

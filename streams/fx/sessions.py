"""FX trading calendar on a 1-minute UTC grid: the week, holidays and sessions.

The retail FX week is modelled as Sunday 22:00 UTC to Friday 22:00 UTC, all year (real venues move
the open to 21:00 UTC in northern summer; HistData's fixed-EST clock hides that, so a fixed 22:00 is
what its files show). 25 December and 1 January (whole UTC days) are closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.core.units import MINUTE_MS

DAY_MIN = 1440
WEEK_OPEN_MIN = 22 * 60
"""Minute of the week (Sunday 00:00 UTC = 0) at which trading opens: Sunday 22:00 UTC."""
WEEK_CLOSE_MIN = 5 * DAY_MIN + 22 * 60
"""Minute of the week at which trading closes: Friday 22:00 UTC."""

TimeLike: TypeAlias = int | str | datetime | np.datetime64 | pd.Timestamp


def to_ms(t: TimeLike) -> int:
    """Convert a time to int milliseconds since the epoch, UTC.

    Integers are taken as milliseconds; naive strings/datetimes are taken as UTC.
    """
    if isinstance(t, int | np.integer):
        return int(t)
    stamp = pd.Timestamp(t)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


def minute_of_week(ts_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Return minutes since the preceding Sunday 00:00 UTC, shape (n,)."""
    minutes = ts_ms // MINUTE_MS
    # 1970-01-01 was a Thursday: day 0 is weekday 4 when Sunday is 0.
    return ((minutes // DAY_MIN + 4) % 7) * DAY_MIN + minutes % DAY_MIN


def minute_of_day(ts_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Return minutes since 00:00 UTC of the same day, shape (n,)."""
    return (ts_ms // MINUTE_MS) % DAY_MIN


def is_holiday(ts_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Return True on 25 December and 1 January (UTC calendar days), shape (n,)."""
    days = ts_ms.astype("datetime64[ms]").astype("datetime64[D]")
    month_start = days.astype("datetime64[M]")
    day = (days - month_start).astype(np.int64) + 1
    month = month_start.astype(np.int64) % 12 + 1
    return np.asarray(((month == 12) & (day == 25)) | ((month == 1) & (day == 1)), dtype=np.bool_)


def fx_open(ts_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Return True for minutes inside the FX week and not on a holiday, shape (n,)."""
    mow = minute_of_week(ts_ms)
    return (mow >= WEEK_OPEN_MIN) & (mow < WEEK_CLOSE_MIN) & ~is_holiday(ts_ms)


def open_minutes(start_ms: int, end_ms: int) -> npt.NDArray[np.int64]:
    """Return the open minutes in ``[start_ms, end_ms)`` as bar open times (ms UTC), shape (n,).

    ``start_ms`` is rounded up to a whole minute.
    """
    first = -(-start_ms // MINUTE_MS) * MINUTE_MS
    grid = np.arange(first, end_ms, MINUTE_MS, dtype=np.int64)
    return grid[fx_open(grid)]


def in_hours(ts_ms: npt.NDArray[np.int64], start_hour: int, end_hour: int) -> npt.NDArray[np.bool_]:
    """Return True when the UTC hour is in ``[start_hour, end_hour)``, wrapping past midnight."""
    hour = minute_of_day(ts_ms) // 60
    if start_hour <= end_hour:
        return (hour >= start_hour) & (hour < end_hour)
    return (hour >= start_hour) | (hour < end_hour)

"""Time helpers on a 1-minute UTC grid: conversion to ms, minute of the week/day, UTC hour windows.

Market hours (the FX week and its holidays) are defined once, in :mod:`streams.fx.hours`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.core.units import MINUTE_MS

DAY_MIN = 1440

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


def in_hours(ts_ms: npt.NDArray[np.int64], start_hour: int, end_hour: int) -> npt.NDArray[np.bool_]:
    """Return True when the UTC hour is in ``[start_hour, end_hour)``, wrapping past midnight."""
    hour = minute_of_day(ts_ms) // 60
    if start_hour <= end_hour:
        return (hour >= start_hour) & (hour < end_hour)
    return (hour >= start_hour) | (hour < end_hour)

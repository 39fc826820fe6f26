"""HistData's clock: anchor each trading week to the New York 17:00 open/close.

HistData documents its times as EST without daylight saving (a fixed UTC-5). Real files do not keep
to it: in the 2018-2019 files, during US daylight saving, every bar is one hour late when read as
UTC-5 (US non-farm payrolls, released at 08:30 New York = 12:30 UTC in summer, show their spike at
13:30 UTC; the week's last bar is at 16:59 file time all year). 2018 switches on US dates, 2019 on
EU dates (in the weeks between the two the file is UTC-5), so no single zone reads both right.

What holds in every week is the market's own schedule: the FX week opens on Sunday at 17:00 and
closes on Friday at 17:00 New York time. So each week of a file (bars between two Saturdays) is read
as UTC-5 or UTC-4, whichever puts its first bar on Sunday in ``[17:00, 18:00)`` New York time (or,
when the week does not open on a Sunday in the file, its last bar on Friday in ``[16:00, 17:00)``).
Weeks that show neither (a fragment of a week) keep UTC-5 and are counted as unanchored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

HOUR_MS = 3_600_000
WEEK_MS = 7 * 86_400_000
_SATURDAY_NOON_MS = 2 * 86_400_000 + 12 * HOUR_MS
"""1970-01-03 12:00 UTC, a Saturday: week keys split on Saturdays, when the market is closed."""


@dataclass(frozen=True)
class ClockReport:
    """How the weeks of one file were read."""

    weeks_utc5: int
    """Weeks anchored as UTC-5 (New York standard time, or HistData's documented clock)."""
    weeks_utc4: int
    """Weeks anchored as UTC-4 (shifted one hour earlier than the documented clock)."""
    weeks_unanchored: int
    """Weeks with neither a Sunday open nor a Friday close in the file: kept as UTC-5."""


def _ny(ts: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    local = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True)).tz_convert("America/New_York")
    return np.asarray(local.dayofweek, dtype=np.int64), np.asarray(local.hour, dtype=np.int64)


def _fits(first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
    """1 when the week's first bar opens it (Sunday 17:xx NY), 2 when only its last bar closes it."""
    day_f, hour_f = _ny(first)
    day_l, hour_l = _ny(last)
    opens = (day_f == 6) & (hour_f == 17)
    closes = (day_l == 4) & (hour_l == 16)
    return np.where(opens, 1, np.where(closes, 2, 0)).astype(np.int8)


def anchor_weeks(
    ts_est: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], ClockReport]:
    """Return the bar times re-read week by week (see the module docstring) and a report.

    Parameters
    ----------
    ts_est : ndarray of int64, shape (n,)
        Bar times read as fixed UTC-5, ms UTC (HistData's documented clock).
    valid : ndarray of bool, shape (n,)
        Rows whose time parsed; the others are returned unchanged.
    """
    out = ts_est.copy()
    t = ts_est[valid]
    if len(t) == 0:
        return out, ClockReport(0, 0, 0)
    week = (t - _SATURDAY_NOON_MS) // WEEK_MS
    keys, inv = np.unique(week, return_inverse=True)
    first = np.full(len(keys), np.iinfo(np.int64).max)
    last = np.full(len(keys), np.iinfo(np.int64).min)
    np.minimum.at(first, inv, t)
    np.maximum.at(last, inv, t)
    as_utc5 = _fits(first, last)
    as_utc4 = _fits(first - HOUR_MS, last - HOUR_MS)
    # The open decides over the close; a week that fits neither (or both) stays UTC-5.
    shift = ((as_utc4 == 1) & (as_utc5 != 1)) | ((as_utc4 == 2) & (as_utc5 == 0))
    anchored = (as_utc5 > 0) | shift
    out[valid] = t - np.where(shift[inv], HOUR_MS, 0)
    report = ClockReport(int((anchored & ~shift).sum()), int(shift.sum()), int((~anchored).sum()))
    return out, report

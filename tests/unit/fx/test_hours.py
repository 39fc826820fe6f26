"""Market hours follow New York (one definition): checked against per-element zoneinfo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from streams.fx.hours import (
    in_local_hours,
    is_holiday,
    is_open,
    is_open_at,
    open_minutes,
    open_minutes_between,
    utc_offset_ms,
)
from streams.fx.sessions import to_ms

NY = ZoneInfo("America/New_York")


def _reference_open(t: datetime) -> bool:
    """Second method: one datetime at a time, in New York wall time."""
    ny = t.astimezone(NY)
    wd, minute = ny.weekday(), ny.hour * 60 + ny.minute
    if wd == 5 or (wd == 4 and minute >= 17 * 60) or (wd == 6 and minute < 17 * 60):
        return False
    trading_day = (ny + timedelta(hours=7)).date()  # the FX day ends at 17:00 New York
    return (trading_day.month, trading_day.day) not in ((12, 25), (1, 1))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2019-07-05T20:59", True),  # summer Friday: closes 17:00 New York = 21:00 UTC
        ("2019-07-05T21:00", False),
        ("2019-07-05T21:59", False),
        ("2019-07-07T20:59", False),  # summer Sunday: opens 21:00 UTC
        ("2019-07-07T21:00", True),
        ("2019-01-11T21:59", True),  # winter Friday: closes 22:00 UTC
        ("2019-01-11T22:00", False),
        ("2019-01-06T21:59", False),  # winter Sunday: opens 22:00 UTC
        ("2019-01-06T22:00", True),
        ("2019-01-09T12:00", True),
        ("2019-01-12T12:00", False),
        ("2019-12-24T21:59", True),  # Christmas: the trading day dated 25 Dec (from 24 Dec 17:00 NY)
        ("2019-12-24T22:00", False),
        ("2019-12-25T21:59", False),
        ("2019-12-25T22:00", True),
        ("2020-01-01T12:00", False),
        ("2020-01-01T22:00", True),
    ],
)
def test_week_and_holidays_follow_new_york(when: str, expected: bool) -> None:
    t = np.array([to_ms(when)], dtype=np.int64)
    assert bool(is_open(t)[0]) is expected
    assert is_open_at(to_ms(when) / 1000) is expected


def test_matches_zoneinfo_minute_by_minute_over_dst_changes() -> None:
    # every 7 minutes across 2018-2021 (both DST changes of 4 years, 4 Christmases)
    grid = np.arange(to_ms("2018-01-01"), to_ms("2021-12-31"), 7 * 60_000, dtype=np.int64)
    sample = grid[:: max(1, len(grid) // 40_000)]
    ref = [_reference_open(datetime.fromtimestamp(int(t) / 1000, tz=UTC)) for t in sample]
    assert is_open(sample).tolist() == ref
    offsets = [
        int(datetime.fromtimestamp(int(t) / 1000, tz=UTC).astimezone(NY).utcoffset().total_seconds()) * 1000
        for t in sample
    ]
    assert utc_offset_ms(sample).tolist() == offsets
    london = [
        int(
            datetime.fromtimestamp(int(t) / 1000, tz=UTC)
            .astimezone(ZoneInfo("Europe/London"))
            .utcoffset()
            .total_seconds()
        )
        * 1000
        for t in sample
    ]
    assert utc_offset_ms(sample, "Europe/London").tolist() == london


def test_dst_transition_instants() -> None:
    # US DST 2019: 10 March 07:00 UTC (02:00 EST) and 3 November 06:00 UTC (02:00 EDT).
    t = np.array(
        [to_ms(x) for x in ("2019-03-10T06:59", "2019-03-10T07:00", "2019-11-03T05:59", "2019-11-03T06:00")],
        dtype=np.int64,
    )
    assert (utc_offset_ms(t) // 3_600_000).tolist() == [-5, -4, -4, -5]


def test_open_minutes_per_week() -> None:
    winter = open_minutes(to_ms("2019-03-03"), to_ms("2019-03-10"))
    assert len(winter) == 5 * 1440
    assert winter[0] == to_ms("2019-03-03T22:00")
    assert winter[-1] == to_ms("2019-03-08T21:59")
    summer = open_minutes(to_ms("2019-07-07"), to_ms("2019-07-13"))
    assert len(summer) == 5 * 1440
    assert summer[0] == to_ms("2019-07-07T21:00")
    assert summer[-1] == to_ms("2019-07-12T20:59")
    # the DST week: Sunday 10 March opens at 17:00 EDT = 21:00 UTC
    assert open_minutes(to_ms("2019-03-10"), to_ms("2019-03-11"))[0] == to_ms("2019-03-10T21:00")


def test_holiday_and_gap_counts() -> None:
    t = np.array([to_ms(x) for x in ("2019-12-25T12:00", "2020-01-01T00:00", "2019-12-24T12:00")])
    assert is_holiday(t).tolist() == [True, True, False]
    # summer Friday 20:59 → Sunday 21:00 UTC: nothing open in between
    assert open_minutes_between(to_ms("2019-07-05T20:59"), to_ms("2019-07-07T21:00")) == 0
    assert open_minutes_between(to_ms("2019-07-05T20:00"), to_ms("2019-07-05T20:31")) == 30


def test_local_hours_wrap() -> None:
    # 21:30 UTC is 17:30 New York in summer, 16:30 in winter
    t = np.array([to_ms("2019-07-03T21:30"), to_ms("2019-01-09T21:30"), to_ms("2019-01-09T22:30")])
    assert in_local_hours(t, 17, 18).tolist() == [True, False, True]
    assert in_local_hours(t, 17, 2).tolist() == [True, False, True]

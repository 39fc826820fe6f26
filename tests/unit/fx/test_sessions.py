from __future__ import annotations

import numpy as np

from streams.fx.sessions import fx_open, in_hours, is_holiday, minute_of_week, open_minutes, to_ms


def test_to_ms() -> None:
    # 2019-01-06 22:00 UTC = day 17902 * 86_400_000 + 22 h.
    expected = 17902 * 86_400_000 + 22 * 3_600_000
    assert to_ms("2019-01-06T22:00") == expected
    assert to_ms("2019-01-06T17:00-05:00") == expected
    assert to_ms(expected) == expected
    assert to_ms(np.datetime64("2019-01-06T22:00")) == expected


def test_week_boundaries() -> None:
    t = np.array(
        [
            to_ms(x)
            for x in (
                "2019-01-06T21:59",
                "2019-01-06T22:00",
                "2019-01-09T12:00",
                "2019-01-11T21:59",
                "2019-01-11T22:00",
                "2019-01-12T12:00",
            )
        ],
        dtype=np.int64,
    )
    assert fx_open(t).tolist() == [False, True, True, True, False, False]
    assert minute_of_week(t[:2]).tolist() == [22 * 60 - 1, 22 * 60]


def test_holidays_and_grid() -> None:
    t = np.array(
        [to_ms(x) for x in ("2019-12-25T12:00", "2020-01-01T00:00", "2019-12-24T12:00")], dtype=np.int64
    )
    assert is_holiday(t).tolist() == [True, True, False]
    week = open_minutes(to_ms("2019-03-03"), to_ms("2019-03-10"))
    assert len(week) == 5 * 1440
    assert week[0] == to_ms("2019-03-03T22:00")
    assert week[-1] == to_ms("2019-03-08T21:59")


def test_in_hours_wraps() -> None:
    t = np.array([to_ms(f"2019-03-04T{h:02d}:30") for h in (21, 22, 3, 7, 12)], dtype=np.int64)
    assert in_hours(t, 22, 7).tolist() == [False, True, True, False, False]
    assert in_hours(t, 21, 22).tolist() == [True, False, False, False, False]

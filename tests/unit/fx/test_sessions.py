from __future__ import annotations

import numpy as np

from streams.fx.sessions import in_hours, minute_of_week, to_ms


def test_to_ms() -> None:
    # 2019-01-06 22:00 UTC = day 17902 * 86_400_000 + 22 h.
    expected = 17902 * 86_400_000 + 22 * 3_600_000
    assert to_ms("2019-01-06T22:00") == expected
    assert to_ms("2019-01-06T17:00-05:00") == expected
    assert to_ms(expected) == expected
    assert to_ms(np.datetime64("2019-01-06T22:00")) == expected


def test_minute_of_week() -> None:
    t = np.array([to_ms("2019-01-06T21:59"), to_ms("2019-01-06T22:00")], dtype=np.int64)
    assert minute_of_week(t).tolist() == [22 * 60 - 1, 22 * 60]


def test_in_hours_wraps() -> None:
    t = np.array([to_ms(f"2019-03-04T{h:02d}:30") for h in (21, 22, 3, 7, 12)], dtype=np.int64)
    assert in_hours(t, 22, 7).tolist() == [False, True, True, False, False]
    assert in_hours(t, 21, 22).tolist() == [True, False, False, False, False]

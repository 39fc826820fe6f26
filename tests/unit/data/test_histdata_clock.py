from __future__ import annotations

import numpy as np

from streams.data.histdata import parse_histdata_text
from streams.data.histdata_clock import ClockReport

# A summer week of a HistData file as the real 2018-2019 files show it: the week closes at 16:59 and
# opens at 17:00 file time although New York is on EDT (UTC-4).
SUMMER = """20190705 165800;1.25000;1.25010;1.24990;1.25000;0
20190705 165900;1.25000;1.25010;1.24990;1.25000;0
20190707 170000;1.25000;1.25010;1.24990;1.25000;0
20190708 083000;1.25000;1.25010;1.24990;1.25000;0
"""
# Winter: the documented clock (UTC-5) is right. Then a fragment of a week (a Wednesday only).
WINTER = """20190104 165900;1.14000;1.14010;1.13990;1.14000;0
20190106 170000;1.14000;1.14010;1.13990;1.14000;0
20190116 120000;1.14000;1.14010;1.13990;1.14000;0
"""


def _utc(text: str) -> int:
    # "YYYY-MM-DD HH:MM" UTC as ms
    return int(np.datetime64(text, "ms").astype(np.int64))


def test_summer_week_is_anchored_to_the_new_york_open() -> None:
    res = parse_histdata_text(SUMMER, "GBPUSD")
    # Friday 16:59 EDT = 20:59 UTC (fixed UTC-5 read it as 21:59); Sunday 17:00 EDT = 21:00 UTC;
    # Monday 08:30 EDT (US data releases) = 12:30 UTC.
    assert res.bars["ts"].tolist() == [
        _utc("2019-07-05T20:58"),
        _utc("2019-07-05T20:59"),
        _utc("2019-07-07T21:00"),
        _utc("2019-07-08T12:30"),
    ]
    assert res.clock == ClockReport(weeks_utc5=0, weeks_utc4=2, weeks_unanchored=0)


def test_documented_clock_on_request() -> None:
    res = parse_histdata_text(SUMMER, "GBPUSD", anchor=False)
    assert res.bars["ts"][2] == _utc("2019-07-07T22:00")
    assert res.clock is None


def test_winter_weeks_and_fragments_keep_utc5() -> None:
    res = parse_histdata_text(WINTER, "GBPUSD")
    assert res.bars["ts"].tolist() == [
        _utc("2019-01-04T21:59"),
        _utc("2019-01-06T22:00"),
        _utc("2019-01-16T17:00"),
    ]
    assert res.clock == ClockReport(weeks_utc5=2, weeks_utc4=0, weeks_unanchored=1)


def test_weeks_between_us_and_eu_daylight_saving() -> None:
    # 2019-03-10..31: New York on EDT, the 2019 files on UTC-5: the week opens at 16:00 file time.
    text = "20190317 160000;1.3;1.3;1.3;1.3;0\n20190318 033000;1.3;1.3;1.3;1.3;0\n"
    res = parse_histdata_text(text, "GBPUSD")
    assert res.bars["ts"].tolist() == [_utc("2019-03-17T21:00"), _utc("2019-03-18T08:30")]
    assert res.clock == ClockReport(weeks_utc5=1, weeks_utc4=0, weeks_unanchored=0)


def test_unparseable_times_are_untouched() -> None:
    res = parse_histdata_text(SUMMER + "2019070 170000;1.25;1.25;1.25;1.25;0\n", "GBPUSD")
    assert len(res.bars["ts"]) == 4
    assert len(res.rejects) == 1
    assert "unparseable timestamp" in res.rejects[0].reason

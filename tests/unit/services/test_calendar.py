"""The uncovered parts of a backtest window (hand-made event times) and the file fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streams.fx.sessions import to_ms
from streams.services.calendar import coverage_gaps, resolve_calendar

LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "calendar" / "layouts"


def test_coverage_gaps_before_between_and_after() -> None:
    events = np.array([to_ms(x) for x in ("2019-11-04T12:30", "2019-11-05T08:00", "2019-11-20T10:00")])
    gaps = coverage_gaps(events, to_ms("2019-10-01"), to_ms("2019-12-31"))
    assert gaps == [
        [to_ms("2019-10-01"), to_ms("2019-11-04")],  # before the first event day
        [to_ms("2019-11-06"), to_ms("2019-11-20")],  # 15 days without an event: a hole in the file
        [to_ms("2019-11-21"), to_ms("2019-12-31")],  # after the last event day
    ]
    assert coverage_gaps(events, to_ms("2019-11-04"), to_ms("2019-11-06")) == []
    assert coverage_gaps(np.zeros(0, np.int64), 0, 10) == [[0, 10]]


def test_explicit_file_reports_what_it_does_not_cover(tmp_path: Path) -> None:
    path, info = resolve_calendar(
        str(LAYOUTS / "country_no_id.csv"), to_ms("2019-11-01"), to_ms("2019-12-01"), tmp_path
    )
    assert path.endswith("country_no_id.csv")
    assert info["source"].startswith("file:")
    assert info["events_in_window"] == 8
    assert info["uncovered"] == [["2019-11-12T00:00Z", "2019-12-01T00:00Z"]]
    assert info["uncovered_share"] == round(19 / 30, 4)

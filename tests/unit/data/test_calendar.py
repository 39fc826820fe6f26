from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from streams.data.calendar import (
    CALENDAR_FIELDS,
    event_times,
    normalize_impact,
    parse_event_time,
    parse_value,
    read_calendar_csv,
    read_calendar_json,
)
from tests.unit.data.conftest import CALENDAR

SAMPLE_CSV = CALENDAR / "forexfactory_calendar_sample.csv"
SAMPLE_JSON = CALENDAR / "2019-12-03.json"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.2K", 1200.0),
        ("-0.2%", -0.2),
        ("52.3", 52.3),
        ("<0.1%", 0.1),
        ("<1.75%", 1.75),
        ("0.14|1.2", 0.14),
        ("-22.6K", -22600.0),
        ("1.4M", 1.4e6),
        ("-7.3B", -7.3e9),
        ("1.73T", 1.73e12),
        ("227K", 227e3),
        ("  3.5% ", 3.5),
    ],
)
def test_parse_value(text: str, value: float) -> None:
    assert parse_value(text) == pytest.approx(value, rel=1e-12)


def test_parse_value_exact_and_empty() -> None:
    assert parse_value("1.2K") == 1200.0
    for text in ("", "Pass", "0-2-7", None, "n/a", "1.2X"):
        assert math.isnan(parse_value(text))


def test_normalize_impact() -> None:
    assert normalize_impact("High Impact Expected") == "high"
    assert normalize_impact("Medium Impact Expected") == "medium"
    assert normalize_impact("Low Impact Expected") == "low"
    assert normalize_impact("Non-Economic", "Bank Holiday") == "holiday"
    assert normalize_impact("Non-Economic", "Daylight Saving Time Shift") == "none"


def test_parse_event_time_formats() -> None:
    # 2019-12-03 03:30 UTC = day 18233 * 86_400_000 + 3.5 h.
    expected = 18233 * 86_400_000 + 12_600_000
    assert parse_event_time("2019-12-03T03:30:00+00:00") == expected
    assert parse_event_time("2019-12-03T04:30:00+01:00") == expected
    assert parse_event_time("2019-12-03 03:30:00") == expected
    assert parse_event_time(expected // 1000) == expected
    assert parse_event_time(expected) == expected


def test_sample_csv() -> None:
    cal = read_calendar_csv(SAMPLE_CSV)
    assert tuple(cal) == CALENDAR_FIELDS
    assert len(cal["ts"]) == 21
    assert cal["ts"].dtype == np.int64
    assert np.all(np.diff(cal["ts"]) >= 0)
    row = {k: v[cal["event_id"] == "103946"][0] for k, v in cal.items()}  # RBA Cash Rate
    assert row["ts"] == 18233 * 86_400_000 + 12_600_000
    assert (row["currency"], row["impact"], row["title"]) == ("AUD", "high", "Cash Rate")
    assert (row["actual"], row["actual_value"]) == ("0.75%", 0.75)
    fed = {k: v[cal["event_id"] == "101945"][0] for k, v in cal.items()}
    assert fed["forecast"] == "<1.75%"
    assert fed["forecast_value"] == 1.75
    brexit = cal["event_id"] == "114928"
    assert cal["actual"][brexit][0] == "Pass"
    assert np.isnan(cal["actual_value"][brexit][0])
    assert np.isnan(cal["previous_value"][brexit][0])
    assert cal["impact"][cal["event_id"] == "106522"][0] == "holiday"
    assert cal["impact"][cal["event_id"] == "110757"][0] == "none"
    assert cal["currency"][cal["event_id"] == "107663"][0] == "ALL"
    assert set(cal["impact"]) <= {"high", "medium", "low", "holiday", "none"}


def _by_id(cal: dict[str, np.ndarray]) -> dict[str, dict[str, object]]:
    return {str(e): {k: cal[k][i] for k in cal} for i, e in enumerate(cal["event_id"])}


def _assert_agree(json_cal: dict[str, np.ndarray], csv_cal: dict[str, np.ndarray]) -> int:
    csv_rows = _by_id(csv_cal)
    for eid, row in _by_id(json_cal).items():
        other = csv_rows[eid]
        for k in CALENDAR_FIELDS:
            if k.endswith("_value"):
                assert (np.isnan(row[k]) and np.isnan(other[k])) or row[k] == other[k], (eid, k)  # type: ignore[arg-type]
            else:
                assert row[k] == other[k], (eid, k, row[k], other[k])
    return len(json_cal["ts"])


def test_sample_json_agrees_with_csv() -> None:
    # event_dt in the raw JSON is ISO-8601 text with +00:00, equal to the CSV's datetime_utc.
    n = _assert_agree(read_calendar_json(SAMPLE_JSON), read_calendar_csv(SAMPLE_CSV))
    assert n == 14


def test_event_times_filter() -> None:
    cal = read_calendar_csv(SAMPLE_CSV)
    times = event_times(cal, ("AUD", "USD"))
    assert 18233 * 86_400_000 + 12_600_000 in times  # AUD Cash Rate, high
    assert len(event_times(cal, ("AUD",), impacts=("low",))) >= 1
    assert len(event_times(cal, ("SEK",))) == 0


def test_shared_csv(shared_calendar_dir: Path) -> None:
    cal = read_calendar_csv(shared_calendar_dir / "forexfactory_calendar_2019-11_2020-10.csv")
    assert len(cal["ts"]) == 4215
    counts = dict(zip(*np.unique(cal["impact"], return_counts=True), strict=True))
    assert counts["high"] == 716
    assert counts["medium"] == 610
    assert counts["low"] == 2772
    assert counts["holiday"] + counts["none"] == 117
    assert int((cal["currency"] == "ALL").sum()) == 37
    assert cal["ts"][0] == parse_event_time("2019-11-20T07:00:00+00:00")
    # Values with text units parse; empty ones are NaN.
    assert np.isfinite(cal["actual_value"]).sum() > 2000


def test_shared_json_agrees_with_csv(shared_calendar_dir: Path) -> None:
    files = sorted((shared_calendar_dir / "raw_json").glob("*.json"))
    assert files, "raw_json files missing"
    csv_cal = read_calendar_csv(shared_calendar_dir / "forexfactory_calendar_2019-11_2020-10.csv")
    assert _assert_agree(read_calendar_json(files), csv_cal) == 95

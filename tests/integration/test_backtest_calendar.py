"""Backtests use the calendar stored by `hslr calendar import --db` for their window by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.data.calendar import read_calendar_file
from streams.fx.sessions import to_ms
from streams.services.calendar import resolve_calendar

pytestmark = pytest.mark.integration
LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "calendar" / "layouts"


def test_stored_calendar_is_the_default_and_the_fallback_is_said(
    services: dict[str, str], tmp_path: Path
) -> None:
    from streams.cli.main import main
    from streams.storage.db import connect

    # events far in the future, so no other test's rows fall in the window
    csv = tmp_path / "future.csv"
    csv.write_text(
        "datetime,country,impact,event\n"
        "2041-03-04 12:30,US,High,Test NFP\n"
        "2041-03-05 09:00,EZ,Medium,Test PMI\n"
        "2041-03-06 03:30,AU,High,Test Cash Rate\n"
    )
    with connect() as conn:
        conn.execute("DELETE FROM calendar_events WHERE ts >= '2041-01-01' AND ts < '2042-01-01'")
        conn.commit()
    assert main(["calendar", "import", str(csv), "--db"]) == 0
    start, end = to_ms("2041-03-01"), to_ms("2041-03-31")
    shared = str(LAYOUTS / "ff_week.json")
    path, info = resolve_calendar("", start, end, tmp_path / "cal", shared=shared)
    assert info["source"] == "db:calendar_events"
    assert info["events_in_window"] == 3
    assert read_calendar_file(path)["title"].tolist() == ["Test NFP", "Test PMI", "Test Cash Rate"]
    assert info["uncovered"] == [["2041-03-07T00:00Z", "2041-03-31T00:00Z"]]
    # a window with nothing stored falls back to the shared file and says so
    path, info = resolve_calendar(
        "", to_ms("2042-06-01"), to_ms("2042-07-01"), tmp_path / "cal", shared=shared
    )
    assert path == shared
    assert "using the shared CSV" in info["note"]
    assert info["uncovered_share"] == 1.0

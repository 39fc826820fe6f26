"""Calendar layouts: country-or-currency columns, ForexFactory's export and weekly JSON, derived ids,
and clear refusals (hand-made fixtures in tests/fixtures/calendar/layouts)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from streams.cli.calendar import summary
from streams.cli.main import main
from streams.data.calendar import import_calendar, read_calendar_file
from streams.data.calendar_layouts import CalendarLayoutError, content_id
from streams.fx.sessions import to_ms

LAYOUTS = Path(__file__).resolve().parents[2] / "fixtures" / "calendar" / "layouts"


def test_country_column_without_ids_keeps_every_event() -> None:
    # regression: "8 events ... 1 distinct ids" (every row overwrote the last in the database)
    b = read_calendar_file(LAYOUTS / "country_no_id.csv")
    assert b.n == 8
    assert len(np.unique(b["event_id"])) == 8
    assert "8 distinct ids" in summary(b)
    by_title = dict(zip(b["title"].tolist(), b["currency"].tolist(), strict=True))
    assert by_title == {
        "Non-Farm Employment Change": "USD",
        "Unemployment Rate": "USD",
        "Final Manufacturing PMI": "EUR",  # EZ
        "Cash Rate": "AUD",
        "Official Bank Rate": "GBP",  # GB
        "German Industrial Production m/m": "EUR",  # DE
        "Employment Change": "CAD",
        "Core Machinery Orders m/m": "JPY",
    }
    nfp = b["title"] == "Non-Farm Employment Change"
    assert b["ts"][nfp][0] == to_ms("2019-11-01T12:30")
    assert b["event_id"][nfp][0] == content_id(to_ms("2019-11-01T12:30"), "USD", "Non-Farm Employment Change")
    # stable: the same file gives the same ids
    assert read_calendar_file(LAYOUTS / "country_no_id.csv")["event_id"].tolist() == b["event_id"].tolist()
    assert set(b["impact"]) == {"high", "medium", "low"}


def test_forexfactory_export_csv_and_weekly_json() -> None:
    csv = read_calendar_file(LAYOUTS / "ff_export.csv", tz="America/New_York")
    nfp = csv.take(csv["title"] == "Non-Farm Employment Change")
    assert nfp["ts"][0] == to_ms("2019-11-01T12:30")  # 8:30am EDT
    assert csv["impact"][csv["title"] == "Bank Holiday"][0] == "holiday"
    # 10:30pm EST on 4 Nov = 03:30 UTC on 5 Nov (the RBA decision)
    assert csv["ts"][csv["title"] == "Cash Rate"][0] == to_ms("2019-11-05T03:30")
    js = read_calendar_file(LAYOUTS / "ff_week.json")
    assert js["ts"].tolist() == [to_ms("2019-11-01T12:30"), to_ms("2019-11-05T03:30")]
    assert js["currency"].tolist() == ["USD", "AUD"]
    assert js["forecast"].tolist() == ["89K", "0.75%"]
    # the same event gets the same derived id from either layout
    assert js["event_id"][0] == nfp["event_id"][0]
    assert import_calendar([LAYOUTS / "ff_week.json", LAYOUTS / "country_no_id.csv"]).n == 10


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unknown_country.csv", "map to no currency: ['XX'] (data rows 2)"),
        ("no_impact.csv", "no impact column"),
    ],
)
def test_unmappable_files_are_refused_clearly(name: str, message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(CalendarLayoutError, match=re.escape(message)):
        read_calendar_file(LAYOUTS / name)
    assert main(["calendar", "import", str(LAYOUTS / name)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err

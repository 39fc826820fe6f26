"""Calendar files → calendar_event records → the news stage, through the schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streams.cli.calendar import summary
from streams.data.calendar import import_calendar
from streams.serde.avro import AvroCodec
from streams.stages.news import NewsStage
from tests.kit.news import ROOT, ms

FIXTURES = ROOT / "tests" / "fixtures" / "calendar"


def test_fixture_csv_round_trips_through_schema_and_stage() -> None:
    batch = import_calendar([FIXTURES / "forexfactory_calendar_sample.csv"])
    raw = pd.read_csv(FIXTURES / "forexfactory_calendar_sample.csv", dtype=str, keep_default_na=False)
    assert batch.n == len(raw) == 21
    assert set(batch["impact"]) == {"high", "medium", "low", "holiday", "none"}
    row = np.flatnonzero(batch["event_id"] == "103946")[0]  # AUD Cash Rate, 0.75% vs 0.75%
    assert (batch["ts"][row], batch["currency"][row], batch["title"][row]) == (
        ms("2019-12-03T03:30"),
        "AUD",
        "Cash Rate",
    )
    assert batch["actual_value"][row] == 0.75
    assert batch["source"][row] == "file:forexfactory_calendar_sample.csv"
    assert np.isnan(batch["actual_value"][batch["event_id"] == "114928"][0])  # "Pass" is not a number
    codec = AvroCodec("calendar_event")
    decoded, errors = codec.decode_batch(codec.encode_batch(batch))
    assert not errors
    assert decoded.equals(batch)
    # the decoded topic records drive the stage like the file columns do
    stage = NewsStage()
    st = stage.process(stage.initial_state(), "calendar", decoded)[0]
    assert len(st.calendar["ts"]) == 21
    assert st.reason[st.calendar["event_id"] == "101945"][0] == (
        "USD Federal Funds Rate @2019-12-11T19:00Z (high, -30/+60 min)"
    )
    assert summary(batch).startswith("21 events 2019-11-28T00:00Z .. 2020-03-08T07:00Z")


def test_daily_json_file_matches_the_csv_rows() -> None:
    daily = import_calendar([FIXTURES / "2019-12-03.json"])
    merged = import_calendar([FIXTURES / "forexfactory_calendar_sample.csv"])
    common = np.intersect1d(daily["event_id"], merged["event_id"])
    assert len(common) >= 10
    for eid in common:
        a, b = (x.take(x["event_id"] == eid).to_records()[0] for x in (daily, merged))
        assert {k: v for k, v in a.items() if k != "source"} == pytest.approx(
            {k: v for k, v in b.items() if k != "source"}, nan_ok=True
        )

"""Event-window override: checked against an independent brute-force loop on the real calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from streams.data.calendar import read_calendar_csv
from streams.fx.pairs import KNOWN_PAIRS
from streams.serde.avro import AvroCodec
from streams.stages.news import NewsConfig, NewsStage
from tests.kit.news import ROOT, calendar, ms, regime_batch, shared_calendar_csv

MIN = 60_000
FIXTURE_CSV = ROOT / "tests" / "fixtures" / "calendar" / "forexfactory_calendar_sample.csv"
WINDOWS = {"high": (30, 60)}


def _calendar_source(which: str) -> Path:
    path = FIXTURE_CSV if which == "fixture" else shared_calendar_csv()
    if not path.exists():
        pytest.skip(f"calendar file {path} absent (set HSLR_SHARED_DATA to the shared data folder)")
    return path


def _reference(cal: pd.DataFrame, pair: str, t: int) -> str:
    """Brute force: test every event; return the reason of the earliest one covering t, else ''."""
    base, quote = pair[:3], pair[3:]
    cur, ets = cal["currency"].to_numpy(), cal["ts"].to_numpy()
    exposed = (cur == base) | (cur == quote) | (cur == "ALL")
    if {"AUD", "NZD"} & {base, quote}:
        exposed |= cur == "CNY"
    covers = exposed & (cal["impact"].to_numpy() == "high") & (ets - 30 * MIN <= t) & (t <= ets + 60 * MIN)
    if not covers.any():
        return ""
    hits = cal[covers].sort_values(["ts", "event_id"])
    e = hits.iloc[0]
    when = datetime.fromtimestamp(e.ts / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")
    return f"{e.currency} {e.title} @{when}Z (high, -30/+60 min)"


def _bars_near_events(cal: pd.DataFrame, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bars of exposed pairs around high-impact events (window edges ±1 min included) plus random bars."""
    high = cal[cal.impact == "high"]
    pick = rng.integers(0, len(high), n)
    offsets = np.concatenate([rng.choice([-31, -30, 60, 61], n // 2), rng.integers(-150, 150, n - n // 2)])
    ts = np.concatenate(
        [high.ts.to_numpy()[pick] + offsets * MIN, rng.integers(high.ts.min(), high.ts.max(), n) // MIN * MIN]
    )
    known = np.array(KNOWN_PAIRS)
    pairs = []
    for c in high.currency.to_numpy()[pick]:
        mine = [p for p in known if c in p] or list(known)
        pairs.append(mine[rng.integers(0, len(mine))])
    return np.concatenate([pairs, known[rng.integers(0, len(known), n)]]), ts


@pytest.mark.parametrize("which", ["fixture", "shared"])
def test_override_equals_brute_force(which: str) -> None:
    cols = read_calendar_csv(_calendar_source(which))
    cal = pd.DataFrame(cols).drop_duplicates("event_id", keep="last")  # documented: last version wins
    cal["currency"] = cal["currency"].str.upper()
    rng = np.random.default_rng(7)
    pairs, ts = _bars_near_events(cal, 1500 if which == "shared" else 200, rng)
    batch = regime_batch(pairs, ts, rng)
    out = NewsStage(calendar=cols).adjust(NewsStage(calendar=cols).initial_state(), batch)
    expected = np.array([_reference(cal, p, t) for p, t in zip(pairs, ts, strict=True)])
    hit = expected != ""
    assert 0.1 < hit.mean() < 0.9  # the sample really straddles windows, so the test can fail both ways
    np.testing.assert_array_equal(out["override_reason"], expected)
    np.testing.assert_array_equal(out["event_override"], hit)
    np.testing.assert_array_equal(out["regime"], np.where(hit, "Event_Risk", batch["regime"]))
    np.testing.assert_array_equal(out["tradeable"], batch["tradeable"] & ~hit)
    for name in batch:  # every other regime field passes through untouched
        if name not in ("regime", "tradeable"):
            np.testing.assert_array_equal(out[name], batch[name])


def test_named_events_and_exposure() -> None:
    cal = calendar(
        [
            ("1", "2020-03-06T13:30", "USD", "high", "Non-Farm Employment Change", 273e3, 175e3),
            ("2", "2020-03-10T02:00", "CNY", "high", "CPI y/y", 5.2, 5.2),
            ("3", "2020-03-12T00:00", "All", "high", "G7 Meetings", np.nan, np.nan),
            ("4", "2020-03-13T09:00", "EUR", "medium", "German CPI", 0.1, 0.1),
        ]
    )
    stage = NewsStage(calendar=cal)
    st = stage.initial_state()
    rows = [
        ("EURUSD", "2020-03-06T13:00", True),
        ("EURUSD", "2020-03-06T12:59", False),
        ("USDJPY", "2020-03-06T14:30", True),
        ("USDJPY", "2020-03-06T14:31", False),
        ("EURGBP", "2020-03-06T13:30", False),
        ("AUDUSD", "2020-03-10T02:10", True),
        ("AUDJPY", "2020-03-10T02:10", True),
        ("EURUSD", "2020-03-10T02:10", False),
        ("EURCHF", "2020-03-12T00:30", True),
        ("EURUSD", "2020-03-13T09:00", False),
    ]
    b = regime_batch(
        np.array([r[0] for r in rows]), np.array([ms(r[1]) for r in rows]), np.random.default_rng(1)
    )
    out = stage.adjust(st, b)
    np.testing.assert_array_equal(out["event_override"], [r[2] for r in rows])
    assert (
        out["override_reason"][0] == "USD Non-Farm Employment Change @2020-03-06T13:30Z (high, -30/+60 min)"
    )
    assert out["override_reason"][8] == "ALL G7 Meetings @2020-03-12T00:00Z (high, -30/+60 min)"
    medium = NewsStage(NewsConfig(override_impacts=("high", "medium")), calendar=cal)
    assert medium.adjust(medium.initial_state(), b)["override_reason"][9].endswith("(medium, -15/+30 min)")


def test_unrelated_currencies_change_nothing() -> None:
    rng = np.random.default_rng(3)
    ts = ms("2020-03-06T12:00") + np.arange(240) * MIN
    b = regime_batch(np.full(240, "EURUSD"), ts, rng)
    cal = calendar(
        [
            (str(i), "2020-03-06T13:30", c, "high", "CPI m/m", 5.0, 0.1)
            for i, c in enumerate(["JPY", "CAD", "NZD", "CHF", "CNY", "GBP"])
        ]
    )
    stage = NewsStage(NewsConfig(surprise_min_history=2), calendar=cal)
    out = stage.adjust(stage.initial_state(), b)
    assert not out["event_override"].any()
    assert not out["surprise_mode"].any()
    for name in b:
        np.testing.assert_array_equal(out[name], b[name])


def test_calendar_updates_replace_by_event_id() -> None:
    cal = calendar([("9", "2020-03-06T13:30", "USD", "high", "NFP", np.nan, 175e3)])
    stage = NewsStage(calendar=cal)
    moved = calendar([("9", "2020-03-07T13:30", "USD", "high", "NFP", np.nan, 175e3)])
    st, outs = stage.process(stage.initial_state(), "calendar", regime_free(moved))
    assert outs == {}
    assert len(st.calendar["ts"]) == 1
    b = regime_batch(
        np.array(["EURUSD", "EURUSD"]),
        np.array([ms("2020-03-06T13:30"), ms("2020-03-07T13:30")]),
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(stage.adjust(st, b)["event_override"], [False, True])


def regime_free(cols: dict[str, np.ndarray]):  # noqa: ANN201 - a calendar update as the topic delivers it
    from streams.core.batch import Batch

    return Batch(cols)


def test_config_rejects_override_impact_without_window() -> None:
    with pytest.raises(ValidationError, match="no entry in windows_min"):
        NewsConfig(override_impacts=("high", "low"), windows_min={"high": (30, 60)})
    with pytest.raises(ValidationError, match="unknown impact"):
        NewsConfig(override_impacts=("huge",))


def test_output_encodes_with_schema() -> None:
    rng = np.random.default_rng(5)
    cal = calendar([("1", "2020-03-06T13:30", "USD", "high", "NFP", 273e3, 175e3)])
    stage = NewsStage(calendar=cal)
    b = regime_batch(np.array(["EURUSD", "GBPJPY"]), np.array([ms("2020-03-06T13:30")] * 2), rng)
    out = stage.process(stage.initial_state(), "regime", b)[1]["regime.adjusted"]
    codec = AvroCodec("regime_adjusted")
    decoded, errors = codec.decode_batch(codec.encode_batch(out))
    assert not errors
    assert decoded.equals(out.select(codec.fields))

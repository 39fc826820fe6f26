from __future__ import annotations

import numpy as np
import pytest

from streams.data.bars import BAR_FIELDS
from streams.data.calendar import event_times, read_calendar_csv
from streams.data.synth import TRUTH_FIELDS, generate_market
from streams.data.synth_config import SynthConfig
from streams.fx.hours import is_holiday, open_minutes
from streams.fx.hours import is_open as fx_open
from streams.fx.sessions import to_ms
from tests.unit.data.conftest import CALENDAR

MIN = 60_000
PAIRS = ["EURUSD", "USDJPY"]


@pytest.fixture(scope="module")
def two_months() -> object:
    return generate_market(PAIRS, "2019-02-01", "2019-04-01", seed=3)


def test_schema_sorted_and_aligned(two_months: object) -> None:
    m = two_months
    bars, truth = m.bars, m.truth  # type: ignore[attr-defined]
    assert tuple(bars) == BAR_FIELDS
    assert tuple(truth) == TRUTH_FIELDS
    assert bars["ts"].dtype == np.int64
    assert bars["spread_modeled"].dtype == np.bool_
    assert truth["regime"].dtype == np.int8
    assert truth["event"].dtype == np.bool_
    order = np.lexsort((bars["pair"], bars["ts"]))
    np.testing.assert_array_equal(order, np.arange(len(order)))
    np.testing.assert_array_equal(truth["ts"], bars["ts"])
    np.testing.assert_array_equal(truth["pair"], bars["pair"])
    assert set(bars["source"]) == {"synth:3"}
    assert (bars["volume"] == 0).all()
    assert bars["spread_modeled"].all()
    assert set(np.unique(truth["regime"])) == {0, 1, 2}
    assert (bars["ts"] % MIN == 0).all()


def test_same_seed_identical_other_seed_differs() -> None:
    a = generate_market(PAIRS, "2019-03-04", "2019-03-09", seed=11)
    b = generate_market(PAIRS, "2019-03-04", "2019-03-09", seed=11)
    c = generate_market(PAIRS, "2019-03-04", "2019-03-09", seed=12)
    for k in BAR_FIELDS:
        np.testing.assert_array_equal(a.bars[k], b.bars[k])
    for k in a.truth:
        np.testing.assert_array_equal(a.truth[k], b.truth[k])
    assert not np.array_equal(a.bars["close"][:1000], c.bars["close"][:1000])


def test_pair_path_independent_of_other_pairs() -> None:
    alone = generate_market(["EURUSD"], "2019-03-04", "2019-03-06", seed=5)
    both = generate_market(["EURUSD", "EURGBP"], "2019-03-04", "2019-03-06", seed=5)
    sel = both.bars["pair"] == "EURUSD"
    np.testing.assert_array_equal(alone.bars["close"], both.bars["close"][sel])


def test_ohlc_consistency(two_months: object) -> None:
    b = two_months.bars  # type: ignore[attr-defined]
    assert np.all(b["high"] >= np.maximum(b["open"], b["close"]))
    assert np.all(b["low"] <= np.minimum(b["open"], b["close"]))
    assert np.all(b["high"] >= b["low"])
    assert np.all(b["low"] > 0)
    assert np.all(b["spread"] > 0)
    assert np.all(np.isfinite(np.stack([b[k] for k in ("open", "high", "low", "close", "spread")])))


def test_weekend_and_holiday_gaps() -> None:
    m = generate_market(["EURUSD", "AUDJPY"], "2019-12-20", "2020-01-06", seed=1)
    ts = m.bars["ts"]
    assert fx_open(ts).all()
    assert not is_holiday(ts).any()
    # No bar between Friday 2019-12-27 22:00 UTC and Sunday 2019-12-29 22:00 UTC.
    fri, sun = to_ms("2019-12-27T22:00"), to_ms("2019-12-29T22:00")
    assert not ((ts >= fri) & (ts < sun)).any()
    assert ((ts >= fri - 10 * MIN) & (ts < fri)).any()
    assert ((ts >= sun) & (ts < sun + 10 * MIN)).any()
    # The New York trading days 25 Dec and 1 Jan (17:00 New York the day before to 17:00) are absent.
    for day in ("2019-12-24T22:00", "2019-12-31T22:00"):
        d0 = to_ms(day)
        assert not ((ts >= d0) & (ts < d0 + 86_400_000)).any()
    # Sunday 22:00 UTC is the first open minute of the week.
    assert to_ms("2019-12-22T22:00") in open_minutes(to_ms("2019-12-22"), to_ms("2019-12-23"))
    assert to_ms("2019-12-22T21:59") not in open_minutes(to_ms("2019-12-22"), to_ms("2019-12-23"))


def test_missing_minutes_mostly_asian() -> None:
    cfg = SynthConfig(missing_rate=0.02, long_gaps_per_year=0.0)
    m = generate_market(["EURUSD"], "2019-03-04", "2019-03-30", seed=2, config=cfg)
    grid = open_minutes(to_ms("2019-03-04"), to_ms("2019-03-30"))
    missing = np.setdiff1d(grid, m.bars["ts"])
    assert 0.01 < len(missing) / len(grid) < 0.03
    hour = missing // 3_600_000 % 24
    asian = (hour >= 22) | (hour < 7)
    assert asian.mean() > 0.6
    none = generate_market(
        ["EURUSD"],
        "2019-03-04",
        "2019-03-30",
        seed=2,
        config=SynthConfig(missing_rate=0.0, long_gaps_per_year=0.0),
    )
    np.testing.assert_array_equal(none.bars["ts"], grid)


def test_calm_theta_recovered_by_ar1(two_months: object) -> None:
    m = two_months
    truth = m.truth  # type: ignore[attr-defined]
    for pair in PAIRS:
        sel = truth["pair"] == pair
        d, regime, ts = truth["deviation"][sel], truth["regime"][sel], truth["ts"][sel]
        ok = (np.diff(ts) == MIN) & (regime[1:] == 0) & (regime[:-1] == 0)
        x, y = d[:-1][ok], d[1:][ok]
        slope = float(x @ y / (x @ x))  # AR(1) through the origin: d[t+1] = exp(-theta) d[t] + e
        theta_true = m.calm_theta[pair]  # type: ignore[attr-defined]
        assert np.all(truth["ou_theta"][sel][regime == 0] == theta_true)
        # ~40k calm pairs: the standard error of theta is ~3 %; allow 15 %.
        assert -np.log(slope) == pytest.approx(theta_true, rel=0.15)
        half_life = np.log(2) / theta_true
        assert 10 <= half_life <= 60


def _assert_events_aligned(m: object, events: np.ndarray) -> None:
    truth, bars = m.truth, m.bars  # type: ignore[attr-defined]
    median_spread = np.median(bars["spread"])
    for t in events:
        window = (truth["ts"] >= t - 5 * MIN) & (truth["ts"] < t + 30 * MIN)
        n_open = int(fx_open(t - 5 * MIN + np.arange(35, dtype=np.int64) * MIN).sum())
        assert window.sum() == n_open  # event windows are never thinned by missing minutes
        assert (truth["regime"][window] == 2).all()
        at = truth["ts"] == t
        assert at.sum() == 1
        assert truth["event"][at].all()
        assert bars["spread"][at][0] >= 4 * median_spread


def test_event_windows_follow_calendar_fixture() -> None:
    cal = read_calendar_csv(CALENDAR / "forexfactory_calendar_sample.csv")
    m = generate_market(["AUDUSD"], "2019-12-02", "2019-12-07", seed=9, calendar=cal)
    events = event_times(cal, ("AUD", "USD"))
    events = events[(events >= to_ms("2019-12-02")) & (events < to_ms("2019-12-07")) & fx_open(events)]
    assert events.tolist() == [to_ms("2019-12-03T03:30")]  # RBA Cash Rate and Rate Statement
    _assert_events_aligned(m, events)
    # Without the calendar the same seed has no event at that minute.
    plain = generate_market(["AUDUSD"], "2019-12-02", "2019-12-07", seed=9)
    assert not plain.truth["event"][plain.truth["ts"] == events[0]].any()


def test_event_windows_hand_made_calendar() -> None:
    times = [
        to_ms(t) for t in ("2019-03-04T13:30", "2019-03-04T13:45:20", "2019-03-05T08:00", "2019-03-10T20:58")
    ]
    cal = {
        "ts": np.array(times + [to_ms("2019-03-06T12:00"), to_ms("2019-03-07T12:00")], dtype=np.int64),
        "currency": np.array(["USD", "EUR", "usd", "USD", "USD", "GBP"]),
        "impact": np.array(["high", "high", "high", "high", "medium", "high"]),
    }
    cal["currency"] = np.char.upper(cal["currency"])
    m = generate_market(["EURUSD"], "2019-03-04", "2019-03-12", seed=21, calendar=cal)
    # 13:45:20 is floored to 13:45; the GBP event is not EURUSD's.
    expected = np.array([times[0], to_ms("2019-03-04T13:45"), times[2]], dtype=np.int64)
    _assert_events_aligned(m, expected)
    # A release on a closed minute (Sunday 20:58 UTC, 16:58 New York on the first day of US summer time) places nothing; medium impact is not placed.
    for t in ("2019-03-10T20:58", "2019-03-06T12:00"):
        assert not m.truth["event"][m.truth["ts"] == to_ms(t)].any()


def test_event_windows_shared_calendar(shared_calendar_dir: object) -> None:
    cal = read_calendar_csv(shared_calendar_dir / "forexfactory_calendar_2019-11_2020-10.csv")  # type: ignore[operator]
    m = generate_market(["EURUSD"], "2020-03-01", "2020-04-01", seed=13, calendar=cal)
    events = event_times(cal, ("EUR", "USD"))
    events = events // MIN * MIN
    events = np.unique(
        events[(events >= to_ms("2020-03-01")) & (events < to_ms("2020-04-01")) & fx_open(events)]
    )
    assert len(events) > 20
    _assert_events_aligned(m, events)


def test_decimals_as_configured() -> None:
    def check(cfg: SynthConfig, expect: dict[str, int]) -> None:
        m = generate_market(["EURUSD", "USDJPY"], "2019-12-30", "2020-01-03", seed=4, config=cfg)
        for pair, dec in expect.items():
            sel = m.bars["pair"] == pair
            scaled = np.concatenate([m.bars[k][sel] for k in ("open", "high", "low", "close")]) * 10.0**dec
            np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-6)
            assert set(m.decimals[pair].values()) == {dec}
            coarser = scaled / 10
            assert not np.allclose(coarser, np.round(coarser), atol=1e-6)

    check(SynthConfig(four_decimal_share=1.0), {"EURUSD": 4, "USDJPY": 2})
    check(SynthConfig(four_decimal_share=0.0), {"EURUSD": 5, "USDJPY": 3})
    check(SynthConfig(decimals={"EURUSD": 4}, four_decimal_share=0.0), {"EURUSD": 4, "USDJPY": 3})


def test_usd_pairs_correlated() -> None:
    m = generate_market(
        ["EURUSD", "GBPUSD", "USDCHF"],
        "2019-03-04",
        "2019-03-16",
        seed=6,
        config=SynthConfig(missing_rate=0.0, long_gaps_per_year=0.0),
    )
    r = {
        p: np.diff(np.log(m.truth["fair_value"][m.bars["pair"] == p])) for p in ("EURUSD", "GBPUSD", "USDCHF")
    }
    assert np.corrcoef(r["EURUSD"], r["GBPUSD"])[0, 1] > 0.2
    assert np.corrcoef(r["EURUSD"], r["USDCHF"])[0, 1] < -0.2


def test_regime_spell_lengths_plausible(two_months: object) -> None:
    truth = two_months.truth  # type: ignore[attr-defined]
    sel = truth["pair"] == "EURUSD"
    regime = truth["regime"][sel]
    share = np.bincount(regime, minlength=3) / len(regime)
    assert share[0] > 0.5
    assert 0.05 < share[1] < 0.45
    assert 0.0 < share[2] < 0.1


def test_unknown_pair_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pair"):
        generate_market(["EURXYZ"], "2019-03-04", "2019-03-05", seed=0)

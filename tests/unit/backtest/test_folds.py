"""Fold schedule: no overlap, purge at least the label horizon, calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.folds import add_period, check_schedule, label_horizon_min, make_schedule, uncovered_tail
from streams.config import build_config
from streams.core.units import MINUTE_MS


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_label_horizon_is_the_longer_look_ahead() -> None:
    # regime labels: 30 bars × max_span_factor 2 = 60 min; edge: 30 min
    assert label_horizon_min(build_config({})) == 60
    cfg = build_config({"edge": {"horizon_min": 90}})
    assert label_horizon_min(cfg) == 90


def test_calendar_months() -> None:
    assert add_period(ms("2020-01-31"), "1M") == ms("2020-02-29")
    assert add_period(ms("2020-03-15"), "6M", -1) == ms("2019-09-15")
    assert add_period(ms("2020-01-01"), "90min") == ms("2020-01-01T01:30")


def test_six_by_one_month_schedule() -> None:
    folds = make_schedule(ms("2019-01-01"), ms("2020-01-01"), "6M", "1M", horizon_min=60)
    assert len(folds) == 6  # tests Jul, Aug, ..., Dec: the purge is cut from the training window
    assert folds[0].test_from == ms("2019-07-01")
    assert folds[0].train_to == ms("2019-06-30T23:00")
    assert folds[1].train_from == ms("2019-02-01")
    assert folds[1].test_from == ms("2019-08-01")
    assert folds[-1].test_to == ms("2020-01-01")


def test_eighteen_months_make_twelve_folds_and_nothing_is_dropped_silently() -> None:
    # regression: the 1-hour purge shifted every test window by an hour, so the last one (June 2020)
    # ended after 2020-07-01 and was dropped without a word (11 folds)
    folds = make_schedule(ms("2019-01-01"), ms("2020-07-01"), "6M", "1M", horizon_min=60)
    assert len(folds) == 12
    assert [f.test_from for f in folds] == [
        ms(f"{y}-{m:02d}-01") for y, m in [(2019, m) for m in range(7, 13)] + [(2020, m) for m in range(1, 7)]
    ]
    assert folds[-1].test_to == ms("2020-07-01")
    assert uncovered_tail(folds, ms("2020-07-01")) is None
    short = make_schedule(ms("2019-01-01"), ms("2020-06-20"), "6M", "1M", horizon_min=60)
    assert len(short) == 11
    tail = uncovered_tail(short, ms("2020-06-20"))
    assert tail is not None
    assert tail["from"] == ms("2020-06-01")
    assert "incomplete" in tail["note"]


@settings(max_examples=60, deadline=None)
@given(
    train_d=st.integers(5, 60),
    test_d=st.integers(1, 20),
    extra_step=st.integers(0, 5),
    purge=st.integers(60, 3000),
    anchored=st.booleans(),
)
def test_schedule_never_leaks(train_d: int, test_d: int, extra_step: int, purge: int, anchored: bool) -> None:
    folds = make_schedule(
        ms("2020-01-01"),
        ms("2021-01-01"),
        f"{train_d}D",
        f"{test_d}D",
        horizon_min=60,
        step=f"{test_d + extra_step}D",
        purge_min=purge,
        anchored=anchored,
    )
    for a in folds:
        assert a.test_from - a.train_to >= purge * MINUTE_MS >= 60 * MINUTE_MS
        assert a.train_to <= a.test_from
        assert a.test_to <= ms("2021-01-01")
    for a, b in zip(folds, folds[1:], strict=False):
        assert a.test_to <= b.test_from  # test windows never overlap
        assert b.train_to <= b.test_from


def test_purge_shorter_than_horizon_or_overlapping_steps_rejected() -> None:
    with pytest.raises(ValueError, match="purge"):
        make_schedule(ms("2020-01-01"), ms("2021-01-01"), "30D", "7D", horizon_min=60, purge_min=30)
    with pytest.raises(ValueError, match="overlap"):
        make_schedule(ms("2020-01-01"), ms("2021-01-01"), "30D", "7D", horizon_min=60, step="3D")


def test_check_schedule_catches_leaks() -> None:
    from backtest.folds import Fold

    h = 60 * MINUTE_MS
    with pytest.raises(AssertionError):
        check_schedule([Fold(0, 0, 10 * h, 10 * h + h // 2, 20 * h)], 60, 60, 60)  # purge 30 min < 60
    with pytest.raises(AssertionError):
        check_schedule([Fold(0, 0, 10 * h, 11 * h, 20 * h), Fold(1, 0, 18 * h, 19 * h, 30 * h)], 60, 60, 60)

"""Surprise mode: robust z from strictly earlier releases only, never active before the release."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from streams.data.calendar import read_calendar_csv
from streams.fx.pairs import KNOWN_PAIRS
from streams.stages.news import NewsConfig, NewsStage
from streams.stages.news.calendar_state import calendar_columns, surprise_scores
from tests.kit.news import calendar, ms, regime_batch, shared_calendar_csv

MIN = 60_000


def _series(surprises: list[float], title: str = "CPI m/m", currency: str = "USD") -> dict[str, np.ndarray]:
    days = pd.date_range("2020-01-01 13:30", periods=len(surprises), freq="7D")
    return calendar(
        [
            (str(i), str(d), currency, "high", title, 1.0 + s, 1.0)
            for i, (d, s) in enumerate(zip(days, surprises, strict=True))
        ]
    )


def test_z_by_hand() -> None:
    # past surprises 0.1,-0.1,0.2,0,-0.2,0.1: median 0.05, |dev| median 0.1 -> scale 0.14826
    z = surprise_scores(calendar_columns(_series([0.1, -0.1, 0.2, 0.0, -0.2, 0.1, 1.0])), 6)
    assert np.isnan(z[:6]).all()
    assert z[6] == pytest.approx(1.0 / 0.14826, rel=1e-9)
    # MAD 0 (4 of 6 equal): mean |dev| = 0.3/6 = 0.05 -> scale 0.062665
    z = surprise_scores(calendar_columns(_series([0, 0, 0, 0, 0.2, -0.1, 1.0])), 6)
    assert z[6] == pytest.approx(1.0 / 0.062665, rel=1e-9)
    assert np.isnan(surprise_scores(calendar_columns(_series([0.0] * 6 + [1.0])), 6)[6])  # no dispersion
    assert np.isnan(surprise_scores(calendar_columns(_series([0.1, -0.1, 0.2, 0.0, 1.0])), 6)[4])  # too short


def _reference_z(cal: pd.DataFrame, min_history: int) -> np.ndarray:
    """Independent z: for each event, a Python scan of the same indicator's earlier releases."""
    s = (cal.actual_value - cal.forecast_value).to_numpy()
    out = np.full(len(cal), np.nan)
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for c, t, ts, si in zip(cal.currency, cal.title, cal.ts, s, strict=True):
        groups.setdefault((c, t), []).append((ts, si))
    for i, (c, t, ts, si) in enumerate(zip(cal.currency, cal.title, cal.ts, s, strict=True)):
        past = [x for ts2, x in groups[(c, t)] if ts2 < ts and np.isfinite(x)]
        if not np.isfinite(si) or len(past) < min_history:
            continue
        med = statistics.median(past)
        dev = [abs(x - med) for x in past]
        scale = statistics.median(dev) * 1.4826 or statistics.fmean(dev) * 1.2533
        out[i] = si / scale if scale > 0 else np.nan
    return out


def _shared() -> dict[str, np.ndarray]:
    path = shared_calendar_csv()
    if not path.exists():
        pytest.skip(f"calendar file {path} absent (set HSLR_SHARED_DATA to the shared data folder)")
    return read_calendar_csv(path)


def test_z_matches_reference_on_real_calendar() -> None:
    st = NewsStage(calendar=_shared()).initial_state()
    cal = pd.DataFrame(st.calendar)
    ref = _reference_z(cal, 6)  # the history spans impact changes (US claims: low, then high in 2020)
    np.testing.assert_allclose(st.z, ref, rtol=1e-12, equal_nan=True)
    high = (cal.impact == "high").to_numpy()
    assert np.isfinite(ref[high]).sum() > 50
    assert (np.abs(np.nan_to_num(ref[high])) > 2).sum() > 20


def test_mode_sign_and_never_before_release() -> None:
    cfg = NewsConfig(surprise_min_history=2, surprise_window_min=60)
    hist = [
        ("h1", "2020-02-07T13:30", "USD", "high", "Non-Farm Employment Change", 2.0, 1.0),
        ("h2", "2020-02-14T13:30", "USD", "high", "Non-Farm Employment Change", 0.0, 1.0),
    ]
    big = ("e", "2020-03-06T13:30", "USD", "high", "Non-Farm Employment Change", 50.0, 1.0)
    stage = NewsStage(cfg, calendar=calendar([*hist, big]))
    st = stage.initial_state()
    release = ms("2020-03-06T13:30")
    ts = release + np.arange(-90, 91) * MIN
    for pair, sign in (("EURUSD", -1), ("USDJPY", 1), ("EURGBP", 0)):
        out = stage.adjust(st, regime_batch(np.full(len(ts), pair), ts, np.random.default_rng(0)))
        expected = np.where((ts >= release) & (ts <= release + 60 * MIN), sign, 0)
        np.testing.assert_array_equal(out["surprise_mode"], expected)
    jobless = NewsStage(
        cfg,
        calendar=calendar(
            [(i, d, c, imp, "Unemployment Rate", a, f) for i, d, c, imp, _, a, f in [*hist, big]]
        ),
    )
    out = jobless.adjust(
        jobless.initial_state(),
        regime_batch(np.array(["USDJPY"]), np.array([release]), np.random.default_rng(0)),
    )
    assert out["surprise_mode"][0] == -1  # more unemployment: the dollar is expected to weaken


def _reference_mode(cal: pd.DataFrame, z: np.ndarray, pair: str, t: int) -> int:
    """Net vote of the pair's own-currency surprises released in [t - 60 min, t]."""
    base, quote = pair[:3], pair[3:]
    total = 0
    for e_ts, cur, imp, title, ze in zip(cal.ts, cal.currency, cal.impact, cal.title, z, strict=True):
        if e_ts <= t <= e_ts + 60 * MIN and imp == "high" and abs(ze) > 2.0 and cur in (base, quote):
            flip = (
                -1
                if any(
                    k in title.lower()
                    for k in ("unemployment rate", "unemployment claims", "claimant count", "jobless")
                )
                else 1
            )
            total += int(np.sign(ze)) * (1 if cur == base else -1) * flip
    return int(np.sign(total))


def test_no_look_ahead_and_mode_matches_reference() -> None:
    cols = _shared()
    stage = NewsStage(calendar=cols)
    st = stage.initial_state()
    cal = pd.DataFrame(st.calendar)
    z_ref = _reference_z(cal, 6)
    rng = np.random.default_rng(11)
    fired = np.flatnonzero((np.abs(np.nan_to_num(z_ref)) > 2.0) & (cal.impact == "high").to_numpy())
    pick = rng.choice(fired, 1000)
    ts = (
        cal.ts.to_numpy()[pick]
        + np.concatenate([rng.integers(-70, 70, 800), rng.choice([-1, 0, 60, 61], 200)]) * MIN
    )
    known = np.array(KNOWN_PAIRS)
    pairs = np.array([rng.choice([p for p in known if c in p]) for c in cal.currency.to_numpy()[pick]])
    b = regime_batch(pairs, ts, rng)
    out = stage.adjust(st, b)
    fires = np.abs(np.nan_to_num(z_ref)) > 2.0  # only these can vote: keeps the scan short
    expected = [_reference_mode(cal[fires], z_ref[fires], p, t) for p, t in zip(pairs, ts, strict=True)]
    np.testing.assert_array_equal(out["surprise_mode"], expected)
    assert (out["surprise_mode"] != 0).mean() > 0.2
    # rewrite every actual released at or after a cut-off: nothing before it may change
    cut = int(np.median(ts))
    later = cols["ts"] >= cut
    changed = dict(cols, actual_value=np.where(later, rng.normal(0, 1e6, len(later)), cols["actual_value"]))
    stage2 = NewsStage(calendar=changed)
    st2 = stage2.initial_state()
    out2 = stage2.adjust(st2, b)
    before = ts < cut
    assert (out2["surprise_mode"][~before] != out["surprise_mode"][~before]).any()  # the rewrite matters
    assert out2.take(before).equals(out.take(before))
    early = st.calendar["ts"] < cut
    np.testing.assert_array_equal(st2.z[early], st.z[early])

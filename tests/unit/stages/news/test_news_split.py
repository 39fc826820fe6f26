"""Batch-split invariance of the news stage, for the primary input and for calendar updates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.batch import Batch, concat
from streams.core.stage import run_records
from streams.fx.pairs import KNOWN_PAIRS
from streams.runner.inprocess import run_inprocess
from streams.stages.news import NewsConfig, NewsStage
from tests.kit.news import ms, regime_batch

MIN = 60_000
T0 = ms("2020-03-02T00:00")
CFG = NewsConfig(surprise_min_history=2, override_impacts=("high", "medium"))


def _calendar(rng: np.random.Generator, n: int) -> Batch:
    """Random events over 2 days; ids repeat so later rows update earlier ones."""
    cur = np.array(["USD", "EUR", "JPY", "GBP", "CNY", "ALL", "CAD"])
    titles = np.array(["CPI m/m", "Unemployment Rate", "PMI"])
    forecast = rng.normal(size=n)
    return Batch(
        {
            "event_id": rng.integers(0, n // 2 + 1, n).astype(str),
            "ts": T0 + rng.integers(0, 2 * 1440, n) * MIN,
            "currency": cur[rng.integers(0, len(cur), n)],
            "impact": np.array(["high", "medium", "low"])[rng.integers(0, 3, n)],
            "title": titles[rng.integers(0, len(titles), n)],
            "actual_value": forecast + rng.normal(0, 1, n) * (rng.random(n) < 0.8),
            "forecast_value": forecast,
        }
    )


def _bars(rng: np.random.Generator, n: int) -> Batch:
    ts = np.sort(T0 + rng.integers(0, 2 * 1440, n) * MIN)
    return regime_batch(np.array(KNOWN_PAIRS)[rng.integers(0, len(KNOWN_PAIRS), n)], ts, rng)


def _split(b: Batch, cuts: list[int]) -> list[Batch]:
    edges = [0, *sorted({c % (b.n + 1) for c in cuts}), b.n]
    return [b.take(slice(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
    cal_cuts=st.lists(st.integers(0, 10_000), max_size=4),
)
def test_split_invariance(seed: int, cuts: list[int], cal_cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    cal, bars = _calendar(rng, 120), _bars(rng, 400)
    stage = NewsStage(CFG)
    whole_state, whole = stage.process(
        stage.process(stage.initial_state(), "calendar", cal)[0], "regime", bars
    )
    state = stage.initial_state()
    for part in _split(cal, cal_cuts):
        state = stage.process(state, "calendar", part)[0]
    outs = []
    for part in _split(bars, cuts):
        state, out = stage.process(state, "regime", part)
        outs.append(out["regime.adjusted"])
    assert concat(outs).equals(whole["regime.adjusted"])
    assert whole["regime.adjusted"]["event_override"].any()  # the calendar really bites
    # the calendar given at construction is the same as the calendar received on the topic
    preloaded = NewsStage(CFG, calendar=cal)
    assert preloaded.adjust(preloaded.initial_state(), bars).equals(whole["regime.adjusted"])


def test_per_record_path_and_inprocess_runner_agree() -> None:
    rng = np.random.default_rng(2)
    cal, bars = _calendar(rng, 80), _bars(rng, 150)
    stage = NewsStage(CFG)
    state = stage.process(stage.initial_state(), "calendar", cal)[0]
    _, per_record = run_records(stage, state, "regime", bars)
    vectorised = stage.adjust(state, bars)
    assert per_record["regime.adjusted"].equals(vectorised)
    replay = run_inprocess([stage], {"calendar": cal, "regime": bars}, chunk=37)
    assert replay["regime.adjusted"].equals(vectorised)


def test_state_survives_a_checkpoint_round_trip() -> None:
    from streams.core import state_codec

    rng = np.random.default_rng(4)
    cal, bars = _calendar(rng, 60), _bars(rng, 100)
    stage = NewsStage(CFG, calendar=cal)
    state = stage.initial_state()
    restored = state_codec.loads(state_codec.dumps(state))
    assert stage.adjust(restored, bars).equals(stage.adjust(state, bars))
    empty = NewsStage(CFG)
    out = empty.adjust(state_codec.loads(state_codec.dumps(empty.initial_state())), bars)
    assert not out["event_override"].any()
    assert set(out["override_reason"]) == {""}

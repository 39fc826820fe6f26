"""The one-bar-per-pair fast path equals the per-pair path bit for bit, outputs and states."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

import streams.stages.features.stage as stage_module
from streams.core.batch import Batch
from streams.core.state_codec import dumps, loads
from streams.data.synth import generate_market
from streams.stages.features import FeaturesStage, FeaturesState
from streams.stages.features.one_bar import fits, one_bar_step
from streams.stages.features.windows import last_window_sums, window_sums
from tests.unit.stages.features.helpers import SMALL, market

PAIRS = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF"]


def test_last_window_sums_sums_in_window_sums_order() -> None:
    # Magnitudes 1e16 apart make every summation order round differently: only the same order matches.
    rng = np.random.default_rng(3)
    for w in (2, 3, 5, 8, 30):
        series = rng.choice([1e16, -1e16, 1.0, 3.0, -0.0, 0.5], size=(200, w)) * rng.random((200, w))
        p = rng.integers(0, 10 * w, size=200)
        got = last_window_sums(series, p % w)
        want = [window_sums(row, int(pos) - w + 1, w)[-1] for row, pos in zip(series, p, strict=True)]
        assert got.tobytes() == np.array(want).tobytes()
        if w >= 5:  # the order does matter for these values
            assert not np.array_equal(got, series.sum(axis=1))


def _adversarial(seed: int) -> Batch:
    """Bars with gaps, holes, a late pair, NaN and zero spreads, flat mids and repeated values."""
    # SMALL: resets after 10 missing minutes, sessions folded from 5 bars, spread median of 6 bars
    bars = market("2019-03-06 16:00", "2019-03-07 22:00", seed=seed, pairs=PAIRS)
    rng = np.random.default_rng(seed)
    cols = {k: np.array(bars[k]) for k in bars}
    late = (cols["pair"] == "USDCHF") & (cols["ts"] < cols["ts"][0] + 300 * 60_000)
    keep = ~late  # a pair whose first bars come hours after the others'
    n = len(keep)
    spread = cols["spread"]
    spread[rng.random(n) < 0.01] = np.nan
    spread[rng.random(n) < 0.01] = 0.0
    flat = (cols["pair"] == "AUDUSD") & (rng.random(n) < 0.3)  # repeated mids: displacement ties
    for k in ("open", "high", "low", "close"):
        cols[k][flat] = 0.7
    spread[flat] = 1e-4
    cols["close"][(cols["pair"] == "GBPUSD") & (rng.random(n) < 0.005)] = np.nan  # poisons its sessions
    usdjpy = np.flatnonzero(cols["pair"] == "USDJPY")
    spread[usdjpy[600:620]] = 0.0  # a zero median spread
    eurusd = np.flatnonzero(cols["pair"] == "EURUSD")
    for i, run in enumerate((4, 5, 6, 5, 5, 4, 5) * 3):  # segments of about session_min_bars bars
        keep[eurusd[900 + 20 * i + run : 900 + 20 * (i + 1)]] = False
    return Batch({k: v[keep] for k, v in cols.items()})


def _run(stage: FeaturesStage, bars: Batch, cuts: list[int]) -> tuple[FeaturesState, Batch]:
    state, parts = stage.initial_state(), []
    edges = [0, *cuts, bars.n]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        state, out = stage.process(state, "bars.clean", bars.take(slice(a, b)))
        parts.append(out["features"])
    return state, Batch({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def _minute_cuts(bars: Batch, rng: np.random.Generator) -> list[int]:
    # every minute its own batch, except a few batches of several minutes (more than one bar per pair)
    starts = np.flatnonzero(np.diff(bars["ts"]) > 0) + 1
    return sorted(set(starts[rng.random(len(starts)) > 0.03].tolist()))


def _assert_same(a: tuple[FeaturesState, Batch], b: tuple[FeaturesState, Batch]) -> None:
    assert list(a[1]) == list(b[1])
    for k in a[1]:
        x, y = np.asarray(a[1][k]), np.asarray(b[1][k])
        assert x.dtype == y.dtype, k
        assert x.tobytes() == y.tobytes(), k
    assert pickle.dumps(a[0], protocol=5) == pickle.dumps(b[0], protocol=5)


def _both_paths(
    stage: FeaturesStage, bars: Batch, cuts: list[int], monkeypatch: pytest.MonkeyPatch
) -> tuple[FeaturesState, Batch]:
    """Run the same batches through the fast path and through the per-pair path; assert equality."""
    calls: list[int] = []

    def spy(*args: Any) -> Any:
        calls.append(1)
        return one_bar_step(*args)

    with monkeypatch.context() as m:
        m.setattr(stage_module, "one_bar_step", spy)
        fast = _run(stage, bars, cuts)
        assert len(calls) > 0.9 * len(cuts)  # the fast path ran on (almost) every minute
        m.setattr(stage_module, "fits", lambda *_: False)
        calls.clear()
        slow = _run(stage, bars, cuts)
        assert not calls
    _assert_same(fast, slow)
    return fast


def test_fast_path_equals_per_pair_path(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = 1
    bars = _adversarial(seed)
    fast = _both_paths(
        FeaturesStage(SMALL), bars, _minute_cuts(bars, np.random.default_rng(seed)), monkeypatch
    )
    out = fast[1]
    # the inputs reach every branch: ready rows, resets, NaN features, ties, folded sessions
    assert out["ready"].sum() > 200
    assert (out["gap_min"] > SMALL.max_gap_min).sum() >= 10
    assert np.isnan(out["spread_widening"][out["ready"] | (out["gap_min"] == 1)]).any()
    assert np.isfinite(out["session_vol_norm"]).sum() > 300
    assert np.isfinite(out["xcorr"]).sum() > 3000
    assert set(np.unique(out["session_id"]).tolist()) == {0, 1, 2, 3, 4}
    pct = out["displacement_pct"][np.isfinite(out["displacement_pct"])]
    assert np.any((pct * (SMALL.pct_window - 1)) % 1 != 0)  # a tie's half rank


def test_fast_path_continues_a_per_pair_checkpoint() -> None:
    # a checkpoint written by the per-pair path (multi-bar batches) loads and continues in minute batches
    stage = FeaturesStage(SMALL)
    bars = _adversarial(5)
    half = int(np.searchsorted(bars["ts"], bars["ts"][bars.n // 2]))
    state, _ = _run(stage, bars.take(slice(0, half)), [])
    state = loads(dumps(state))
    rest = bars.take(slice(half, bars.n))
    cont = _run_from(stage, state, rest, _minute_cuts(rest, np.random.default_rng(5)))
    whole = _run(stage, bars, [])
    assert cont.equals(whole[1].take(slice(half, bars.n)))


def _run_from(stage: FeaturesStage, state: FeaturesState, bars: Batch, cuts: list[int]) -> Batch:
    edges, parts = [0, *cuts, bars.n], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        state, out = stage.process(state, "bars.clean", bars.take(slice(a, b)))
        parts.append(out["features"])
    return Batch({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


def test_only_tails_sized_for_the_config_are_stacked() -> None:
    bars = _adversarial(4).take(slice(0, 300))
    mine, _ = _run(FeaturesStage(SMALL), bars, [])
    other, _ = _run(FeaturesStage(SMALL.model_copy(update={"vol_window": 7})), bars, [])
    assert fits(list(mine.pairs.values()), SMALL)
    assert not fits(list(other.pairs.values()), SMALL)


def test_default_config_fast_path_equals_per_pair_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = Batch(generate_market(PAIRS, "2019-03-06 18:00", "2019-03-07 06:00", seed=9).bars)
    _, out = _both_paths(FeaturesStage(), bars, _minute_cuts(bars, np.random.default_rng(0)), monkeypatch)
    assert np.isfinite(out["displacement_pct"]).sum() > 1000  # the longest windows full (ready needs days)

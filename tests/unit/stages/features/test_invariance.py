"""Batch-split invariance, per-record parity and absence of look-ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.batch import Batch, concat
from streams.core.stage import run_records
from streams.stages.features import FeaturesStage
from tests.kit.runner import Runner, same
from tests.unit.stages.features.helpers import SMALL, market, run_chunks

STAGE = FeaturesStage(SMALL)
BARS = market("2019-03-08 12:00", "2019-03-11 06:00", seed=11, pairs=["EURUSD", "GBPUSD", "USDJPY"])
WHOLE = run_chunks(STAGE, BARS, [])
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_run_mode_gives_the_outputs_of_one_batch(runner: Runner) -> None:
    head = BARS.take(slice(0, 1200))
    assert same(run_chunks(STAGE, head, []), runner(STAGE, [("bars.clean", head)])[1]["features"])


def test_whole_run_is_nontrivial() -> None:
    assert WHOLE["ready"].sum() > 500
    assert np.isfinite(WHOLE["xcorr"]).sum() > 500


@SETTINGS
@given(st.lists(st.integers(1, BARS.n - 1), min_size=1, max_size=30))
def test_outputs_do_not_depend_on_batch_boundaries(cuts: list[int]) -> None:
    assert run_chunks(STAGE, BARS, cuts).equals(WHOLE)  # bit-identical, NaN == NaN


def test_per_record_path_equals_vectorised_path() -> None:
    part = BARS.take(slice(0, 700))
    _, out = run_records(STAGE, STAGE.initial_state(), "bars.clean", part)
    assert out["features"].equals(WHOLE.take(slice(0, 700)))


def test_state_is_not_mutated_by_processing() -> None:
    state, _ = STAGE.process(STAGE.initial_state(), "bars.clean", BARS.take(slice(0, 900)))
    before = {
        p: (s.gkv_tail.copy(), s.disp_tail.copy(), s.session.ref.copy()) for p, s in state.pairs.items()
    }
    xret = state.xcorr.ret.copy()
    STAGE.process(state, "bars.clean", BARS.take(slice(900, 2000)))
    for p, s in state.pairs.items():
        for a, b in zip(before[p], (s.gkv_tail, s.disp_tail, s.session.ref), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(xret, state.xcorr.ret)


def _perturb_after(bars: Batch, i: int, seed: int, drop: bool) -> Batch:
    rng = np.random.default_rng(seed)
    k = bars.n - i - 1
    scale = np.concatenate([np.ones(i + 1), np.exp(rng.normal(0, 0.01, k))])
    cols = {c: bars[c] * scale for c in ("open", "high", "low", "close")}
    cols["spread"] = bars["spread"] * np.concatenate([np.ones(i + 1), rng.uniform(0.2, 5, k)])
    cols["volume"] = np.concatenate([bars["volume"][: i + 1], rng.integers(0, 50, k).astype(float)])
    altered = bars.with_columns(**cols)
    if drop:
        keep = np.concatenate([np.ones(i + 1, bool), rng.random(k) > 0.3])
        altered = altered.take(keep)
    return altered


@SETTINGS
@given(st.integers(0, BARS.n - 2), st.integers(0, 2**32 - 1), st.booleans())
def test_no_feature_at_t_changes_when_later_bars_change(i: int, seed: int, drop: bool) -> None:
    out = run_chunks(STAGE, _perturb_after(BARS, i, seed, drop), [])
    assert out.take(slice(0, i + 1)).equals(WHOLE.take(slice(0, i + 1)))


def test_xcorr_ignores_other_pairs_bars_of_the_same_minute() -> None:
    # (p, t) may be processed before or after the other pairs' bars of minute t: they must not matter.
    ts = BARS["ts"]
    t = ts[ts.searchsorted(ts[1500])]
    same = np.flatnonzero(ts == t)
    for row in same:
        others = same[same != row]
        cols = {c: BARS[c].copy() for c in ("open", "high", "low", "close")}
        for c in cols:
            cols[c][others] *= 1.01
        out = run_chunks(STAGE, BARS.with_columns(**cols), [])
        assert np.isfinite(WHOLE["xcorr"][row])
        assert out["xcorr"][row] == WHOLE["xcorr"][row]


def test_minute_split_across_batches_is_invariant() -> None:
    ts = BARS["ts"]
    inside = [int(i) for i in np.flatnonzero(ts[1:] == ts[:-1])[::97] + 1]
    assert len(inside) > 10
    assert run_chunks(STAGE, BARS, inside).equals(WHOLE)


@pytest.mark.parametrize("size", [1, 7, 250])
def test_fixed_chunk_sizes_are_invariant(size: int) -> None:
    part = BARS.take(slice(0, 1200))
    out = run_chunks(STAGE, part, list(range(size, part.n, size)))
    assert out.equals(WHOLE.take(slice(0, 1200)))
    assert concat([out]).n == 1200


def test_state_survives_a_checkpoint_round_trip() -> None:
    from streams.core import state_codec

    state, first = STAGE.process(STAGE.initial_state(), "bars.clean", BARS.take(slice(0, 1500)))
    restored = state_codec.loads(state_codec.dumps(state))
    _, rest = STAGE.process(restored, "bars.clean", BARS.take(slice(1500, BARS.n)))
    assert concat([first["features"], rest["features"]]).equals(WHOLE)

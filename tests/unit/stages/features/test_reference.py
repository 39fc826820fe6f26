"""The incremental stage equals an independent pandas computation of every feature."""

from __future__ import annotations

import numpy as np
import pytest

from streams.stages.features import FeaturesStage
from tests.unit.stages.features.helpers import FEATURES, SMALL, market, reference, run_chunks


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    bars = market()
    rng = np.random.default_rng(3)
    cuts = sorted(rng.integers(1, bars.n, size=40).tolist())
    out = run_chunks(FeaturesStage(SMALL), bars, cuts)
    return bars, out, reference(bars, SMALL)


def test_market_has_gaps_weekend_and_several_pairs(data) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = data
    assert len(np.unique(out["pair"])) == 4
    assert (out["gap_min"] > SMALL.max_gap_min).sum() >= 12  # resets: the weekend and the long holes
    assert ((out["gap_min"] > 1) & (out["gap_min"] <= SMALL.max_gap_min)).sum() > 100  # short gaps


@pytest.mark.parametrize("name", [f for f in [*FEATURES, "mid"] if f != "displacement_pct"])
def test_feature_equals_pandas_reference(data, name: str) -> None:  # type: ignore[no-untyped-def]
    _, out, ref = data
    got, want = out[name], ref[name].to_numpy(dtype=float)
    assert np.isfinite(want).mean() > 0.5  # the comparison covers real values, not only NaN
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, equal_nan=True)


def test_ids_gaps_and_ready_equal_reference(data) -> None:  # type: ignore[no-untyped-def]
    _, out, ref = data
    np.testing.assert_array_equal(out["gap_min"], ref["gap_min"].to_numpy())
    np.testing.assert_array_equal(out["session_id"], ref["session_id"].to_numpy())
    np.testing.assert_array_equal(out["ready"], ref["ready"].to_numpy())
    assert 0.3 < out["ready"].mean() < 0.99


def test_carries_bar_fields(data) -> None:  # type: ignore[no-untyped-def]
    bars, out, _ = data
    for k in bars:
        np.testing.assert_array_equal(out[k], bars[k])


def test_displacement_pct_equals_reference_except_floating_point_ties(data) -> None:  # type: ignore[no-untyped-def]
    # Quantised prices make some displacements exactly equal (e.g. 0 when mid has not moved); the two
    # implementations round those ties differently at 1e-16, so ranks may differ only where the window
    # holds a value within 1e-9 of the current one.
    _, out, ref = data
    got, want = out["displacement_pct"], ref["displacement_pct"].to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    bad = np.flatnonzero(np.abs(np.nan_to_num(got) - np.nan_to_num(want)) > 1e-9)
    assert len(bad) < 0.002 * len(got)
    disp, pair, m = ref["displacement"].to_numpy(), ref["pair"].to_numpy(), SMALL.pct_window
    for i in bad:
        window = disp[np.flatnonzero(pair[: i + 1] == pair[i])[-m:]]
        assert np.sort(np.abs(window - disp[i]))[1] < 1e-9

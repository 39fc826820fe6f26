"""Cost, gate labels and training targets, against hand-computed and pandas references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.stages.edge.gates import GATES, blocked_labels, round_trip_cost
from streams.stages.edge.targets import forward_trade_returns, trade_side


def test_round_trip_cost_by_hand() -> None:
    # EURUSD mid 1.1, spread 1 pip: one full spread 0.0001 / 1.1 = 9.0909e-5; commission 0.2 bp and
    # slippage 0.1 bp per leg add 2 * 0.3e-4 = 6e-5.
    c = round_trip_cost(np.array([1e-4]), np.array([1.1]), 1.0, 0.2, 0.1)
    assert c[0] == pytest.approx(1e-4 / 1.1 + 6e-5)


def test_blocked_labels_by_hand() -> None:
    passed, labels = blocked_labels(
        {"cvar": np.array([True, False, False]), "warmup": np.array([True, False, True])}, 3
    )
    assert passed.tolist() == [False, True, False]
    assert labels.tolist() == ["warmup,cvar", "", "warmup"]
    with pytest.raises(ValueError, match="unknown gate"):
        blocked_labels({"ou": np.array([True])}, 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=len(GATES), max_size=len(GATES)), min_size=1, max_size=20))
def test_blocked_labels_match_per_row_join(rows: list[list[bool]]) -> None:
    m = np.array(rows)
    passed, labels = blocked_labels({g: m[:, i] for i, g in enumerate(GATES)}, len(rows))
    expect = [",".join(g for g, b in zip(GATES, r, strict=True) if b) for r in rows]
    assert labels.tolist() == expect
    assert passed.tolist() == [not any(r) for r in rows]


def test_forward_trade_returns_against_pandas() -> None:
    rng = np.random.default_rng(0)
    ts = np.arange(200, dtype=np.int64) * 60_000
    pairs = np.array(["EURUSD", "USDJPY"])
    keep = rng.random(400) > 0.1  # gaps
    df = pd.DataFrame({"pair": np.repeat(pairs, 200), "ts": np.tile(ts, 2)})[keep]
    df["mid"] = np.exp(rng.normal(0, 0.01, len(df)))
    df["disp"] = rng.normal(size=len(df))
    df = df.sample(frac=1.0, random_state=1)  # order must not matter
    got = forward_trade_returns(
        df["pair"].to_numpy(), df["ts"].to_numpy(), df["mid"].to_numpy(), df["disp"].to_numpy(), 5
    )
    exit_ = df.assign(ts=df["ts"] - 5 * 60_000)[["pair", "ts", "mid"]].rename(columns={"mid": "exit"})
    ref = df.merge(exit_, on=["pair", "ts"], how="left")
    expect = -np.sign(ref["disp"]) * np.log(ref["exit"] / ref["mid"])
    np.testing.assert_allclose(got, expect.to_numpy(), equal_nan=True)
    # Purge: the last 5 minutes of the window have no exit bar inside it.
    assert np.isnan(got[df["ts"].to_numpy() > ts[-1] - 5 * 60_000]).all()


def test_trade_side_and_gap_tolerance() -> None:
    assert trade_side(np.array([2.0, -0.5, 0.0, np.nan])).tolist() == [-1, 1, 0, 0]
    ts = np.array([0, 60_000, 180_000], dtype=np.int64)  # bar at t = 2 min missing
    r = forward_trade_returns(np.full(3, "EURUSD"), ts, np.array([1.0, 1.1, 1.2]), np.array([-1.0] * 3), 2, 1)
    # From t = 0 the exit falls back one minute to the bar at 1 min; from 1 min the exit at 3 min exists.
    np.testing.assert_allclose(r, [np.log(1.1), np.log(1.2 / 1.1), np.nan])

"""Execution-priced edge model: purged CV, skill check against a constant, the stage's no_skill gate."""

from __future__ import annotations

import numpy as np
import pytest

from models.exec_edge import (
    EdgeCandidate,
    ExecEdgeModel,
    brier_gain_bound,
    candidate_win_er,
    purged_blocks,
)
from models.execution import FillModel, Trades
from streams.stages.edge import EdgeConfig, EdgeStage
from tests.kit.regime_adjusted import regime_adjusted

M = 60_000
CANDS = (EdgeCandidate("knn", 50), EdgeCandidate("knn", 200), EdgeCandidate("kde", 200, 0.1))


def _features(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.stack(
        [rng.random(n), rng.lognormal(0, 0.3, n), rng.lognormal(0, 0.2, n), rng.integers(0, 5, n)], axis=1
    )


def _fill(n: int) -> FillModel:
    ones = np.ones(n)
    t = Trades(np.ones(n, bool), ones, np.zeros(n), np.full(n, 1e-5), np.zeros((n, 3)))
    return FillModel().fit(np.zeros(n), ones, ones, t)


def _fit(y_of: object, seed: int) -> ExecEdgeModel:
    rng = np.random.default_rng(seed)
    n = 6000
    X = _features(n, rng)
    y = y_of(X, rng)  # type: ignore[operator]
    ts = np.arange(n, dtype=np.int64) * M
    m = ExecEdgeModel(CANDS, base_params={"min_session_rows": 500}, n_blocks=3, purge_ms=60 * M)
    m.fit_pair("GBPUSD", X, ts, _fill(n), np.ones(n, bool), y)
    return m


def test_purged_blocks_leave_a_gap_around_each_test_block() -> None:
    ts = np.arange(300, dtype=np.int64) * M
    for train, test in purged_blocks(ts, 3, 10 * M):
        assert not (train & test).any()
        lo, hi = ts[test].min(), ts[test].max()
        assert not ((ts[train] >= lo - 10 * M) & (ts[train] <= hi + 10 * M)).any()


def test_candidate_weights_by_hand() -> None:
    dist = np.array([[0.0, 0.1, 0.2]])
    ys = np.array([[1.0, -1.0, 2.0]])
    wp, er = candidate_win_er(EdgeCandidate("knn", 2), dist, ys)
    assert wp[0] == pytest.approx(0.5)
    assert er[0] == pytest.approx(0.0)
    w = np.exp(-0.5 * np.array([0.0, 0.01, 0.04]) / 0.1**2)
    wp3, er3 = candidate_win_er(EdgeCandidate("kde", 3, 0.1), dist, ys)
    assert wp3[0] == pytest.approx((w[0] + w[2]) / w.sum())
    assert er3[0] == pytest.approx((w[0] - w[1] + 2 * w[2]) / w.sum())


def test_brier_gain_bound_by_hand() -> None:
    win = np.array([1.0, 0.0] * 20)
    const = np.full(40, 0.5)
    perfect = win.copy()
    gain, lower = brier_gain_bound(perfect, const, win, n_chunks=4)
    assert gain == pytest.approx(0.25)
    assert lower == pytest.approx(0.25)
    gain0, _ = brier_gain_bound(const, const, win, n_chunks=4)
    assert gain0 == 0.0


def test_noise_fails_the_skill_check_and_signal_passes() -> None:
    noise = _fit(lambda X, rng: rng.normal(-1e-4, 1e-4, len(X)), seed=1)
    pe = noise.pairs_["GBPUSD"]
    assert not pe.trade_ok
    cv = pe.skill["cv"]
    assert cv["chosen_calibrated"]["brier_gain_lower95"] <= 0.0
    assert set(cv) >= {"constant", "knn-k50", "knn-k200", "kde-k200-bw0.1", "chosen_calibrated"}
    signal = _fit(lambda X, rng: (X[:, 0] - 0.5) * 4e-4 + rng.normal(0, 1e-4, len(X)), seed=2)
    ps = signal.pairs_["GBPUSD"]
    assert ps.trade_ok
    assert ps.skill["cv"]["chosen_calibrated"]["brier"] < ps.skill["cv"]["constant"]["brier"]
    assert ps.skill["cv_ic"] > 0.3


def test_stage_blocks_a_pair_without_skill_and_prices_the_execution() -> None:
    noise = _fit(lambda X, rng: rng.normal(-1e-4, 1e-4, len(X)), seed=1)
    signal = _fit(lambda X, rng: (X[:, 0] - 0.5) * 4e-4 + rng.normal(0, 1e-4, len(X)), seed=2)
    model = ExecEdgeModel(CANDS)
    model.pairs_ = {"EURUSD": noise.pairs_["GBPUSD"], "GBPUSD": signal.pairs_["GBPUSD"]}
    batch = regime_adjusted(400, seed=5)
    cfg = EdgeConfig(horizon_min=30, ou_window=120, ou_min_points=60)
    out = EdgeStage(cfg, model).process(EdgeStage(cfg).initial_state(), "regime.adjusted", batch)[1][
        "signals"
    ]
    pairs = out["pair"].astype(str)
    have = np.isfinite(out["expected_return"])
    assert all("no_skill" in s for s in out["blocked_by"][(pairs == "EURUSD") & have])
    assert not any("no_skill" in s for s in out["blocked_by"][pairs == "GBPUSD"])
    # cost is the model's P(fill) x E[exit cost] (1e-5 per fill, P(fill) 1 here), not the spread
    assert np.allclose(out["cost"][have], 1e-5)


def test_require_skill_false_lifts_only_the_no_skill_gate() -> None:
    noise = _fit(lambda X, rng: rng.normal(-1e-4, 1e-4, len(X)), seed=1)
    model = ExecEdgeModel(CANDS)
    model.pairs_ = {"EURUSD": noise.pairs_["GBPUSD"], "GBPUSD": noise.pairs_["GBPUSD"]}
    batch = regime_adjusted(200, seed=6)
    cfg = EdgeConfig(horizon_min=30, ou_window=120, ou_min_points=60, require_skill=False)
    out = EdgeStage(cfg, model).process(EdgeStage(cfg).initial_state(), "regime.adjusted", batch)[1][
        "signals"
    ]
    assert not any("no_skill" in s for s in out["blocked_by"])


def test_a_batch_without_a_finite_prediction_is_priced_as_nan_not_raised() -> None:
    # regression: the calibrator was called on an empty array when no row of a pair had a finite win
    # probability; scikit-learn raised, the Kafka binding dead-lettered the batch and HALTed (the demo
    # logged 1,884 such halts)
    signal = _fit(lambda X, rng: (X[:, 0] - 0.5) * 4e-4 + rng.normal(0, 1e-4, len(X)), seed=2)
    X = np.full((3, 4), np.nan)
    out = signal.predict_execution(X, np.array(["GBPUSD"] * 3))
    assert np.isnan(out["win_prob"]).all()
    assert len(out["expected_return"]) == 3
    empty = signal.predict_execution(np.zeros((0, 4)), np.array([], dtype=str))
    assert all(len(v) == 0 for v in empty.values())

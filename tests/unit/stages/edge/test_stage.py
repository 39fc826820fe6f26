"""Edge stage: batch-split invariance, schema encoding, gate semantics, OU never creates entries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.edge import EdgeModel
from streams.core.batch import Batch
from streams.serde.avro import AvroCodec
from streams.stages.edge import EdgeConfig, EdgeStage
from streams.stages.edge.stage import MODEL_FEATURES
from streams.stages.edge.targets import forward_trade_returns
from tests.kit.regime_adjusted import regime_adjusted
from tests.kit.runner import Runner, pieces, run, same

CFG = EdgeConfig(horizon_min=10, ou_window=120, ou_min_points=60, cvar_limit=0.01, safety_factor=0.5)


@pytest.fixture(scope="module")
def data() -> Batch:
    return regime_adjusted(1500, seed=11)


@pytest.fixture(scope="module")
def model(data: Batch) -> EdgeModel:
    train = regime_adjusted(4000, seed=12)
    y = forward_trade_returns(train["pair"], train["ts"], train["mid"], train["displacement"], 10)
    X = np.stack([train[k].astype(float) for k in MODEL_FEATURES], axis=1)
    return EdgeModel(n_neighbors=100, horizon_min=10, min_session_rows=500).fit(X, y)


def _signals(stage: EdgeStage, batch: Batch, cuts: list[int]) -> Batch:
    return run(stage, [("regime.adjusted", b) for b in pieces(batch, cuts)])[1]["signals"]


def test_every_run_mode_gives_the_outputs_of_one_batch(data: Batch, model: EdgeModel, runner: Runner) -> None:
    stage, head = EdgeStage(CFG, model), data.take(slice(0, 800))
    assert same(_signals(stage, head, []), runner(stage, [("regime.adjusted", head)])[1]["signals"])


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=5))
def test_batch_split_invariance(data: Batch, model: EdgeModel, cuts: list[int]) -> None:
    stage = EdgeStage(CFG, model)
    assert _signals(stage, data, cuts).equals(_signals(stage, data, []))


def test_outputs_encode_and_gates_are_consistent(data: Batch, model: EdgeModel) -> None:
    out = _signals(EdgeStage(CFG, model), data, [])
    assert len(AvroCodec("signal").encode_batch(out)) == data.n
    passed, why = out["passed"], out["blocked_by"]
    assert np.array_equal(passed, why == "")
    assert passed.any()
    assert (~passed).any()
    ok = out["passed"]
    # Every passed row satisfies every entry rule, checked directly from the columns.
    assert np.all(out["expected_return"][ok] > out["cost"][ok] * CFG.safety_factor)
    assert np.all(out["win_prob"][ok] > 0.55)
    assert np.all(out["cvar"][ok] >= -CFG.cvar_limit)
    assert np.all(out["ready"][ok] & out["tradeable"][ok] & ~out["event_override"][ok])
    assert np.all((out["surprise_mode"][ok] == 0) & out["ou_valid"][ok] & (out["side"][ok] != 0))
    assert np.all(out["half_life_min"][ok] <= CFG.max_half_life_min)
    # Each blocked reason names a rule that really fails.
    for gate, fails in {
        "regime": ~out["tradeable"],
        "news": out["event_override"],
        "surprise": out["surprise_mode"] != 0,
        "win_prob": out["win_prob"] <= 0.55,
    }.items():
        named = np.array([gate in s.split(",") for s in why])
        assert np.array_equal(named, fails & np.isfinite(out["win_prob"]) if gate == "win_prob" else fails)
    np.testing.assert_array_equal(out["side"], -np.sign(data["displacement"]).astype(int))
    assert (out["horizon_min"] == 10).all()


def test_ou_never_generates_entries(data: Batch, model: EdgeModel) -> None:
    """Changing only OU settings (which only change ou_* fields) can turn passed False, never True."""
    lenient = EdgeConfig(**{**CFG.model_dump(), "max_half_life_min": math.inf, "block_invalid_ou": False})
    base = _signals(EdgeStage(lenient, model), data, [])
    assert not any("ou_slow" in s for s in base["blocked_by"])
    flips = 0
    for window, limit in [(60, 5.0), (120, 30.0), (400, 1e9), (30, 0.5)]:
        strict = EdgeConfig(
            **{**CFG.model_dump(), "ou_window": window, "ou_min_points": 20, "max_half_life_min": limit}
        )
        out = _signals(EdgeStage(strict, model), data, [])
        assert not np.any(out["passed"] & ~base["passed"])  # no False -> True flip
        for k in ("expected_return", "win_prob", "cvar", "n_eff", "side", "cost"):
            np.testing.assert_array_equal(out[k], base[k])
        flipped = base["passed"] & ~out["passed"]
        assert all("ou_slow" in s for s in out["blocked_by"][flipped])
        flips += int(flipped.sum())
    assert flips > 0  # the strict settings really do block some entries


def test_without_model_everything_is_warmup(data: Batch) -> None:
    out = _signals(EdgeStage(CFG), data, [7])
    assert not out["passed"].any()
    assert all(s.split(",")[0] == "warmup" for s in out["blocked_by"])
    assert np.isnan(out["expected_return"]).all()


def test_model_horizon_must_match(model: EdgeModel) -> None:
    with pytest.raises(ValueError, match="horizon"):
        EdgeStage(EdgeConfig(horizon_min=30), model)


def test_dag_registration_builds_from_config() -> None:
    from streams.config import build_config
    from streams.dag import build_stages

    [stage] = build_stages(build_config({"edge": {"horizon_min": 15, "model_path": ""}}), only=["edge"])
    assert stage.spec.inputs == ("regime.adjusted",)
    assert stage.spec.outputs == ("signals",)


def test_signal_schema_carries_regime_adjusted_fields() -> None:
    import json

    from streams.serde.avro import SCHEMA_DIR

    up = json.loads((SCHEMA_DIR / "regime_adjusted.avsc").read_text())["fields"]
    mine = json.loads((SCHEMA_DIR / "signal.avsc").read_text())["fields"]
    assert [(f["name"], f["type"]) for f in mine[: len(up)]] == [(f["name"], f["type"]) for f in up]
    assert all(f.get("doc") for f in mine)

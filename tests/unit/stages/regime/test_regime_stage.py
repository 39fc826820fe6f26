"""Regime stage: outputs, fail-safe for unready bars, batch-split invariance, schema, artifact loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config import HSLRConfig
from streams.core.batch import Batch, concat
from streams.dag import build_stages
from streams.serde.avro import AvroCodec
from streams.stages.regime import RegimeConfig, RegimeStage

FIELDS = (
    "session_vol_norm",
    "spread_widening",
    "tick_velocity",
    "displacement",
    "displacement_pct",
    "log_ret",
    "gk_vol",
    "xcorr",
)


class FixedModel:
    """Returns a preset probability row per input row, keyed by the rounded session_vol_norm."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.table[X[:, 0].astype(int)]


def _features(n: int, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    cols = {f: rng.normal(size=n) for f in FIELDS}
    cols["session_vol_norm"] = rng.integers(0, 4, size=n).astype(float)
    cols["spread_widening"] = rng.choice([0.8, 1.0, 3.0, 5.0], size=n)  # 5.0: a spread shock
    cols.update(
        pair=np.where(np.arange(n) % 2, "EURUSD", "GBPUSD"),
        ts=1_546_300_800_000 + np.arange(n) // 2 * 60_000,
        open=np.full(n, 1.1),
        high=np.full(n, 1.2),
        low=np.full(n, 1.0),
        close=np.full(n, 1.1),
        spread=np.full(n, 1e-4),
        mid=np.full(n, 1.10005),
        gap_min=np.ones(n, dtype=np.int32),
        ready=rng.random(n) > 0.2,
        session_id=rng.integers(0, 5, size=n).astype(np.int32),
    )
    return Batch(cols)


TABLE = np.array([[0.9, 0.05, 0.05], [0.65, 0.3, 0.05], [0.34, 0.33, 0.33], [0.1, 0.1, 0.8]])


def _stage(**cfg: float) -> RegimeStage:
    return RegimeStage(RegimeConfig(**cfg), model=FixedModel(TABLE), model_version="v-test")


def test_outputs_follow_the_documented_rule() -> None:
    b = _features(200)
    _, out = _stage(p_threshold=0.6, entropy_threshold=0.85).process(None, "features", b)
    r = out["regime"]
    row = b["session_vol_norm"].astype(int)
    ready = b["ready"]
    # entropies by hand: -sum p ln p
    h = {0: 0.394398, 1: 0.790987, 2: 1.098513, 3: 0.639031}
    for k, hk in h.items():
        sel = ready & (row == k)
        np.testing.assert_allclose(r["entropy"][sel], hk, atol=1e-6)
        np.testing.assert_array_equal(r["prob_stable"][sel], TABLE[k, 0])
    names = np.array(["Stable_Flow", "Stable_Flow", "Stable_Flow", "Event_Risk"])
    np.testing.assert_array_equal(r["regime"][ready], names[row[ready]])
    # tradeable: rows 0 (0.9, H 0.39) and 1 (0.65 > 0.6, H 0.79 < 0.85) only, and never on a spread shock
    calm = b["spread_widening"] <= 3.0
    assert (~calm & ready & (row <= 1)).any()  # the spread guard is exercised
    np.testing.assert_array_equal(r["tradeable"], ready & (row <= 1) & calm)
    _, strict = _stage(p_threshold=0.6, entropy_threshold=0.7).process(None, "features", b)
    np.testing.assert_array_equal(strict["regime"]["tradeable"], ready & (row == 0) & calm)  # entropy guard
    assert set(r["model_version"]) == {"v-test"}


def test_unready_bars_are_unclassified_and_never_tradeable() -> None:
    b = _features(100)
    _, out = _stage().process(None, "features", b)
    r, off = out["regime"], ~b["ready"]
    assert off.any()
    assert np.isnan(r["prob_stable"][off]).all()
    assert np.isnan(r["entropy"][off]).all()
    assert (r["regime"][off] == "").all()
    assert not r["tradeable"][off].any()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 120), max_size=4))
def test_batch_split_invariance(cuts: list[int]) -> None:
    b = _features(120, seed=3)
    stage = _stage()
    _, whole = stage.process(stage.initial_state(), "features", b)
    edges = [0, *sorted(cuts), 120]
    state, parts = stage.initial_state(), []
    for a, z in zip(edges, edges[1:], strict=False):
        state, out = stage.process(state, "features", b.take(slice(a, z)))
        parts.append(out["regime"])
    assert concat(parts).equals(whole["regime"])


def test_output_encodes_with_the_schema() -> None:
    _, out = _stage().process(None, "features", _features(20))
    msgs = AvroCodec("regime").encode_batch(out["regime"])
    assert len(msgs) == 20
    back = AvroCodec("regime").decode(msgs[0])
    assert back["model_version"] == "v-test"
    assert back["regime"] in ("", "Stable_Flow", "Event_Risk")


def test_schema_carries_every_features_field() -> None:
    regime_fields = set(AvroCodec("regime").fields)
    assert set(FIELDS) | {"pair", "ts", "ready", "mid", "session_id", "gap_min"} <= regime_fields
    assert set(AvroCodec("features").fields) <= regime_fields


def test_missing_artifact_says_how_to_train(tmp_path: Path) -> None:
    config = HSLRConfig(regime=RegimeConfig(model_path=str(tmp_path / "latest")))
    with pytest.raises(FileNotFoundError, match="hslr train regime"):
        build_stages(config, only=["regime"])


def test_config_section_is_registered() -> None:
    cfg = HSLRConfig().regime
    assert isinstance(cfg, RegimeConfig)
    assert cfg.labels.horizon == 30
    assert cfg.train.random_state == 7

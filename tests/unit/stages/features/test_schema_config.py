"""Output schema, config registration and DAG wiring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from streams.config import build_config
from streams.dag import STAGE_FACTORIES, build_stages
from streams.serde.avro import AvroCodec
from streams.stages.features import FEATURE_FIELDS, FeaturesConfig, FeaturesStage, empty_features
from tests.unit.stages.features.helpers import SMALL, market, run_chunks

SCHEMAS = Path(__file__).resolve().parents[4] / "schemas"


def test_output_encodes_and_decodes_with_the_features_schema() -> None:
    out = run_chunks(FeaturesStage(SMALL), market("2019-03-08", "2019-03-08 06:00", seed=2), [100])
    assert np.isnan(out["xcorr"]).any()
    assert out["ready"].any()
    codec = AvroCodec("features")
    messages = codec.encode_batch(out)
    back, errors = codec.decode_batch(messages)
    assert not errors
    assert back.equals(out)


def test_schema_fields_are_the_output_columns_and_carry_every_bar_field() -> None:
    raw = json.loads((SCHEMAS / "features.avsc").read_text())
    names = [f["name"] for f in raw["fields"]]
    assert names == list(FEATURE_FIELDS)
    bar = [f["name"] for f in json.loads((SCHEMAS / "bar.avsc").read_text())["fields"]]
    assert set(bar) <= set(names)
    assert all(f.get("doc") for f in raw["fields"])
    assert raw["namespace"] == "io.hslr.features"


def test_empty_batch_gives_typed_empty_output() -> None:
    stage = FeaturesStage()
    state = stage.initial_state()
    new, out = stage.process(state, "bars.clean", empty_features().select(["pair", "ts"]))
    assert new is state
    assert out["features"].n == 0
    assert set(out["features"]) == set(FEATURE_FIELDS)


def test_config_is_registered_frozen_and_validated() -> None:
    cfg = build_config({"features": {"vol_window": 45}})
    assert cfg.features.vol_window == 45
    with pytest.raises(ValidationError):
        FeaturesConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        FeaturesConfig(xcorr_window_min=10, xcorr_min_obs=20)
    assert FeaturesConfig().session_alpha == pytest.approx(1 - 0.5 ** (1 / 5))


def test_stage_is_in_the_dag_after_market() -> None:
    ids = list(STAGE_FACTORIES)
    assert ids.index("features") == ids.index("market") + 1
    (stage,) = build_stages(only=["features"])
    assert stage.spec.inputs == ("bars.clean",)
    assert stage.spec.outputs == ("features",)


def test_pairs_outside_the_universe_get_nan_xcorr() -> None:
    bars = market("2019-03-08", "2019-03-08 06:00", seed=2)
    stage = FeaturesStage(SMALL.model_copy(update={"pairs": ("EURUSD", "GBPUSD", "USDJPY")}))
    out = run_chunks(stage, bars, [])
    assert np.isnan(out["xcorr"][out["pair"] == "AUDUSD"]).all()
    assert np.isfinite(out["xcorr"][out["pair"] == "EURUSD"]).any()

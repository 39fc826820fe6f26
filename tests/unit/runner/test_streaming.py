"""The streaming replay (bounded memory) gives the in-process replay's outputs, whatever the piece size."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from streams.config import build_config
from streams.core.batch import Batch
from streams.dag import build_stages
from streams.data.synth import generate_market
from streams.fx.sessions import to_ms
from streams.runner.inprocess import run_inprocess
from streams.runner.streaming import run_streaming
from streams.services.features import compute_features
from streams.services.runs import with_models
from streams.training.artifacts import train_edge_artifact, train_regime_artifact

PAIRS = ["GBPUSD", "USDJPY"]
SPLIT = to_ms("2019-07-01")
KEEP = ("orders", "fills", "portfolio", "risk.targets", "governance", "control", "signals.governed")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, object]:
    root = Path(tmp_path_factory.mktemp("models"))
    market = Batch(generate_market(PAIRS, "2019-06-10", "2019-07-04", 7).bars)
    # the mid-to-mid edge model trades on a short synthetic market, so orders and fills are compared
    base = build_config({"market": {"pairs": PAIRS}, "edge": {"execution_priced": False}})
    features = compute_features(market.take(market["ts"] < SPLIT), base)
    now = datetime(2019, 7, 1, tzinfo=UTC)
    regime = train_regime_artifact(
        features, base.regime, created_at=now, code_version="t", params={}, root=root / "regime"
    )
    edge = train_edge_artifact(
        features, base.edge, created_at=now, code_version="t", params={}, root=root / "edge"
    )
    return market.take(market["ts"] >= to_ms("2019-06-24")), with_models(
        base, str(regime.path), str(edge.path), ""
    )


@pytest.mark.parametrize("piece", [997, 4096])
def test_streaming_pieces_give_the_outputs_of_one_batch(setup: tuple[Batch, object], piece: int) -> None:
    bars, config = setup
    whole = run_inprocess(build_stages(config), {"bars": bars})  # type: ignore[arg-type]
    assert whole["orders"].n > 0  # the comparison is not vacuous
    assert whole["fills"].n > 0
    pieces = (bars.take(slice(i, i + piece)) for i in range(0, bars.n, piece))
    seen: list[int] = []
    got = run_streaming(
        build_stages(config),  # type: ignore[arg-type]
        pieces,
        keep=KEEP,
        on_piece=lambda i, topics: seen.append(sum(b.n for b in topics["bars"])),
    )
    assert sum(seen) == bars.n
    assert max(seen) <= piece
    for k in KEEP:
        if whole[k].n:
            assert got[k].equals(whole[k]), k
        else:
            assert k not in got or got[k].n == 0, k
    assert "features" not in got  # dropped after use: what bounds the memory


def test_features_cut_long_batches_without_changing_a_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.stages.features import FeaturesStage
    from streams.stages.features import stage as fstage

    bars = Batch(generate_market(["GBPUSD", "USDJPY", "AUDUSD"], "2019-06-10", "2019-06-13", 2).bars)
    stage = FeaturesStage()
    whole = stage.process(stage.initial_state(), "bars.clean", bars)
    monkeypatch.setattr(fstage, "MAX_ROWS", 333)
    cut = stage.process(stage.initial_state(), "bars.clean", bars)
    assert cut[1]["features"].equals(whole[1]["features"])
    assert np.isfinite(whole[1]["features"]["xcorr"]).sum() > 1000

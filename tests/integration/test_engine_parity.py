"""The whole DAG gives identical orders, fills and PnL through Kafka + Faust and in-process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from backtest.engine import RESULT_TOPICS, run_inprocess_engine, run_kafka_engine, summarize
from models.training import train_edge_artifact, train_regime_artifact
from streams.cli_backtest import default_calendar_path, with_models
from streams.cli_train import compute_features
from streams.config import HSLRConfig, build_config
from streams.core.batch import Batch
from streams.data.synth import generate_market

pytestmark = pytest.mark.integration
SPLIT = int(datetime(2020, 2, 3, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, HSLRConfig, dict[str, Batch]]:
    """Test bars (with the real calendar's shocks), a config with models trained before them, and the
    in-process result."""
    root = tmp_path_factory.mktemp("models")
    calendar = default_calendar_path("")
    cal = None
    if calendar:
        from streams.cli_calendar import read_calendar_file

        cal = dict(read_calendar_file(calendar))
    market = Batch(generate_market(["EURUSD", "GBPUSD", "USDJPY"], "2020-01-06", "2020-02-15", 5, calendar=cal).bars)
    train, test = market.take(market["ts"] < SPLIT), market.take(market["ts"] >= SPLIT)
    base = build_config({"market": {"pairs": ["EURUSD", "GBPUSD", "USDJPY"]}})  # complete minutes decide early
    features = compute_features(train, base)
    now = datetime(2020, 2, 3, tzinfo=UTC)
    regime = train_regime_artifact(features, base.section("regime"), created_at=now, code_version="test",
                                   params={}, root=root / "regime")
    edge = train_edge_artifact(features, base.section("edge"), created_at=now, code_version="test",
                               params={}, root=root / "edge")
    config = with_models(base, str(regime.path), str(edge.path), calendar)
    return test, config, run_inprocess_engine(test, config)


@pytest.mark.parametrize("fuse", [False, True], ids=["chained", "fused"])
def test_kafka_and_inprocess_engines_trade_identically(
        services: dict[str, str], tmp_path: Path, trained: tuple[Batch, HSLRConfig, dict[str, Batch]],
        fuse: bool) -> None:
    """chained: one agent per stage in two workers (every topic crosses Kafka). fused: the same two workers
    with their stages co-located (internal topics handed over in memory, control still through Kafka)."""
    test, config, expected = trained
    got = run_kafka_engine(test, config, workdir=tmp_path / "run", timeout=900, fuse=fuse)

    assert expected["orders"].n > 0 and expected["fills"].n > 0, "no trades: the comparison would be vacuous"
    for key in RESULT_TOPICS:
        want, have = expected[key], got[key]
        assert have.n == want.n, key
        assert have.select(want.keys()).equals(want.select(have.keys())), key
    initial = config.section("trader").portfolio.initial_equity_usd
    assert summarize(test, got, initial) == summarize(test, expected, initial)

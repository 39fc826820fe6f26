"""The whole DAG gives identical orders, fills and PnL through Kafka + Faust and in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.engine import RESULT_TOPICS, WORKER_GROUPS, run_kafka_engine, summarize
from streams.config import HSLRConfig
from streams.core.batch import Batch

pytestmark = pytest.mark.integration


ONE_WORKER = [[s for g in WORKER_GROUPS for s in g]]


@pytest.mark.parametrize(
    ("fuse", "groups", "audit"),
    [(False, WORKER_GROUPS, True), (True, WORKER_GROUPS, True), (True, ONE_WORKER, False)],
    ids=["chained", "fused", "one-worker-unaudited"],
)
def test_kafka_and_inprocess_engines_trade_identically(
    services: dict[str, str],
    tmp_path: Path,
    trained: tuple[Batch, HSLRConfig, dict[str, Batch]],
    fuse: bool,
    groups: list[list[str]],
    audit: bool,
) -> None:
    """chained: one agent per stage in two workers (every topic crosses Kafka). fused: the same two workers
    with their stages co-located (internal topics handed over in memory, control still through Kafka).
    one-worker-unaudited: the whole DAG in one fused worker that publishes only the topics a backtest
    reads (no ``signals`` hop, no features/regime topics)."""
    test, config, expected = trained
    got = run_kafka_engine(
        test, config, workdir=tmp_path / "run", timeout=900, fuse=fuse, groups=groups, audit=audit
    )

    assert expected["orders"].n > 0, "no orders: the comparison would be vacuous"
    assert expected["fills"].n > 0, "no fills: the comparison would be vacuous"
    for key in RESULT_TOPICS:
        want, have = expected[key], got[key]
        assert have.n == want.n, key
        assert have.select(want.keys()).equals(want.select(have.keys())), key
    initial = config.trader.portfolio.initial_equity_usd
    assert summarize(test, got, initial) == summarize(test, expected, initial)

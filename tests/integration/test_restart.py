"""A governance+trader worker (or the fused whole-DAG worker) killed with SIGKILL mid-replay resumes from its checkpoint: the final
orders, fills and portfolio (positions, PnL, high-water mark) equal an uninterrupted in-process run."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition

from backtest.engine import WORKER_GROUPS
from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.binding.workers import fresh_namespace, worker
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.dag import STAGE_FACTORIES
from streams.infra import bootstrap_servers

pytestmark = pytest.mark.integration


def _high(topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap_servers(), "group.id": "probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    finally:
        c.close()


def _distinct_in_order(b: Batch) -> Batch:
    """Drop exact repeats (at-least-once redelivery re-emits identical records), keep first occurrences."""
    rows = [json.dumps(r, sort_keys=True, default=str) for r in b.to_records()]
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        seen.setdefault(r, i)
    return b.take(np.array(sorted(seen.values()), dtype=np.int64))


@pytest.mark.parametrize("fused", [False, True], ids=["chained", "fused"])
def test_trader_killed_mid_replay_resumes_with_its_book_and_high_water_mark(
    services: dict[str, str], tmp_path: Path, trained: tuple[Batch, HSLRConfig, dict[str, Batch]], fused: bool
) -> None:
    """chained: the governance+trader worker is killed (its upstream keeps running). fused: the one worker
    running the whole DAG as one co-located agent is killed; its checkpoints are deltas of the members that
    changed (the news calendar is not rewritten), so this also proves they restore exactly."""
    test, config, expected = trained
    assert expected["fills"].n > 0
    ns = fresh_namespace("rs")
    ensure_topics(bootstrap_servers(), ns)  # the workers create their state topics
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    env = {"HSLR_BATCH_WITHIN_S": "0.01", "HSLR_BATCH_MAX": "300", "HSLR_MESSAGE_RECORDS": "50"}
    out = Out(bootstrap_servers())
    publish(out, "bars", test, ns, max_records=50)
    publish_marker(out, "bars", "r", ns)
    out.flush()
    portfolio = TOPICS["portfolio"].name(ns)
    upstream, downstream = ((), list(STAGE_FACTORIES)) if fused else WORKER_GROUPS
    args = ["--fuse"] if fused else []
    with ExitStack() as stack:
        up = (
            stack.enter_context(worker(upstream, ns, cfg, tmp_path / "up.log", env=env)) if upstream else None
        )
        with worker(downstream, ns, cfg, tmp_path / "down-1.log", env=env, args=args) as down:
            deadline = time.monotonic() + 300
            while _high(portfolio) < 20 and time.monotonic() < deadline and down.poll() is None:
                time.sleep(0.1)
            assert _high(portfolio) >= 20, "the trader produced nothing before the kill"
            down.kill()  # SIGKILL: no shutdown, no final commit
        with worker(downstream, ns, cfg, tmp_path / "down-2.log", env=env, args=args) as again:
            got = collect(
                bootstrap_servers(),
                ["orders", "fills", "portfolio"],
                "r",
                ns,
                timeout=600,
                alive=lambda: again.poll() is None and (up is None or up.poll() is None),
            )
    for key in ("orders", "fills", "portfolio"):
        assert _distinct_in_order(got[key]).equals(expected[key]), key
    acct = expected["portfolio"]["pair"] == ""
    assert expected["portfolio"]["hwm_usd"][acct][-1] >= config.trader.portfolio.initial_equity_usd

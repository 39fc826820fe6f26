"""A governance+trader worker (or the fused whole-DAG worker) killed with SIGKILL mid-replay resumes from its checkpoint: the final
orders, fills and portfolio (positions, PnL, high-water mark) equal an uninterrupted in-process run."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

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
from tests.kit.replays import complete, distinct_in_order

pytestmark = pytest.mark.integration


def _high(topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap_servers(), "group.id": "probe"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    finally:
        c.close()


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
        assert distinct_in_order(got[key]).equals(expected[key]), key
    acct = expected["portfolio"]["pair"] == ""
    assert expected["portfolio"]["hwm_usd"][acct][-1] >= config.trader.portfolio.initial_equity_usd


def test_operator_control_in_a_replay_through_a_trader_worker(
    services: dict[str, str], tmp_path: Path
) -> None:
    """issue 11 #3/#4 end to end: a HALT at an explicit event time inside a replay takes effect there; a
    forged global RESUME is dead-lettered with its reason; a signed pair RESUME does not lift the global
    HALT; a signed global RESUME does. The Kafka outputs equal the in-process trader's."""
    from streams.core.control_auth import operator_command
    from streams.stages.trader.stage import TraderStage
    from tests.kit.control import CONTROL_KEY
    from tests.kit.governed import START, governed

    data = complete(governed(n_min=500, seed=3), "governed_signal")
    t = {k: START + m * 60_000 for k, m in (("halt", 150), ("forged", 200), ("pair", 250), ("all", 350))}
    cmds = [
        operator_command("HALT", "", t["halt"], "test", 1, CONTROL_KEY),
        {**operator_command("RESUME", "", t["forged"], "forged", 2, None), "signature": "ab" * 32},
        operator_command("RESUME", "EURUSD", t["pair"], "test", 3, CONTROL_KEY),
        operator_command("RESUME", "", t["all"], "test", 4, CONTROL_KEY),
    ]
    stage = TraderStage(control_key=CONTROL_KEY)
    state = stage.initial_state()
    for c in cmds:
        try:
            state, _ = stage.process(state, "control", Batch.from_records([c], list(c)))
        except ValueError:
            assert c["reason"] == "forged"
    _, expected = stage.process(state, "signals.governed", data)
    new = expected["orders"].take(expected["orders"]["action"] == "NEW")
    assert not ((new["ts"] >= t["halt"]) & (new["ts"] < t["all"])).any()
    assert (new["ts"] >= t["all"]).any()

    ns = fresh_namespace("ctl")
    ensure_topics(bootstrap_servers(), ns)
    out = Out(bootstrap_servers())
    publish(out, "control", Batch.from_records(cmds, list(cmds[0])), ns)
    out.flush()
    env = {"HSLR_CONTROL_KEY": CONTROL_KEY.decode(), "HSLR_BATCH_WITHIN_S": "0.01"}
    with worker(["trader"], ns, None, tmp_path / "trader.log", env=env) as proc:
        dead = _read_dead(ns, proc)
        publish(out, "signals.governed", data, ns, max_records=100)  # after the commands were read
        publish_marker(out, "signals.governed", "r", ns)
        out.flush()
        got = collect(
            bootstrap_servers(), ["orders"], "r", ns, timeout=300, alive=lambda: proc.poll() is None
        )
    assert dead["reason"][0].endswith(
        "RESUME from 'operator' not authenticated (missing or invalid signature): ignored"
    )
    assert distinct_in_order(got["orders"]).equals(expected["orders"])


def _read_dead(ns: str, proc) -> Batch:
    from streams.serde.avro import AvroCodec

    c = Consumer(
        {"bootstrap.servers": bootstrap_servers(), "group.id": f"t-{ns}", "auto.offset.reset": "earliest"}
    )
    c.subscribe([TOPICS["deadletter"].name(ns)])
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            msg = c.poll(0.5)
            if msg is not None and not msg.error() and msg.value():
                return AvroCodec("dead_letter").decode_batch([msg.value()])[0]
    finally:
        c.close()
    raise AssertionError("the forged RESUME was never dead-lettered")

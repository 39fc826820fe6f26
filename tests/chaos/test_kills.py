"""Chaos: kill -9 a random worker ten times at random points and restart the broker once during a
multi-day replay; the outputs must equal the undisturbed in-process run.

The replay is fed in chunks (as a live feed arrives), so the kills land while the workers are working,
not after they finished. The broker is a private one (``conftest.PrivateBroker``), never the shared one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from backtest.engine import RESULT_TOPICS, WORKER_GROUPS
from streams.binding.kafka_io import QUIET, Out, collect, ensure_topics, publish, publish_marker
from streams.binding.workers import fresh_namespace
from streams.config import HSLRConfig, dump_config
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from tests.chaos.conftest import PrivateBroker
from tests.chaos.crew import Crew
from tests.kit.replays import distinct_in_order

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = 20_201_130
KILLS = 10
VICTIM_OUTPUT = ("signals", "portfolio")
"""What each worker of ``WORKER_GROUPS`` publishes last: it moves while the worker is at work."""
ENV = {"HSLR_BATCH_WITHIN_S": "0.02", "HSLR_BATCH_MAX": "500", "HSLR_MESSAGE_RECORDS": "100"}


def _chunks(bars: Batch, n: int) -> list[Batch]:
    """``bars`` cut into ``n`` pieces at minute boundaries (a minute's pairs stay together)."""
    minutes = np.unique(bars["ts"])
    cuts = minutes[np.linspace(0, len(minutes), n + 1).astype(int)[1:-1]]
    edges = np.r_[0, np.searchsorted(bars["ts"], cuts), bars.n]
    return [bars.take(np.arange(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def test_ten_kills_and_a_broker_restart_change_nothing(
    broker: PrivateBroker, trained: tuple[Batch, HSLRConfig, dict[str, Batch]], tmp_path: Path
) -> None:
    bars, config, expected = trained
    assert expected["orders"].n > 0, "the undisturbed run must trade, else the comparison proves nothing"
    rng = np.random.default_rng(SEED)
    ns = fresh_namespace("chaos")
    ensure_topics(broker.bootstrap, ns)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dump_config(config)))
    env = {**ENV, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    chunks = _chunks(bars, KILLS + 1)
    broker_after = int(rng.integers(2, KILLS - 2))  # the broker restarts after this kill
    figures: dict[str, object] = {
        "seed": SEED,
        "bars_in": bars.n,
        "broker_restart_after_kill": broker_after + 1,
    }
    victims: list[int] = []
    busy: list[bool] = []
    t0 = time.monotonic()
    out = Out(broker.bootstrap)
    probe = Watermarks(broker.bootstrap, ns)
    with Crew(WORKER_GROUPS, ns, cfg, tmp_path, env) as crew:
        for k in range(KILLS):
            victim = int(rng.integers(len(WORKER_GROUPS)))
            before = probe.high(VICTIM_OUTPUT[victim])
            publish(out, "bars", chunks[k], ns, max_records=100)
            out.flush()
            # a random point of the chunk's processing: once the victim has published part of it
            busy.append(probe.wait_above(VICTIM_OUTPUT[victim], before, timeout=20))
            time.sleep(float(rng.uniform(0.0, 0.5)))
            victims.append(victim)
            crew.kill(victim)
            if k == broker_after:
                broker.stop()
                time.sleep(float(rng.uniform(1.0, 3.0)))
                broker.start()
                probe.consumer.close()
                out, probe = Out(broker.bootstrap), Watermarks(broker.bootstrap, ns)
            crew.revive()
        publish(out, "bars", chunks[-1], ns, max_records=100)
        publish_marker(out, "bars", "chaos", ns)
        out.flush()
        probe.consumer.close()
        got = collect(broker.bootstrap, (*RESULT_TOPICS,), "chaos", ns, timeout=240, alive=_reviving(crew))
    figures |= {
        "kills": crew.kills,
        "victims": victims,
        "killed_while_publishing": busy,
        "self_exits": crew.exits,
        "starts": crew.starts,
    }
    figures["run_time_s"] = round(time.monotonic() - t0, 1)
    _check(got, expected, figures)
    print("chaos figures:", json.dumps(figures))  # the suite's figures, in the test log


class Watermarks:
    """High watermarks (messages) of a namespace's topics on the private broker."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.namespace = namespace
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{namespace}", **QUIET})

    def high(self, key: str) -> int:
        tp = TopicPartition(TOPICS[key].name(self.namespace), 0)
        try:
            return int(self.consumer.get_watermark_offsets(tp, timeout=5)[1])
        except KafkaException:  # the topic is not there yet, or the broker is restarting
            return 0

    def wait_above(self, key: str, level: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.high(key) > level:
                return True
            time.sleep(0.05)
        return False


def _reviving(crew: Crew):  # noqa: ANN202 - a predicate for collect
    def alive() -> bool:
        crew.revive()  # a worker that exits on its own (e.g. after the broker restart) is restarted
        return True

    return alive


def _check(got: dict[str, Batch], expected: dict[str, Batch], figures: dict[str, object]) -> None:
    clean = got["bars.clean"]
    keys = {(str(p), int(t)) for p, t in zip(clean["pair"], clean["ts"], strict=True)}
    want = {
        (str(p), int(t))
        for p, t in zip(expected["bars.clean"]["pair"], expected["bars.clean"]["ts"], strict=True)
    }
    figures |= {
        "bars_clean_out": len(keys),
        "bars_clean_records_on_topic": clean.n,
        "orders_expected": expected["orders"].n,
        "orders_on_topic": got["orders"].n,
    }
    assert keys == want  # every bar came out, none invented
    for key in ("signals.governed", "risk.targets", "orders", "fills", "portfolio"):
        distinct = distinct_in_order(got[key])
        figures[f"{key}_records"] = distinct.n
        # one record per bar downstream: a bar processed twice would change the trader's state
        assert distinct.equals(expected[key]), key
    orders = distinct_in_order(got["orders"])
    ids = orders["client_order_id"][orders["action"] == "NEW"]
    assert len(np.unique(ids)) == len(ids), "a client order id was sent twice"
    acct = expected["portfolio"]["pair"] == ""
    final = float(distinct_in_order(got["portfolio"])["equity_usd"][acct][-1])
    figures["final_equity_usd"] = final
    assert final == float(expected["portfolio"]["equity_usd"][acct][-1])

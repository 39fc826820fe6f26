"""Orders first (issue 12): a batch's ``orders`` are produced and flushed before its other topics are
even encoded; every output is flushed before the checkpoint; each topic keeps its order (records,
then the watermark); what reaches Kafka is what the stage emitted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from streams.binding.delivery import Delivery
from streams.binding.kafka_io import CheckpointStore, Out, ensure_topics, state_topic
from streams.binding.metrics import PrometheusMetrics
from streams.binding.workers import fresh_namespace
from streams.core.batch import Batch
from streams.core.stage import StageSpec
from streams.core.topics import TOPICS
from streams.infra import bootstrap_servers
from streams.runner.runtime import MARKER_HEADER, WATERMARK, Envelope, watermark
from streams.serde.avro import AvroCodec
from tests.kit.bars import MINUTE, T0, bars
from tests.kit.records import records

pytestmark = pytest.mark.integration
PAIRS = ("EURUSD", "GBPUSD", "USDJPY")


class Decider:
    """bars -> the bars echoed on ``bars.clean`` (listed before ``orders``) and one NEW order per bar."""

    spec = StageSpec("decider", ("bars",), ("bars.clean", "orders"))

    def initial_state(self) -> int:
        return 0

    def process(self, state: int, topic: str, batch: Batch) -> tuple[int, dict[str, Batch]]:
        n = batch.n
        ts = [int(t) + MINUTE for t in batch["ts"]]
        orders = records("order", n, 7, pair=list(batch["pair"]), ts=ts, action=["NEW"] * n, reason=[""] * n)
        return state + n, {"bars.clean": batch, "orders": orders}


class Spy(Out):
    """The real producer, logging what it is asked to do."""

    def __init__(self, bootstrap: str, log: list[tuple[str, ...]]) -> None:
        super().__init__(bootstrap)
        self.log = log

    def send(self, messages: Any) -> None:
        messages = list(messages)
        self.log.append(("send", *dict.fromkeys(m.topic for m in messages)))
        super().send(messages)

    def flush(self, timeout: float = 60.0) -> None:
        self.log.append(("flush",))
        super().flush(timeout)


class Encoded(PrometheusMetrics):
    """Real metrics that also log each output topic when the runtime has encoded it."""

    def __init__(self, log: list[tuple[str, ...]]) -> None:
        super().__init__(CollectorRegistry())
        self.log = log

    def events_out(self, stage: str, topic: str, n: int) -> None:
        self.log.append(("encoded", topic))
        super().events_out(stage, topic, n)


def _raw(boot: str, topic: str) -> list[Any]:
    c = Consumer({"bootstrap.servers": boot, "group.id": f"t-{topic}", "enable.auto.commit": False})
    _, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    while len(got) < hi:
        msg = c.poll(5.0)
        assert msg is not None, f"{topic}: {len(got)} of {hi} messages read"
        got.append(msg)
    c.close()
    return got


def test_orders_are_produced_before_the_other_outputs_are_encoded(services: dict[str, str]) -> None:
    boot, ns = bootstrap_servers(), fresh_namespace("deliv")
    ensure_topics(boot, ns, ["decider"])
    log: list[tuple[str, ...]] = []
    deliver = Delivery.build(Decider(), boot, ns, Encoded(log), max_records=2)
    spy = Spy(boot, log)
    deliver.out, deliver.checkpoints = spy, CheckpointStore(boot, ns, spy)
    minute = bars(1, PAIRS, start=T0)
    src = TOPICS["bars"].name(ns)
    values = AvroCodec("bar").encode_batch(minute, max_records=3)
    envelopes = [Envelope(src, 0, i, None, v) for i, v in enumerate(values)]
    envelopes.append(Envelope(src, 0, len(values), b"__wm__", b"", watermark(T0)))

    asyncio.run(deliver(envelopes))

    orders_t, bars_t = TOPICS["orders"].name(ns), TOPICS["bars.clean"].name(ns)
    state_t = state_topic(ns, "decider")
    assert log == [
        ("encoded", "orders"),
        ("send", orders_t),  # produced and durable while the bars are not even encoded yet
        ("flush",),
        ("encoded", "bars.clean"),
        ("send", bars_t),
        ("flush",),  # every output durable ...
        ("send", state_t),  # ... before the checkpoint
        ("flush",),
    ]
    sent_orders, sent_bars = _raw(boot, orders_t), _raw(boot, bars_t)
    decided = [r for m in sent_orders for r in AvroCodec("order").decode_many(m.value())]
    assert [(r["pair"], r["ts"]) for r in decided] == [(p, T0 + MINUTE) for p in PAIRS]
    assert len(sent_orders) == 2  # 3 orders in messages of at most 2 records
    echoed = [r for m in sent_bars[:-1] for r in AvroCodec("bar").decode_many(m.value())]
    assert [(r["pair"], r["close"]) for r in echoed] == list(zip(PAIRS, minute["close"], strict=True))
    assert dict(sent_bars[-1].headers())[MARKER_HEADER] == WATERMARK  # the watermark after its records
    assert max(m.timestamp()[1] for m in sent_orders) <= min(m.timestamp()[1] for m in sent_bars)
    assert CheckpointStore(boot, ns, spy).load("decider")[0] is not None

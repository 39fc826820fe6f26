"""The order gateway's consumer takes every instruction published after it is assigned (issue 12):
with ``auto.offset.reset = latest`` a new group's start offset was resolved only at its first fetch,
so an instruction published in between was skipped for good."""

from __future__ import annotations

import time
from typing import Any

import pytest

from streams.binding.kafka_io import Out, ensure_topics, publish
from streams.binding.live import OrderConsumer
from streams.binding.workers import fresh_namespace
from streams.infra import bootstrap_servers
from tests.kit.records import records

pytestmark = pytest.mark.integration


class Recording:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def apply(self, rec: dict[str, Any], redelivered: bool = False) -> None:
        self.seen.append(str(rec["client_order_id"]))


@pytest.mark.parametrize("attempt", range(5))
def test_an_instruction_published_right_after_assignment_is_taken(
    services: dict[str, str], attempt: int
) -> None:
    boot, ns = bootstrap_servers(), fresh_namespace("ordc")
    ensure_topics(boot, ns, [])
    out = Out(boot)
    publish(out, "orders", records("order", 1, 0, client_order_id=["before"]), ns)
    out.flush()  # decided before the gateway existed: never sent
    gw = Recording()
    consumer = OrderConsumer(boot, ns, gw)  # type: ignore[arg-type]
    consumer.start()
    try:
        consumer.wait_assigned()
        publish(out, "orders", records("order", 1, attempt, client_order_id=[f"after-{attempt}"]), ns)
        out.flush()
        t0 = time.monotonic()
        while not gw.seen and time.monotonic() - t0 < 10:
            time.sleep(0.05)
    finally:
        consumer.stop.set()
        consumer.join(10)
    assert gw.seen == [f"after-{attempt}"]

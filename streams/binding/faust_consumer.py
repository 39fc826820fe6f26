"""The worker's Kafka consumer: Faust's aiokafka driver, with fetches that never leave a partition behind.

aiokafka's fetcher leaves a partition out of the node's next fetch request while records it fetched for
that partition wait to be consumed; after ``prefetch_backoff`` (0.1 s) it stops waiting and sends a
fetch for the node's other partitions, and until that request returns, no new record of the partition
left out is fetched. Faust sends its fetches with ``fetch_max_wait_ms=1500`` (hard-coded), so that
request long-polls the broker for 1.5 s when the other partitions are idle (control, calendar,
broker.fills), and a minute's bars produced meanwhile wait for it. Faust consumes in another thread
than the agent, so a batch that keeps the agent busy (or descheduled) over 0.1 s while the next
message is fetched is enough (issue 12: the live path's 0.2-1.1 s stalls; traced in the worker, a
fetch without ``bars`` took 1,501 ms while three paced minutes' bars waited on the broker).

Two settings of the worker's consumer (private aiokafka attributes, pinned versions):

- :data:`HOLD_S`: records waiting to be consumed hold the node's next fetch up to 2 s instead of
  0.1 s, so once they are consumed the next fetch asks for every partition again (one broker: no
  fetch leaves a partition out unless the worker is 2 s behind);
- :data:`FETCH_MAX_WAIT_MS`: a fetch waits at most 100 ms for data at the broker, so a partition left
  out anyway (a backlog, another broker) waits at most that long (an idle worker sends 10 fetches/s).
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100
"""The longest a fetch request waits at the broker for data (Faust: 1,500 ms)."""
HOLD_S = 2.0
"""The longest fetched records waiting to be consumed keep their node's next fetch back (aiokafka: 0.1 s)."""


def tune(consumer: aiokafka.AIOKafkaConsumer) -> aiokafka.AIOKafkaConsumer:
    """Apply :data:`FETCH_MAX_WAIT_MS` to a consumer not yet started (its fetcher is made at start)."""
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return consumer


def tune_started(consumer: aiokafka.AIOKafkaConsumer) -> None:
    """Apply :data:`HOLD_S` to a started consumer's fetcher."""
    consumer._fetcher._prefetch_backoff = HOLD_S


class ConsumerThread(driver.AIOKafkaConsumerThread):  # type: ignore[misc]
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        return tune(super()._create_worker_consumer(transport))

    async def on_start(self) -> None:
        await super().on_start()
        tune_started(self._consumer)


class Consumer(driver.Consumer):  # type: ignore[misc]
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):  # type: ignore[misc]
    Consumer = Consumer


def use_tuned_consumer(app: faust.App) -> None:
    """Make ``app`` consume with :class:`Consumer` (call before anything touches ``app.transport``)."""
    app.transport = Transport(app.conf.broker_consumer, app)

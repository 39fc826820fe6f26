"""The live path's Kafka side: the feed gateway (feed events -> ``bars`` + watermarks, ``quarantine``,
``control``), the order gateway (``orders`` -> a live broker, after startup reconciliation) and the
broker's fills (its transaction stream -> ``broker.fills``, ``quarantine``). The running check of the
book is ``streams.binding.book_check``.

The logic is in ``streams.live`` (pure); this module only moves its records to and from Kafka.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException

from streams.binding.kafka_io import QUIET, Out, publish, publish_watermark
from streams.core.batch import Batch
from streams.core.topics import TOPICS
from streams.live.feed import FeedStatus, MarketFeed
from streams.live.gateway import OrderGateway
from streams.live.minute_bars import bar_columns
from streams.live.oanda_stream import FeedRejected
from streams.live.oanda_transactions import OandaTransactionStream
from streams.live.session import FeedSession, Published, halt
from streams.live.v20_transactions import TransactionSession, TxnPublished
from streams.serde.avro import AvroCodec

log = logging.getLogger("hslr.live")


class FeedGateway:
    """Publishes what a :class:`FeedSession` makes of a feed's events, flushing after each minute."""

    def __init__(
        self, out: Out, namespace: str, session: FeedSession, source: str, tick_volume: bool = False
    ) -> None:
        self.out, self.ns, self.session = out, namespace, session
        self.source, self.tick_volume = source, tick_volume
        self.published_bars = 0
        self.minute_published: dict[int, float] = {}  # watermark minute -> wall time it was flushed

    def run(self, feed: MarketFeed, stop: threading.Event | None = None) -> None:
        for ev in feed.events():
            self.put(self.session.handle(ev, int(time.time() * 1000)))
            if stop is not None and stop.is_set():
                feed.close()
                return

    def put(self, pub: Published) -> None:
        sent = False
        if pub.bars:
            batch = Batch(bar_columns(pub.bars, self.source, self.tick_volume))
            publish(self.out, "bars", batch, self.ns, max_records=batch.n)
            self.published_bars += batch.n
            sent = True
        if pub.watermark is not None:
            publish_watermark(self.out, "bars", pub.watermark, self.ns)
            sent = True
        for key, recs in (("quarantine", pub.quarantine), ("control", pub.control)):
            if recs:
                publish(self.out, key, Batch.from_records(recs, list(recs[0])), self.ns)
                sent = True
        for c in pub.control:
            if c["action"] == "HALT":
                log.error("feed stale, HALT published: %s", c["reason"])
            else:
                log.warning("feed healthy, its own HALT resumed: %s", c["reason"])
        if sent:
            self.out.flush()
            if pub.watermark is not None:
                self.minute_published[pub.watermark] = time.time()


def publish_halt(out: Out, namespace: str, reason: str) -> None:
    """A HALT control record (e.g. reconciliation failed), flushed."""
    rec = halt(int(time.time() * 1000), reason)
    rec["issuer"] = "reconcile"
    rec["command_id"] = rec["command_id"].replace("live-feed", "reconcile")
    publish(out, "control", Batch.from_records([rec], list(rec)), namespace)
    out.flush()


class OrderConsumer(threading.Thread):
    """Hands each instruction of ``orders`` to the gateway, at least once.

    The consumer group is stable per namespace and commits after each message, so a restarted
    gateway resumes where it stopped; a new group starts at the end of the topic (instructions decided
    before the gateway existed are never sent). Messages produced before this process started may
    have been sent by the previous one: they go out with ``redelivered=True`` (looked up by client id
    first). Call :meth:`wait_assigned` before starting the feed, so no live instruction is missed.
    """

    def __init__(
        self,
        bootstrap: str,
        namespace: str,
        gateway: OrderGateway,
        on_ack: Callable[[dict[str, Any], Any], None] | None = None,
        on_new: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name="order-gateway")
        self.gateway, self.on_ack, self.on_new = gateway, on_ack, on_new
        self.topic = TOPICS["orders"].name(namespace)
        self.codec = AvroCodec(TOPICS["orders"].schema)
        self.started_ms = int(time.time() * 1000)
        self.stop = threading.Event()
        self.assigned = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{namespace}-order-gateway",
                "auto.offset.reset": "latest",
                "enable.auto.commit": False,
                # a long poll: the broker answers a waiting fetch as soon as an order is appended
                # (measured: the same 1.0 ms p50 produce -> poll as 1 ms fetches), and an idle
                # gateway no longer sends ~1,000 empty fetches a second (broker CPU 33 % -> 23 %)
                "fetch.wait.max.ms": 500,
                **QUIET,
            }
        )
        self.consumer.subscribe([self.topic], on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, parts: list[Any]) -> None:
        """Start where the group stopped or, for a new group, at the topic's end as of now: left to
        ``auto.offset.reset``, the end is resolved at the first fetch, and an instruction published
        between the assignment and that fetch was skipped for good."""
        try:
            for p, done in zip(parts, consumer.committed(parts, timeout=10), strict=True):
                p.offset = (
                    done.offset if done.offset >= 0 else consumer.get_watermark_offsets(p, timeout=10)[1]
                )
            consumer.assign(parts)
        except (
            KafkaException
        ) as exc:  # closing, or the broker went away: not assigned (wait_assigned says so)
            log.warning("order gateway: %s not assigned: %s", self.topic, exc)
            return
        self.assigned.set()

    def wait_assigned(self, timeout: float = 30.0) -> None:
        if not self.assigned.wait(timeout):
            raise TimeoutError(f"order gateway not assigned {self.topic} within {timeout:.0f} s")

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                msg = self.consumer.poll(0.05)
                value = None if msg is None or msg.error() else msg.value()
                if msg is None or not value:  # nothing, an error event, or a marker (empty value)
                    continue
                redelivered = (msg.timestamp()[1] or 0) < self.started_ms
                try:
                    recs = self.codec.decode_many(value)
                except Exception as exc:  # noqa: BLE001 - an undecodable message is logged, never fatal
                    log.error("undecodable orders message at offset %s: %s", msg.offset(), exc)
                    recs = []
                for rec in recs:
                    self._apply(rec, redelivered)
                self.consumer.commit(message=msg, asynchronous=True)
        finally:
            self.consumer.close()

    def _apply(self, rec: dict[str, Any], redelivered: bool) -> None:
        if self.on_new is not None and rec["action"] == "NEW" and not rec.get("reason"):
            self.on_new(rec)  # before sending: its fill may come back before the broker's answer
        try:
            ack = self.gateway.apply(rec, redelivered=redelivered)
        except (ValueError, OSError) as exc:  # v20 cannot express it, or the broker is unreachable
            log.error("order %s not sent: %s", rec.get("client_order_id"), exc)
            return
        if ack is not None:
            log.info("order %s %s: %s %s", rec["action"], rec["client_order_id"], ack.state, ack.reason)
            if self.on_ack is not None:
                self.on_ack(rec, ack)


class BrokerFills(threading.Thread):
    """Runs the broker's transaction stream and publishes each execution report to ``broker.fills`` and
    each unreadable line to ``quarantine``, flushed at once (then ``on_report``: the running check's
    orders in flight); silences and reconnects are logged."""

    def __init__(
        self,
        out: Out,
        namespace: str,
        stream: OandaTransactionStream,
        session: TransactionSession,
        on_report: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name="broker-fills")
        self.out, self.ns, self.stream, self.session = out, namespace, stream, session
        self.on_report = on_report  # (client id, report ts) of each published report
        self.published = 0
        self.statuses: list[FeedStatus] = []
        self.error = ""

    def run(self) -> None:
        try:
            for ev in self.stream.events():
                if isinstance(ev, FeedStatus):
                    self._status(ev)
                self.put(self.session.handle(ev, int(time.time() * 1000)))
        except FeedRejected as exc:  # a wrong token or account: no fills will come, so stop trading
            self.error = f"transaction stream refused: {exc}"
            log.error("%s: no broker fills reach the trader, HALT published", self.error)
            publish_halt(self.out, self.ns, self.error)
        except Exception as exc:  # noqa: BLE001 - e.g. Kafka down: logged; the book check then halts
            self.error = f"broker fills stopped: {type(exc).__name__}: {exc}"
            log.error(self.error)

    def _status(self, ev: FeedStatus) -> None:
        self.statuses.append(ev)
        if ev.stale:
            log.error("transaction stream %s, reconnecting: %s", ev.state, ev.reason)
        elif ev.state != "connected" and ev.reason != "closed":
            log.warning("transaction stream %s: %s", ev.state, ev.reason)

    def put(self, pub: TxnPublished) -> None:
        for key, recs in (("broker.fills", pub.reports), ("quarantine", pub.quarantine)):
            if recs:
                publish(self.out, key, Batch.from_records(recs, list(recs[0])), self.ns)
        if pub.reports or pub.quarantine:
            self.out.flush()
            self.published += len(pub.reports)
        for r in pub.reports:
            if self.on_report is not None:
                self.on_report(str(r["client_order_id"]), int(r["ts"]))
            log.info(
                "broker %s %s %+g @ %s",
                r["status"],
                r["client_order_id"],
                r["side"] * r["last_qty"],
                r["last_price"],
            )

    def stop(self) -> None:
        self.stream.close()

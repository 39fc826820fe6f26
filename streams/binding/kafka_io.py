"""Kafka I/O with confluent-kafka: topic setup, producing stage outputs, checkpoints, replay and collect."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # re-exported, untyped

from streams.binding.codecs import codec_for
from streams.core.batch import Batch, concat
from streams.core.topics import TOPICS
from streams.runner.runtime import (
    END_OF_REPLAY,
    MARKER_HEADER,
    RUN_HEADER,
    Outgoing,
    index_header,
    marker,
    marker_messages,
    message_key,
    watermark,
)
from streams.serde.fast_encode import ROW_INDEX_HEADER

STATE_MAX_BYTES = 32 * 1024 * 1024
QUIET = {"log_level": 2, "log.connection.close": False}
"""librdkafka logs every refused reconnect at level 3; callers see real failures as exceptions."""


def state_topic(namespace: str, stage_id: str) -> str:
    return f"{namespace}.state.{stage_id}"


def ensure_topics(
    bootstrap: str, namespace: str, stage_ids: Iterable[str] = (), *, timeout_s: float = 15.0
) -> None:
    """Create the DAG's topics (and the compacted state topics of ``stage_ids``) when missing.

    Raises
    ------
    RuntimeError
        The broker cannot be reached (one line naming it; the CLI exits 2 with it, no traceback).
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise RuntimeError(f"Kafka at {bootstrap} is unreachable: {exc.args[0].str()}") from None
    new = [
        NewTopic(t.name(namespace), t.partitions, 1)
        for t in TOPICS.values()
        if t.name(namespace) not in existing
    ]
    new += [
        NewTopic(
            state_topic(namespace, s),
            1,
            1,
            config={"cleanup.policy": "compact", "max.message.bytes": str(STATE_MAX_BYTES)},
        )
        for s in stage_ids
        if state_topic(namespace, s) not in existing
    ]
    if not new:
        return
    for name, fut in admin.create_topics(new, operation_timeout=30).items():
        try:
            fut.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc


class Out:
    """A producer that raises instead of losing messages: :meth:`flush` fails on any delivery error."""

    def __init__(self, bootstrap: str, **conf: object) -> None:
        self._p = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 0,
                "acks": "all",
                "enable.idempotence": True,
                "message.max.bytes": STATE_MAX_BYTES,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 1_000_000,
                **QUIET,
                **conf,
            }
        )
        self._errors: list[str] = []

    def _cb(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, messages: Iterable[Outgoing]) -> None:
        for m in messages:
            kwargs: dict[str, Any] = {} if m.partition is None else {"partition": m.partition}
            while True:
                try:
                    self._p.produce(
                        m.topic,
                        m.value,
                        m.key,
                        headers=list(m.headers) or None,
                        on_delivery=self._cb,
                        **kwargs,
                    )
                    break
                except BufferError:
                    self._p.poll(0.05)
            self._p.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        left = self._p.flush(timeout)
        if left or self._errors:
            errs, self._errors = self._errors[:5], []
            raise RuntimeError(f"Kafka delivery failed ({left} unsent): {errs}")


class CheckpointStore:
    """Latest stage checkpoints in a compacted topic: key ``<stage>`` holds the latest full checkpoint,
    key ``<stage>:offsets`` the latest offsets-only one (see ``StageRuntime.checkpoint``)."""

    def __init__(self, bootstrap: str, namespace: str, out: Out) -> None:
        self.bootstrap, self.namespace, self.out = bootstrap, namespace, out

    def save(self, stage_id: str, kind: str, data: bytes) -> None:
        key = stage_id if kind == "full" else f"{stage_id}:offsets"
        self.out.send([Outgoing(state_topic(self.namespace, stage_id), key.encode(), data)])

    def load(self, stage_id: str, timeout: float = 30.0) -> tuple[bytes | None, bytes | None]:
        """(latest full checkpoint, latest offsets checkpoint), each None when absent."""
        topic = state_topic(self.namespace, stage_id)
        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"ckpt-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "fetch.message.max.bytes": STATE_MAX_BYTES,
                **QUIET,
            }
        )
        latest: dict[bytes | None, bytes | None] = {}
        try:
            low, high = _watermarks(c, TopicPartition(topic, 0), timeout)
            if high <= low:
                return None, None
            c.assign([TopicPartition(topic, 0, low)])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None or msg.error():
                    continue
                latest[msg.key()] = msg.value()
                if (msg.offset() or 0) >= high - 1:
                    return latest.get(stage_id.encode()), latest.get(f"{stage_id}:offsets".encode())
            raise TimeoutError(f"checkpoint topic {topic} not read to its end in {timeout}s")
        finally:
            c.close()


_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def _watermarks(c: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """(low, high) offsets of ``tp``, waiting out a topic created a moment ago (no leader elected yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = c.get_watermark_offsets(tp, timeout=timeout)
            return int(low), int(high)
        except KafkaException as exc:
            if exc.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def read_to_end(bootstrap: str, key: str, namespace: str, timeout: float = 60.0) -> Batch:
    """Decode every record of topic ``key`` up to its current end (markers skipped)."""
    t = TOPICS[key]
    name = t.name(namespace)
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4()}",
            "enable.auto.commit": False,
            **QUIET,
        }
    )
    values: list[bytes] = []
    indexes: list[bytes | None] = []
    try:
        ends: dict[int, int] = {}
        for p in range(t.partitions):
            low, high = c.get_watermark_offsets(TopicPartition(name, p), timeout=timeout)
            if high > low:
                ends[p] = high
        c.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} not read to its end in {timeout}s")
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = dict(msg.headers() or [])
            if headers.get(MARKER_HEADER) is None:
                values.append(bytes(msg.value() or b""))
                index = headers.get(ROW_INDEX_HEADER)
                indexes.append(index if isinstance(index, bytes) else None)
            partition = int(msg.partition() or 0)
            if (msg.offset() or 0) >= ends.get(partition, 0) - 1:
                ends.pop(partition, None)
    finally:
        c.close()
    batch, errors, _ = codec_for(key, namespace).decode_messages(values, indexes)
    if errors:
        raise ValueError(f"{len(errors)} undecodable records on {key}: {errors[:3]}")
    return batch


def publish(out: Out, key: str, batch: Batch, namespace: str, max_records: int = 1) -> int:
    """Encode ``batch`` with the topic's schema in messages of up to ``max_records`` records (keyed by
    pair when a message holds one pair) and produce it; return the record count."""
    t = TOPICS[key]
    values = codec_for(key, namespace).encode_batch_indexed(batch, max_records)
    out.send(
        Outgoing(t.name(namespace), message_key(batch, i, max_records), v, index_header(idx))
        for i, (v, idx) in enumerate(values)
    )
    return batch.n


def control_notice(namespace: str, issuer: str, reason: str, now_ms: int) -> list[Outgoing]:
    """A NONE record on ``control`` (a notice: it changes no state; due at the next event, ts 0) from
    ``issuer``, as messages to send."""
    rec = {
        "command_id": f"{issuer}:NONE:{now_ms}",
        "ts": 0,
        "action": "NONE",
        "scale": 1.0,
        "pair": "",
        "issuer": issuer,
        "reason": reason,
        "signature": "",
    }
    (value,) = codec_for("control", namespace).encode_batch(Batch.from_records([rec], list(rec)))
    return [Outgoing(TOPICS["control"].name(namespace), b"", value)]


def publish_watermark(out: Out, key: str, ts_ms: int, namespace: str) -> None:
    """Promise that no record at or before ``ts_ms`` follows on ``key`` (a live gateway's minute close)."""
    out.send(marker_messages(key, namespace, watermark(ts_ms)))


def publish_marker(out: Out, key: str, run: str, namespace: str) -> None:
    out.send(marker_messages(key, namespace, marker(run)))


def _take(
    msg: Any,
    run: str,
    pending: set[tuple[str, int]],
    names: dict[str, str],
    values: dict[str, list[bytes]],
    indexes: dict[str, list[bytes | None]],
) -> None:
    """File one consumed message: a record of a pending partition, or the end-of-replay marker of ``run``."""
    headers: dict[str, bytes] = dict(msg.headers() or [])
    topic, partition = str(msg.topic()), int(msg.partition())
    kind = headers.get(MARKER_HEADER)
    if kind is not None:  # markers carry no records (watermarks are skipped)
        if kind == END_OF_REPLAY and headers.get(RUN_HEADER, b"").decode() == run:
            pending.discard((topic, partition))
        return
    if (topic, partition) in pending:
        values[names[topic]].append(bytes(msg.value()))
        indexes[names[topic]].append(headers.get(ROW_INDEX_HEADER))


COLLECT_WAIT_S = 0.02
"""How long :func:`collect` lets librdkafka gather messages per call: ``Consumer.consume(n, t)`` returns only
after ``t`` unless ``n`` messages came, so this bounds how late the last marker is seen."""


def _decoded(key: str, namespace: str, values: list[bytes], indexes: list[bytes | None]) -> Batch:
    batch, errors, _ = codec_for(key, namespace).decode_messages(values, indexes)
    if errors:
        raise ValueError(f"{len(errors)} undecodable records on {key}: {errors[:3]}")
    return batch


def collect(
    bootstrap: str,
    keys: Sequence[str],
    run: str,
    namespace: str,
    timeout: float = 300.0,
    alive: Callable[[], bool] | None = None,
) -> dict[str, Batch]:
    """Read ``keys`` topics from the start until each has delivered the end-of-replay marker of ``run``
    on every partition; return the decoded records per topic key (in topic order).

    Records are decoded as they arrive (what each poll brought, per topic), while the producers still
    work, and joined at the end: the same batch as decoding them all at once. ``alive`` (e.g. "the
    worker process is still running") is polled so a dead producer fails fast.
    """
    names = {TOPICS[k].name(namespace): k for k in keys}
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"collect-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **QUIET,
        }
    )
    pending = {(n, p) for n, k in names.items() for p in range(TOPICS[k].partitions)}
    values: dict[str, list[bytes]] = {k: [] for k in keys}
    indexes: dict[str, list[bytes | None]] = {k: [] for k in keys}
    parts: dict[str, list[Batch]] = {k: [] for k in keys}
    c.subscribe(list(names))
    deadline = time.monotonic() + timeout
    try:
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no end-of-replay marker for run {run} on {sorted(pending)}")
            if alive is not None and not alive():
                raise RuntimeError(f"the producer of {sorted(pending)} stopped before the end of run {run}")
            for msg in c.consume(10000, COLLECT_WAIT_S):
                if not msg.error():
                    _take(msg, run, pending, names, values, indexes)
            for k, vals in values.items():
                if vals:
                    parts[k].append(_decoded(k, namespace, vals, indexes[k]))
                    vals.clear()
                    indexes[k].clear()
    finally:
        c.close()
    return {k: concat(p) if p else _decoded(k, namespace, [], []) for k, p in parts.items()}

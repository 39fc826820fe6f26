"""The transport-free half of the stage binding.

A :class:`StageRuntime` wraps one pure stage and handles what every transport needs: Avro decoding
with dead-lettering, offset-based redelivery skipping, duplicate suppression on one-record-per-bar
topics, poison-record isolation (a record whose processing raises is dead-lettered and a HALT control
command is emitted; the rest of the batch is processed), Avro encoding of outputs, end-of-replay
markers, and checkpoints of state plus offsets. The Faust agent only moves bytes in and out of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from streams.core import state_codec
from streams.core.batch import Batch
from streams.core.fused import FusedState
from streams.core.stage import Stage
from streams.core.topics import DEFAULT_NAMESPACE, TOPICS, Topic
from streams.serde.avro import AvroCodec
from streams.serde.fast_encode import ROW_INDEX_HEADER

MARKER_HEADER = "hslr-marker"
END_OF_REPLAY = b"end_of_replay"
RUN_HEADER = "hslr-run"
WATERMARK = b"watermark"
"""Marker kind: no record with ``ts`` at or before the marker's ``hslr-watermark`` time follows on
this partition (a live feed gateway publishes one per closed minute; replays need none)."""
WATERMARK_HEADER = "hslr-watermark"

Headers = tuple[tuple[str, bytes], ...]
log = logging.getLogger("hslr.runtime")


@dataclass(frozen=True)
class Envelope:
    """One consumed Kafka message, transport-neutral."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


@dataclass(frozen=True)
class Outgoing:
    """One message to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()
    partition: int | None = None


@dataclass(frozen=True)
class _Later:
    """A stage output whose encoding :meth:`StageRuntime.rest` does, after the ``first`` topics are out."""

    key: str
    batch: Batch


Pending = Outgoing | _Later


class Metrics(Protocol):
    def events_in(self, stage: str, topic: str, n: int) -> None: ...
    def events_out(self, stage: str, topic: str, n: int) -> None: ...
    def dead_letter(self, stage: str, reason: str, n: int) -> None: ...
    def error(self, stage: str) -> None: ...
    def duplicates(self, stage: str, topic: str, n: int) -> None: ...
    def processing(self, stage: str, seconds: float) -> None: ...
    def phase(self, stage: str, phase: str, seconds: float) -> None: ...
    def last_event(self, stage: str, ts_ms: int) -> None: ...
    def records(self, stage: str, topic: str, batch: Batch) -> None: ...


def accepted_event_time(spec: Any, topic: str, batch: Batch, outputs: Any) -> int | None:
    """Event time (ms) a batch moves the stage's ``hslr_last_event_ts_seconds`` to, or None.

    Only the primary input counts (a control command's time, 0 for "at the next event", is no event
    of the stream). A stage with per-bar outputs reports the newest record it let through, so a bar the
    market stage quarantined (year 2999) never makes the watchdog see a stage living in the future.
    """
    if topic != spec.primary or "ts" not in batch or not batch.n:
        return None
    per_bar = [k for k in spec.outputs if TOPICS[k].one_per_bar]
    if not per_bar:
        return int(batch["ts"].max())
    got = [int(b["ts"].max()) for k, b in outputs.items() if k in per_bar and b.n and "ts" in b]
    return max(got) if got else None


class NullMetrics:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


@dataclass
class Checkpoint:
    state: Any
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    last_ts: dict[tuple[str, str], int] = field(default_factory=dict)


def message_key(batch: Batch, chunk: int, size: int) -> bytes | None:
    """Kafka key of the ``chunk``-th message of ``batch``: its pair when all its records share one."""
    if "pair" not in batch:
        return None
    pairs = batch["pair"][chunk * max(size, 1) : (chunk + 1) * max(size, 1)]
    return str(pairs[0]).encode() if (pairs == pairs[0]).all() else None


def index_header(index: bytes | None) -> Headers:
    """The row-index header of a record batch (none for single records or fastavro-written batches)."""
    return () if index is None else ((ROW_INDEX_HEADER, index),)


def _parts(state: Any) -> tuple[Any, ...]:
    """A state's independently checkpointed parts: a fused state's members, else the state itself."""
    return state.members if isinstance(state, FusedState) else (state,)


def _join(template: Any, parts: tuple[Any, ...]) -> Any:
    return FusedState(parts) if isinstance(template, FusedState) else parts[0]


def marker(run: str) -> Headers:
    return ((MARKER_HEADER, END_OF_REPLAY), (RUN_HEADER, run.encode()))


def watermark(ts_ms: int) -> Headers:
    """Headers of a watermark marker for event time ``ts_ms``."""
    return ((MARKER_HEADER, WATERMARK), (WATERMARK_HEADER, str(int(ts_ms)).encode()))


_MARKER_KEYS = {END_OF_REPLAY: b"__eor__", WATERMARK: b"__wm__"}


def marker_messages(key: str, namespace: str, headers: Headers) -> list[Outgoing]:
    """The marker ``headers`` (:func:`marker` or :func:`watermark`) as one empty message per partition of
    topic ``key``: the only way markers are written, by the runtime and by publishers."""
    t = TOPICS[key]
    kind = dict(headers)[MARKER_HEADER]
    return [Outgoing(t.name(namespace), _MARKER_KEYS[kind], b"", headers, p) for p in range(t.partitions)]


class StageRuntime:
    """Runs one stage over transport envelopes; see the module docstring."""

    def __init__(
        self,
        stage: Stage[Any],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
        max_records: int = 500,
        codec_for: Callable[[str], Any] | None = None,
        unpublished: frozenset[str] = frozenset(),
        first: Sequence[str] = (),
    ) -> None:
        """``unpublished``: output topic keys computed but neither encoded nor produced (nor their
        end-of-replay markers): a replay's internal topics that no one reads."""
        self.stage = stage
        self.unpublished = unpublished
        self.sid = stage.spec.id
        self.namespace = namespace
        self.metrics: Any = metrics or NullMetrics()
        self.clock = clock
        self.max_records = max_records
        self.cp = Checkpoint(stage.initial_state())
        self._by_name: dict[str, Topic] = {TOPICS[k].name(namespace): TOPICS[k] for k in stage.spec.inputs}
        make = codec_for or (lambda k: AvroCodec(TOPICS[k].schema))
        self._codecs = {k: make(k) for k in (*stage.spec.inputs, *stage.spec.outputs)}
        self._dlq = AvroCodec(TOPICS["deadletter"].schema)
        self._control = AvroCodec(TOPICS["control"].schema)
        self._markers: dict[str, set[int]] = {}
        self.halted: str | None = None
        self._seq = 0
        self._base_seq = 0
        self._saved: tuple[Any, ...] | None = None  # the state parts of the last full checkpoint
        self._ckpt_state: Any = None  # state and duplicate guards at the last checkpoint (see changed())
        self._ckpt_guards: dict[tuple[str, str], int] = {}
        self._defer = False
        self._readings: list[tuple[str, Batch]] = []  # deferred domain readings (see handle)
        self._first = frozenset(TOPICS[k].name(namespace) for k in first)
        self._pending: list[Pending] = []  # the messages rest() encodes and returns (see handle)

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint(self) -> tuple[str, bytes]:
        """``("full", bytes)``: the whole state, or ``("offsets", bytes)``: a delta on top of the last full
        checkpoint, holding offsets, duplicate guards and only the state parts that changed since that full
        checkpoint. A plain stage's state is one part (unchanged: an offsets-only record, so a stage whose
        state rarely changes, like news with its calendar of megabytes, does not rewrite it per batch); a
        :class:`~streams.core.fused.FusedState` has one part per member, so co-located stages rewrite the
        members that move and not the calendar. A full checkpoint is written when every part changed.
        Both carry a sequence number; :meth:`restore` applies a delta only to the full checkpoint it was
        computed from."""
        self._seq += 1
        self._ckpt_state, self._ckpt_guards = self.cp.state, dict(self.cp.last_ts)
        parts = _parts(self.cp.state)
        base = self._saved
        if base is not None and len(base) == len(parts):
            changed = {i: p for i, p in enumerate(parts) if p is not base[i]}
            if len(changed) < len(parts):
                delta = (self._seq, self._base_seq, self.cp.offsets, self.cp.last_ts, changed)
                return "offsets", state_codec.dumps(delta)
        self._saved, self._base_seq = parts, self._seq
        return "full", state_codec.dumps((self._seq, self.cp))

    def changed(self) -> bool:
        """Whether the state or the duplicate guards moved since the last checkpoint (offsets alone do
        not count: redelivering a batch that changed neither and produced nothing is a no-op)."""
        return self.cp.state is not self._ckpt_state or self.cp.last_ts != self._ckpt_guards

    def restore(self, full: bytes, offsets: bytes | None = None) -> None:
        seq, cp = state_codec.loads(full)
        if not isinstance(cp, Checkpoint):
            raise TypeError(f"checkpoint of {self.sid} holds {type(cp).__name__}")
        base_seq, base = seq, _parts(cp.state)
        if offsets is not None:
            oseq, obase, offs, last_ts, changed = state_codec.loads(offsets)
            if obase == seq and oseq > seq:  # a delta computed from this very full checkpoint
                parts = tuple(changed.get(i, p) for i, p in enumerate(base))
                cp = Checkpoint(_join(cp.state, parts), offs, last_ts)
                seq = oseq
        self.cp, self._seq, self._base_seq, self._saved = cp, seq, base_seq, base
        self._ckpt_state, self._ckpt_guards = cp.state, dict(cp.last_ts)

    # -- processing --------------------------------------------------------------------------------
    def handle(self, envelopes: Sequence[Envelope], defer_readings: bool = False) -> list[Outgoing]:
        """Process consumed messages in order; return the messages to produce (in order).

        ``defer_readings``: the domain metrics of the outputs (equity, positions, regime ...) are left
        for :meth:`report_readings`, so a live binding produces the decisions first and computes its
        gauges after (they cost ~1 ms a minute for 12 pairs, on the bar close -> order path).

        A runtime built with ``first`` topics returns only their messages here and leaves the others
        (encoded or not yet) to :meth:`rest`: the live binding produces the orders before it spends the
        time to encode features, signals and the rest of the minute. Each topic's messages keep their
        order (records, then the markers after them); only the order across topics changes, which Kafka
        does not keep anyway."""
        self._defer = defer_readings
        t0 = self.clock()
        out: list[Pending] = []
        run: list[Envelope] = []
        for env in envelopes:
            if env.offset <= self.cp.offsets.get((env.topic, env.partition), -1):
                continue  # redelivered after a restart: already applied to the checkpointed state
            self.cp.offsets[(env.topic, env.partition)] = env.offset
            kind = env.header(MARKER_HEADER)
            if kind is not None:
                self._flush(run, out)
                run = []
                out.extend(self._on_marker(env) if kind == END_OF_REPLAY else self._on_watermark(env))
            elif run and run[-1].topic != env.topic:
                self._flush(run, out)
                run = [env]
            else:
                run.append(env)
        self._flush(run, out)
        if envelopes:
            self.metrics.processing(self.sid, self.clock() - t0)
        if not self._first:
            return [o for o in out if isinstance(o, Outgoing)]  # nothing is left for later then
        now = [o for o in out if isinstance(o, Outgoing) and o.topic in self._first]
        self._pending.extend(o for o in out if not (isinstance(o, Outgoing) and o.topic in self._first))
        return now

    def rest(self) -> list[Outgoing]:
        """The messages the last :meth:`handle` left for later (a runtime with ``first`` topics), encoded
        now, in their order; an output its schema rejects becomes a HALT, as in :meth:`handle`."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        t0 = self.clock()
        out: list[Pending] = []
        for o in pending:
            if isinstance(o, _Later):
                self._encode(o.key, o.batch, out)
            else:
                out.append(o)
        self.metrics.phase(self.sid, "encode", self.clock() - t0)
        return [o for o in out if isinstance(o, Outgoing)]

    def _flush(self, run: list[Envelope], out: list[Pending]) -> None:
        if not run:
            return
        t = self._by_name.get(run[0].topic)
        if t is None:
            out.extend(self._dead(run, "DECODE", f"topic {run[0].topic} is not an input of {self.sid}"))
            return
        t0 = self.clock()
        batch, errors, origin = self._codecs[t.key].decode_messages(
            [e.value or b"" for e in run], [e.header(ROW_INDEX_HEADER) for e in run]
        )
        self.metrics.phase(self.sid, "decode", self.clock() - t0)
        self.metrics.events_in(self.sid, t.key, batch.n)
        for i, reason in errors:
            out.extend(self._dead([run[i]], "DECODE", reason))
        good = [run[i] for i in origin.tolist()]  # the message each row came from
        if t.one_per_bar and batch.n:
            keep = self._fresh(t.key, batch)
            if not keep.all():
                self.metrics.duplicates(self.sid, t.key, int((~keep).sum()))
                batch = batch.take(keep)
                good = [e for e, k in zip(good, keep, strict=True) if k]
        if batch.n:
            self._process(t.key, batch, good, out)

    def _fresh(self, key: str, batch: Batch) -> np.ndarray:
        pairs, ts = batch["pair"], batch["ts"]
        keep = np.ones(batch.n, dtype=bool)
        for p in np.unique(pairs):
            idx = np.flatnonzero(pairs == p)
            last = self.cp.last_ts.get((key, str(p)), np.iinfo(np.int64).min)
            running = np.maximum.accumulate(np.concatenate([[last], ts[idx]]))[:-1]
            keep[idx] = ts[idx] > running
            self.cp.last_ts[(key, str(p))] = int(max(last, ts[idx].max()))
        return keep

    def _process(self, key: str, batch: Batch, envs: list[Envelope], out: list[Pending]) -> None:
        t0 = self.clock()
        try:
            self.cp.state, outputs = self.stage.process(self.cp.state, key, batch)
        except Exception:  # noqa: BLE001 - isolate the poison record(s) below
            outputs = self._isolate(key, batch, envs, out)
        t1 = self.clock()
        self._emit(outputs, out)
        self.metrics.phase(self.sid, "stages", t1 - t0)
        self.metrics.phase(self.sid, "encode", self.clock() - t1)
        ts = accepted_event_time(self.stage.spec, key, batch, outputs)
        if ts is not None:
            self.metrics.last_event(self.sid, ts)

    def _isolate(self, key: str, batch: Batch, envs: list[Envelope], out: list[Pending]) -> dict[str, Batch]:
        from streams.core.batch import concat

        parts: dict[str, list[Batch]] = {}
        for i in range(batch.n):
            try:
                self.cp.state, o = self.stage.process(self.cp.state, key, batch.take(slice(i, i + 1)))
            except Exception as exc:  # noqa: BLE001 - dead-letter and halt, never a crash loop
                self.metrics.error(self.sid)
                reason = f"{type(exc).__name__}: {exc}"
                out.extend(self._dead([self._single(key, batch, i, envs[i])], "PROCESS", reason))
                out.extend(self._halt(int(batch["ts"][i]) if "ts" in batch else 0, reason))
                continue
            for k, b in o.items():
                parts.setdefault(k, []).append(b)
        return {k: concat(v) for k, v in parts.items()}

    def _single(self, key: str, batch: Batch, i: int, env: Envelope) -> Envelope:
        """The envelope of row ``i`` with just that record as its value (a message may hold many)."""
        try:
            value = self._codecs[key].encode(batch.take(slice(i, i + 1)).to_records()[0])
        except Exception:  # noqa: BLE001 - keep the original message then
            return env
        return Envelope(env.topic, env.partition, env.offset, env.key, value, env.headers, env.timestamp_ms)

    def _emit(self, outputs: Any, out: list[Pending]) -> None:
        for key, b in outputs.items():
            if not b.n or key in self.unpublished:
                continue
            if self._first and TOPICS[key].name(self.namespace) not in self._first:
                out.append(_Later(key, b))  # encoded by rest(), after the first topics are out
            else:
                self._encode(key, b, out)

    def _encode(self, key: str, b: Batch, out: list[Pending]) -> None:
        t = TOPICS[key]
        try:
            values = self._codecs[key].encode_batch_indexed(b, self.max_records)
        except Exception as exc:  # noqa: BLE001 - a stage emitted a record its schema rejects
            self.metrics.error(self.sid)
            out.extend(self._halt(0, f"encode {key}: {type(exc).__name__}: {exc}"))
            return
        name = t.name(self.namespace)
        out.extend(
            Outgoing(name, message_key(b, i, self.max_records), v, index_header(idx))
            for i, (v, idx) in enumerate(values)
        )
        self.metrics.events_out(self.sid, key, b.n)
        if self._defer:
            self._readings.append((key, b))
        else:
            self.metrics.records(self.sid, key, b)  # equity, positions, orders, regime … (readings.py)

    def report_readings(self) -> None:
        """Export the domain metrics that :meth:`handle` deferred."""
        due, self._readings = self._readings, []
        for key, b in due:
            self.metrics.records(self.sid, key, b)

    def _dead(self, envs: Sequence[Envelope], kind: str, reason: str) -> list[Outgoing]:
        self.metrics.dead_letter(self.sid, kind, len(envs))
        log.warning(
            "%d record(s) dead-lettered (%s): %s",
            len(envs),
            kind,
            reason,
            extra={
                "stage": self.sid,
                "event": "dead_letter",
                "message_ids": [f"{e.topic}:{e.partition}:{e.offset}" for e in envs[:20]],
            },
        )
        return [
            Outgoing(
                TOPICS["deadletter"].name(self.namespace),
                e.key,
                self._dlq.encode(
                    {
                        "stage": self.sid,
                        "topic": e.topic,
                        "partition": e.partition,
                        "offset": e.offset,
                        "key": e.key,
                        "value": e.value or b"",
                        "error_kind": kind,
                        "reason": reason,
                        "ts": e.timestamp_ms,
                    }
                ),
            )
            for e in envs
        ]

    def _halt(self, ts: int, reason: str) -> list[Outgoing]:
        self.halted = reason
        rec = {
            "command_id": f"binding:{self.sid}:{ts}",
            "ts": ts,
            "action": "HALT",
            "scale": 1.0,
            "pair": "",
            "issuer": f"binding:{self.sid}",
            "reason": reason,
        }
        return [Outgoing(TOPICS["control"].name(self.namespace), None, self._control.encode(rec))]

    def _on_watermark(self, env: Envelope) -> Sequence[Pending]:
        """A watermark on the primary input: the stage's ``on_watermark`` (when it has one) may emit what
        the watermark completes (the trader decides a minute a missing pair held back); then the marker is
        forwarded, after those outputs, on the per-bar outputs (the topics stages read as their primary
        input; not on orders, control or dead letters), so downstream stages get it in the same order."""
        primary = TOPICS[self.stage.spec.primary]
        if env.topic != primary.name(self.namespace):
            return []
        if primary.partitions != 1:  # the effective watermark would be the minimum over partitions
            return self._dead(
                [env], "PROCESS", f"watermarks need a one-partition primary input ({primary.key})"
            )
        raw = env.header(WATERMARK_HEADER) or b""
        try:
            ts = int(raw.decode())
        except ValueError:
            return self._dead(
                [env], "DECODE", f"watermark without a valid {WATERMARK_HEADER} header: {raw!r}"
            )
        out: list[Pending] = []
        hook = getattr(self.stage, "on_watermark", None)
        if hook is not None:
            try:
                self.cp.state, outputs = hook(self.cp.state, ts)
            except Exception as exc:  # noqa: BLE001 - dead-letter and halt, never a crash loop
                self.metrics.error(self.sid)
                reason = f"watermark: {type(exc).__name__}: {exc}"
                return [*self._dead([env], "PROCESS", reason), *self._halt(ts, reason)]
            self._emit(outputs, out)
        for k in self.stage.spec.outputs:
            if TOPICS[k].one_per_bar:
                out.extend(marker_messages(k, self.namespace, watermark(ts)))
        return out

    def _on_marker(self, env: Envelope) -> list[Outgoing]:
        primary = TOPICS[self.stage.spec.primary]
        if env.topic != primary.name(self.namespace):
            return []
        run = (env.header(RUN_HEADER) or b"").decode()
        seen = self._markers.setdefault(run, set())
        seen.add(env.partition)
        if len(seen) < primary.partitions:
            return []
        del self._markers[run]
        keys = [k for k in self.stage.spec.outputs if k not in self.unpublished]
        return [m for k in keys for m in marker_messages(k, self.namespace, marker(run))]

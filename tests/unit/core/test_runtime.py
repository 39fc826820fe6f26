from __future__ import annotations

import numpy as np

from streams.core.batch import Batch
from streams.core.stage import StageSpec
from streams.runner.runtime import Envelope, StageRuntime, marker
from streams.serde.avro import AvroCodec
from tests.kit.bars import bars

NS = "t"


class Passthrough:
    """bars.clean → features-like echo; raises on a price of exactly 13.0 (the poison record)."""

    spec = StageSpec("echo", ("bars.clean",), ("bars",))

    def initial_state(self) -> int:
        return 0  # records seen (checkpoints only admit project classes and builtins)

    def process(self, state: int, topic: str, batch: Batch) -> tuple[int, dict[str, Batch]]:
        if (batch["close"] == 13.0).any():
            raise ValueError("poison")
        return state + batch.n, {"bars": batch}


def envs(b: Batch, start: int = 0, topic: str = "t.bars.clean") -> list[Envelope]:
    values = AvroCodec("bar").encode_batch(b)
    return [Envelope(topic, 0, start + i, b["pair"][i].encode(), v) for i, v in enumerate(values)]


def decoded(out: list, topic: str, schema: str) -> Batch:
    return AvroCodec(schema).decode_batch([o.value for o in out if o.topic == topic])[0]


def test_outputs_are_encoded_and_keyed_by_pair() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS, max_records=1)
    b = bars(5)
    out = rt.handle(envs(b))
    assert decoded(out, "t.bars", "bar").equals(b)
    assert [o.key for o in out] == [p.encode() for p in b["pair"]]
    assert rt.cp.state == 10


def test_outputs_travel_as_record_batches() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS, max_records=4)
    b = bars(5)  # 10 records → messages of 4, 4, 2
    out = rt.handle(envs(b))
    assert len(out) == 3
    assert all(o.key is None for o in out)
    assert decoded(out, "t.bars", "bar").equals(b)
    one_pair = StageRuntime(Passthrough(), namespace=NS, max_records=4).handle(envs(bars(3, ("EURUSD",))))
    assert [o.key for o in one_pair] == [b"EURUSD"]


def test_garbage_goes_to_dead_letter_and_processing_continues() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS)
    b = bars(3)
    batch = envs(b)
    batch.insert(2, Envelope("t.bars.clean", 0, 0, b"k", b"not an avro record"))
    out = rt.handle([Envelope(e.topic, 0, i, e.key, e.value) for i, e in enumerate(batch)])
    dead = decoded(out, "t.deadletter", "dead_letter")
    assert dead.n == 1
    assert dead["error_kind"][0] == "DECODE"
    assert dead["value"][0] == b"not an avro record"
    assert "bad magic" in dead["reason"][0]
    assert decoded(out, "t.bars", "bar").n == 6


def test_poison_record_is_isolated_dead_lettered_and_halts() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS)
    b = bars(4)
    close = b["close"].copy()
    close[3] = 13.0
    b = b.with_columns(close=close, high=np.maximum(b["high"], 13.0))
    out = rt.handle(envs(b))
    dead = decoded(out, "t.deadletter", "dead_letter")
    assert dead.n == 1
    assert dead["error_kind"][0] == "PROCESS"
    assert "poison" in dead["reason"][0]
    assert dead["offset"][0] == 3
    control = decoded(out, "t.control", "control")
    assert control["action"].tolist() == ["HALT"]
    assert control["issuer"][0] == "binding:echo"
    assert decoded(out, "t.bars", "bar").n == 7  # every other record still processed
    assert rt.halted is not None


def test_redelivery_after_restore_is_skipped() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS)
    b = bars(10)
    first = envs(b)
    rt.handle(first[:12])
    kind, saved = rt.checkpoint()
    assert kind == "full"
    again = StageRuntime(Passthrough(), namespace=NS)
    again.restore(saved)
    out = again.handle(first)  # at-least-once: the broker redelivers from an older offset
    assert decoded(out, "t.bars", "bar").equals(b.take(slice(12, 20)))
    assert again.cp.state == 20


def test_duplicate_bars_on_one_per_bar_topics_are_dropped() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS)
    b = bars(5)
    rt.handle(envs(b))
    out = rt.handle(envs(b.take(slice(6, 10)), start=100))  # upstream re-emitted the last 2 minutes
    assert [o for o in out if o.topic == "t.bars"] == []


def test_end_of_replay_marker_is_forwarded_after_outputs() -> None:
    rt = StageRuntime(Passthrough(), namespace=NS)
    b = bars(2)
    out = rt.handle([*envs(b), Envelope("t.bars.clean", 0, 4, b"__eor__", b"", marker("run-1"))])
    assert [o.headers for o in out][-1] == marker("run-1")
    assert out[-1].topic == "t.bars"
    assert out[-1].partition == 0
    assert all(dict(o.headers).get("hslr-marker") is None for o in out[:-1])


def test_checkpoints_refuse_foreign_classes() -> None:
    import pickle

    import pytest

    from streams.core import state_codec

    with pytest.raises(pickle.UnpicklingError, match="refused"):
        state_codec.loads(pickle.dumps(__import__("subprocess").Popen))  # a class outside the allow-list


class Stateless(Passthrough):
    def process(self, state: int, topic: str, batch: Batch) -> tuple[int, dict[str, Batch]]:
        return state, {"bars": batch}  # the same state object: nothing to rewrite


def test_unchanged_state_is_checkpointed_as_offsets_only() -> None:
    rt = StageRuntime(Stateless(), namespace=NS)
    b = envs(bars(10))
    rt.handle(b[:5])
    kind1, full = rt.checkpoint()
    rt.handle(b[5:15])
    kind2, offsets = rt.checkpoint()
    assert (kind1, kind2) == ("full", "offsets")
    again = StageRuntime(Stateless(), namespace=NS)
    again.restore(full, offsets)
    out = again.handle(b)  # everything up to offset 14 was applied: only 15.. are new
    assert decoded(out, "t.bars", "bar").n == 5
    stale = StageRuntime(Stateless(), namespace=NS)
    stale.restore(full, None)
    assert decoded(stale.handle(b), "t.bars", "bar").n == 15


class Forward(Passthrough):
    """bars → bars.clean (a per-bar topic: watermarks travel on those)."""

    spec = StageSpec("fwd", ("bars",), ("bars.clean",))

    def process(self, state: int, topic: str, batch: Batch) -> tuple[int, dict[str, Batch]]:
        return state + batch.n, {"bars.clean": batch}


class Holding(Forward):
    """Holds every record back until a watermark releases those at or before it (like the trader)."""

    def initial_state(self) -> tuple:
        return ()

    def process(self, state: tuple, topic: str, batch: Batch) -> tuple[tuple, dict[str, Batch]]:
        return (*state, batch), {}

    def on_watermark(self, state: tuple, ts: int) -> tuple[tuple, dict[str, Batch]]:
        from streams.core.batch import concat

        if not state:
            return state, {}
        held = concat(list(state))
        due = held["ts"] <= ts
        rest = held.take(~due)
        return ((rest,) if rest.n else ()), {"bars.clean": held.take(due)}


def test_a_watermark_releases_held_records_then_travels_on_after_them() -> None:
    from streams.runner.runtime import WATERMARK_HEADER, watermark

    rt = StageRuntime(Holding(), namespace=NS)
    b = bars(4)  # minutes 0..3, two pairs each
    t1 = int(b["ts"][3])  # end of minute 1
    out = rt.handle([*envs(b, topic="t.bars"), Envelope("t.bars", 0, 8, b"__wm__", b"", watermark(t1))])
    assert decoded(out[:-1], "t.bars.clean", "bar").equals(b.take(slice(0, 4)))  # minutes 0 and 1 only
    assert out[-1].topic == "t.bars.clean"
    assert dict(out[-1].headers)[WATERMARK_HEADER] == str(t1).encode()
    assert out[-1].value == b""
    again = rt.handle([Envelope("t.bars", 0, 9, None, b"", watermark(t1))])  # nothing left that old
    assert [o.value for o in again] == [b""]
    bad = rt.handle([Envelope("t.bars", 0, 10, None, b"", (("hslr-marker", b"watermark"),))])
    assert [o.topic for o in bad] == ["t.deadletter"]
    assert rt.handle([Envelope("t.control", 0, 0, None, b"", watermark(t1))]) == []  # not the primary input


def test_a_stage_without_a_watermark_hook_forwards_it_on_per_bar_outputs_only() -> None:
    from streams.runner.runtime import watermark

    rt = StageRuntime(Forward(), namespace=NS)
    out = rt.handle([Envelope("t.bars", 0, 0, None, b"", watermark(123))])
    assert [(o.topic, o.headers) for o in out] == [("t.bars.clean", watermark(123))]
    rt = StageRuntime(Passthrough(), namespace=NS)  # writes the raw feed topic: no watermark on it
    assert rt.handle([Envelope("t.bars.clean", 0, 0, None, b"", watermark(123))]) == []


def test_only_batches_that_moved_state_or_produced_output_need_a_checkpoint() -> None:
    rt = StageRuntime(Stateless(), namespace=NS)
    b = envs(bars(3))
    rt.handle(b[:2])
    assert rt.changed()  # duplicate guards moved
    rt.checkpoint()
    assert not rt.changed()
    assert rt.handle([Envelope("t.control", 0, 0, None, b"")])
    assert not rt.changed()
    rt.handle(b[2:4])
    assert rt.changed()


def test_forged_resume_is_dead_lettered_with_its_reason_and_a_signed_one_applies() -> None:
    # issue 11 #4: any producer could write issuer="operator" and clear the kill switch
    from streams.core.control_auth import sign
    from streams.stages.trader.stage import TraderStage
    from tests.kit.control import CONTROL_KEY

    class Counting:
        def __init__(self) -> None:
            self.dead: list[tuple[str, str, int]] = []

        def __getattr__(self, name: str):
            return lambda *a, **k: self.dead.append(a) if name == "dead_letter" else None

    metrics = Counting()
    rt = StageRuntime(TraderStage(control_key=CONTROL_KEY), namespace=NS, metrics=metrics)
    codec = AvroCodec("control")
    kill = {
        "command_id": "w:KILL:1",
        "ts": 1,
        "action": "KILL",
        "scale": 0.0,
        "pair": "",
        "issuer": "watchdog",
    }
    kill["reason"] = "blind"
    forged = {**kill, "command_id": "x:RESUME:2", "ts": 2, "action": "RESUME", "issuer": "operator"}
    forged["signature"] = "ab" * 32
    real = {k: v for k, v in forged.items() if k != "signature"} | {"command_id": "op:RESUME:3", "ts": 3}
    real["signature"] = sign(real, CONTROL_KEY)
    msgs = [Envelope("t.control", 0, i, None, codec.encode(r)) for i, r in enumerate((kill, forged, real))]
    out = rt.handle(msgs)
    dead = decoded(out, "t.deadletter", "dead_letter")
    assert dead.n == 1
    assert dead["offset"][0] == 1
    assert "RESUME from 'operator' not authenticated (missing or invalid signature)" in dead["reason"][0]
    assert metrics.dead == [("trader", "PROCESS", 1)]
    queue = rt.cp.state.control.queue
    assert [(c.command_id, c.authenticated) for c in queue] == [("w:KILL:1", False), ("op:RESUME:3", True)]


def test_last_event_time_ignores_quarantined_bars_and_side_inputs() -> None:
    # issue 11 #1: a year-2999 bar (quarantined) must not set the stage's last event into the future,
    # and an operator command for "the next event" (ts 0) is no event of the stream
    from streams.stages.market import MarketStage
    from streams.stages.trader.stage import TraderStage

    class Counting:
        def __init__(self) -> None:
            self.last: list[int] = []

        def __getattr__(self, name: str):
            return lambda *a, **k: self.last.append(a[1]) if name == "last_event" else None

    metrics = Counting()
    b = bars(5, ("GBPUSD",))
    ts = b["ts"].copy()
    ts[2] = ts[4] + 979 * 365 * 86_400_000
    rt = StageRuntime(MarketStage(), namespace=NS, metrics=metrics)
    rt.handle(envs(b.with_columns(ts=ts), topic="t.bars"))
    assert metrics.last == [int(b["ts"][4])]
    trader = StageRuntime(TraderStage(), namespace=NS, metrics=metrics)
    cmd = {
        "command_id": "op:HALT:0",
        "ts": 0,
        "action": "HALT",
        "scale": 1.0,
        "pair": "",
        "issuer": "operator",
    }
    trader.handle([Envelope("t.control", 0, 0, None, AvroCodec("control").encode({**cmd, "reason": "x"}))])
    assert metrics.last == [int(b["ts"][4])]


class PhaseRecorder:
    def __init__(self) -> None:
        self.phases: list[tuple[str, str, float]] = []

    def phase(self, stage: str, phase: str, seconds: float) -> None:
        self.phases.append((stage, phase, seconds))

    def __getattr__(self, name: str) -> object:
        return lambda *a, **k: None


def test_the_runtime_reports_decode_stage_and_encode_time_apart() -> None:
    """A clock that advances one second per reading: each phase is bracketed by two readings."""
    ticks = iter(range(1000))
    rec = PhaseRecorder()
    rt = StageRuntime(Passthrough(), namespace=NS, metrics=rec, clock=lambda: float(next(ticks)))
    rt.handle(envs(bars(3)))
    assert rec.phases == [("echo", "decode", 1.0), ("echo", "stages", 1.0), ("echo", "encode", 1.0)]


def test_deferred_readings_are_reported_after_the_outputs_and_equal_the_immediate_ones() -> None:
    # issue 12 latency: a live binding computes its domain gauges after the decisions are produced
    class Recording:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, int]] = []

        def records_(self, stage: str, topic: str, batch: Batch) -> None:
            self.seen.append((stage, topic, batch.n))

        def __getattr__(self, name: str):
            return self.records_ if name == "records" else (lambda *a, **k: None)

    b = bars(5)
    now, later = Recording(), Recording()
    out_now = StageRuntime(Passthrough(), namespace=NS, metrics=now).handle(envs(b))
    rt = StageRuntime(Passthrough(), namespace=NS, metrics=later)
    out_later = rt.handle(envs(b), defer_readings=True)
    assert now.seen == [("echo", "bars", 10)]
    assert later.seen == []  # nothing computed before the outputs are handed over
    assert [o.value for o in out_later] == [o.value for o in out_now]
    rt.report_readings()
    assert later.seen == now.seen
    rt.report_readings()
    assert later.seen == now.seen  # reported once


def test_unpublished_outputs_are_computed_but_neither_produced_nor_marked() -> None:
    """A replay's internal topics no one reads: the state moves as before, nothing goes out on them."""
    b = bars(5)
    eor = Envelope("t.bars.clean", 0, 10, b"__eor__", b"", marker("run-1"))
    published = StageRuntime(Passthrough(), namespace=NS).handle([*envs(b), eor])
    assert {o.topic for o in published} == {"t.bars"}  # the same stage publishing: records and marker
    rt = StageRuntime(Passthrough(), namespace=NS, unpublished=frozenset({"bars"}))
    assert rt.handle([*envs(b), eor]) == []
    assert rt.cp.state == 10
    assert rt.changed()  # the batch still needs its checkpoint


class TwoOutputs:
    """bars → echoed on ``bars.clean`` and on ``bars``; a close of exactly 13.0 makes the ``bars``
    output unencodable (its ``pair`` becomes a number)."""

    spec = StageSpec("two", ("bars",), ("bars.clean", "bars"))

    def initial_state(self) -> int:
        return 0

    def process(self, state: int, topic: str, batch: Batch) -> tuple[int, dict[str, Batch]]:
        echo = batch
        if (batch["close"] == 13.0).any():
            echo = batch.with_columns(pair=np.arange(batch.n))
        return state + batch.n, {"bars.clean": batch, "bars": echo}


def _by_topic(out: list) -> dict[str, list[tuple]]:
    got: dict[str, list[tuple]] = {}
    for o in out:
        got.setdefault(o.topic, []).append((o.key, o.value, o.headers, o.partition))
    return got


def test_first_topics_are_handed_over_before_the_others_are_encoded() -> None:
    # issue 12: the live binding produces the orders before it encodes the rest of the minute
    from streams.runner.runtime import watermark

    b = bars(3, ("EURUSD", "GBPUSD", "USDJPY"))
    t1 = int(b["ts"].max())
    msgs = [*envs(b, topic="t.bars"), Envelope("t.bars", 0, 3 * 3, b"__wm__", b"", watermark(t1))]
    msgs.append(Envelope("t.bars", 0, 10, b"__eor__", b"", marker("r")))
    encoded: list[str] = []

    class Log:
        def events_out(self, stage: str, topic: str, n: int) -> None:
            encoded.append(topic)

        def __getattr__(self, name: str):
            return lambda *a, **k: None

    every = StageRuntime(TwoOutputs(), namespace=NS, max_records=2).handle(msgs)
    rt = StageRuntime(TwoOutputs(), namespace=NS, metrics=Log(), max_records=2, first=["bars"])
    now = rt.handle(msgs)
    assert {o.topic for o in now} == {"t.bars"}
    assert encoded == ["bars"]
    later = rt.rest()
    assert {o.topic for o in later} == {"t.bars.clean"}
    assert encoded == ["bars", "bars.clean"]
    assert rt.rest() == []  # handed over once
    # each topic: the same messages in the same order (records, watermark, end of replay) as without
    assert _by_topic(now + later) == _by_topic(every)
    assert [dict(o.headers).get("hslr-marker") for o in later[-2:]] == [b"watermark", b"end_of_replay"]
    assert rt.cp.state == 9


def test_an_output_encoded_later_that_its_schema_rejects_halts() -> None:
    b = bars(2, ("EURUSD",))
    b = b.with_columns(close=np.array([1.2, 13.0]), high=np.array([1.3, 13.1]))
    rt = StageRuntime(TwoOutputs(), namespace=NS, max_records=2, first=["bars.clean"])
    now = rt.handle(envs(b, topic="t.bars"))
    assert [o.topic for o in now] == ["t.bars.clean"]
    later = rt.rest()
    assert [o.topic for o in later] == ["t.control"]  # no bars message: a HALT with the reason
    halt = AvroCodec("control").decode(later[0].value)
    assert halt["action"] == "HALT"
    assert halt["reason"].startswith("encode bars:")
    assert rt.halted
    assert rt.halted.startswith("encode bars:")

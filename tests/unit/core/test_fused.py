"""Co-located stages equal the chained stages, route only internal topics, and checkpoint per member."""

from __future__ import annotations

import numpy as np
import pytest

from streams.config import build_config
from streams.core.batch import Batch
from streams.core.fused import FusedStage, FusedState
from streams.core.stage import StageSpec
from streams.dag import EXTERNAL_SOURCES, build_stages, fuse
from streams.runner.inprocess import run_inprocess
from streams.runner.runtime import Envelope, StageRuntime
from streams.serde.avro import AvroCodec
from tests.kit.bars import bars

CONTROL = ("command_id", "ts", "action", "scale", "pair", "issuer", "reason")


def _control(issuer: str, ts: int) -> Batch:
    return Batch(
        {
            "command_id": np.array([f"{issuer}:{ts}"]),
            "ts": np.array([ts]),
            "action": np.array(["HALT"]),
            "scale": np.array([1.0]),
            "pair": np.array([""]),
            "issuer": np.array([issuer]),
            "reason": np.array(["x"]),
        }
    )


class Recorder:
    """Records what it saw on each input, in order; writes ``out`` (and a control echo when asked)."""

    def __init__(self, sid: str, inputs: tuple[str, ...], out: str, echo_control: bool = False) -> None:
        outputs = (out, "control") if echo_control else (out,)
        self.spec = StageSpec(sid, inputs, outputs)
        self.echo = echo_control

    def initial_state(self) -> tuple:
        return ()

    def process(self, state: tuple, topic: str, batch: Batch) -> tuple[tuple, dict[str, Batch]]:
        seen = (*state, (topic, batch.n))
        if topic != self.spec.primary:
            return seen, {}
        out = {self.spec.outputs[0]: batch}
        if self.echo:
            out["control"] = _control(self.spec.id, int(batch["ts"][0]))
        return seen, out


def test_the_full_market_and_feature_chain_fused_equals_the_chained_replay() -> None:
    cfg = build_config({"market": {"pairs": ["EURUSD", "GBPUSD", "USDJPY"]}})
    market = bars(600, ("EURUSD", "GBPUSD", "USDJPY"), seed=3)
    market = market.take(np.flatnonzero((market["ts"] // 60_000) % 97 != 5))  # gaps
    chained = run_inprocess(build_stages(cfg, only=["market", "features"]), {"bars": market})
    fused = fuse(build_stages(cfg, only=["market", "features"]))
    assert fused.spec.inputs == ("bars",)
    assert "features" in fused.spec.outputs
    assert "bars.clean" in fused.spec.outputs
    state, parts = fused.initial_state(), {}
    for cut in np.array_split(np.arange(market.n), 37):  # arbitrary live-like batches
        state, out = fused.process(state, "bars", market.take(cut))
        for k, b in out.items():
            parts.setdefault(k, []).append(b)
    for key in ("bars.clean", "features"):
        from streams.core.batch import concat

        assert concat(parts[key]).equals(chained[key]), key
    assert chained["features"].n > 1000


def test_only_internal_topics_are_handed_over_and_external_writes_come_back_through_kafka() -> None:
    a = Recorder("a", ("bars", "control"), "features", echo_control=True)
    b = Recorder("b", ("features", "control"), "signals", echo_control=True)
    f = FusedStage([a, b], EXTERNAL_SOURCES)
    assert f.spec.inputs == ("bars", "control")
    assert f.internal == {"features", "signals"}
    state, out = f.process(f.initial_state(), "bars", bars(3))
    assert state.members == ((("bars", 6),), (("features", 6),))  # b got a's output, not a's control echo
    assert out["control"].n == 2
    assert list(out["control"]["issuer"]) == ["a", "b"]
    state, out = f.process(state, "control", _control("operator", 1))
    assert state.members[0][-1] == ("control", 1)
    assert state.members[1][-1] == ("control", 1)
    assert out == {}


def test_invalid_groups_are_refused() -> None:
    a = Recorder("a", ("bars",), "features")
    with pytest.raises(ValueError, match="before its writer"):
        FusedStage([Recorder("b", ("features",), "signals"), a], EXTERNAL_SOURCES)
    with pytest.raises(ValueError, match="several writers"):
        FusedStage([a, Recorder("c", ("bars",), "features")], EXTERNAL_SOURCES)
    with pytest.raises(ValueError, match="no input"):
        FusedStage([a], EXTERNAL_SOURCES).process(FusedState(((),)), "features", bars(1))


def test_unchanged_members_are_left_out_of_delta_checkpoints_and_restored() -> None:
    big = Recorder("big", ("calendar",), "features")  # changes only on calendar records
    small = Recorder("small", ("bars",), "signals")
    f = FusedStage([big, small], EXTERNAL_SOURCES)
    codec = AvroCodec("bar")

    def env(b: Batch, offset: int) -> Envelope:
        return Envelope("t.bars", 0, offset, None, codec.encode_batch(b)[0])

    rt = StageRuntime(f, namespace="t")
    rt.cp.state = FusedState((tuple(("calendar", i) for i in range(5000)), ()))
    rt.handle([env(bars(1), 0)])
    kind, full = rt.checkpoint()
    rt.handle([env(bars(1, seed=1, start=bars(2)["ts"][-1]), 1)])
    kind2, delta = rt.checkpoint()
    assert (kind, kind2) == ("full", "offsets")
    assert len(delta) < len(full) / 10  # the big member is not rewritten
    again = StageRuntime(f, namespace="t")
    again.restore(full, delta)
    assert again.cp.state == rt.cp.state
    assert again.cp.offsets == {("t.bars", 0): 1}
    assert again.cp.state.members[1] == (("bars", 1), ("bars", 1))
    stale = StageRuntime(f, namespace="t")
    stale.restore(full, None)
    assert stale.cp.state.members[1] == (("bars", 1),)
    # a delta computed from another full checkpoint is never applied
    rt.cp.state = FusedState(((), ()))
    assert rt.checkpoint()[0] == "full"
    other = StageRuntime(f, namespace="t")
    other.restore(full, rt.checkpoint()[1])
    assert other.cp.state.members[1] == (("bars", 1),)


class Releasing(Recorder):
    """A Recorder that holds its primary records until a watermark (like the trader)."""

    def process(self, state: tuple, topic: str, batch: Batch) -> tuple[tuple, dict[str, Batch]]:
        return (*state, (topic, batch.n, batch)), {}

    def on_watermark(self, state: tuple, ts: int) -> tuple[tuple, dict[str, Batch]]:
        from streams.core.batch import concat

        held = [b for t, _, b in state if t == self.spec.primary]
        return (), ({self.spec.outputs[0]: concat(held)} if held else {})


def test_a_watermark_passes_through_the_members_in_order() -> None:
    a = Releasing("a", ("bars",), "features")
    b = Releasing("b", ("features",), "signals")
    f = FusedStage([a, b], EXTERNAL_SOURCES)
    state, out = f.process(f.initial_state(), "bars", bars(2))
    assert out == {}
    assert len(state.members[0]) == 1
    state, out = f.on_watermark(state, 10**15)
    # a released its bars to b, which got them before its own watermark and released them too
    assert out["features"].n == 4
    assert out["signals"].n == 4
    assert state.members == ((), ())


class Counting:
    """Records the metrics calls (the runtime's Metrics protocol)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        return lambda *a: self.calls.append((name, *a))


def test_observed_members_report_under_their_own_labels_and_change_nothing() -> None:
    from streams.runner.observed import observe_members

    cfg = build_config({"market": {"pairs": ["EURUSD", "GBPUSD"]}})
    plain = fuse(build_stages(cfg, only=["market", "features"]))
    metrics = Counting()
    seen = observe_members(plain, metrics)
    assert seen.spec == plain.spec
    assert observe_members(build_stages(cfg, only=["market"])[0], metrics).spec.id == "market"
    data = bars(50)
    s1, o1 = plain.process(plain.initial_state(), "bars", data)
    s2, o2 = seen.process(seen.initial_state(), "bars", data)
    assert o1.keys() == o2.keys()
    assert all(o1[k].equals(o2[k]) for k in o1)
    got = {(c[0], c[1], c[2], c[3]) for c in metrics.calls if c[0] in ("events_in", "events_out")}
    assert got == {
        ("events_in", "market", "bars", 100),
        ("events_out", "market", "bars.clean", 100),
        ("events_in", "features", "bars.clean", 100),
        ("events_out", "features", "features", 100),
    }
    assert {c[1] for c in metrics.calls if c[0] == "processing"} == {"market", "features"}
    assert ("last_event", "features", int(data["ts"].max())) in metrics.calls

"""Stage contract: batch-split invariance, schemas, no look-ahead, operator RESUME, DAG registration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.artifacts import ArtifactError
from streams.config import build_config
from streams.core.batch import Batch, concat
from streams.core.control_auth import ControlRejected
from streams.dag import STAGE_FACTORIES, build_stages
from streams.serde.avro import AvroCodec
from streams.stages.governance import GovernanceConfig, GovernanceStage, KLReference, histograms_from_samples
from tests.kit.control import CONTROL_KEY, signed
from tests.kit.runner import Runner, run, same
from tests.kit.signals import DAY, MIN, signals

# short windows so that every rule fires within a 4-day stream
CFG = GovernanceConfig(
    eval_interval_min=30,
    ic_window_min=720,
    ic_min_obs=50,
    reduce_after_min=240,
    recover_after_min=240,
    decommission_after_min=600,
    kl_features=("displacement",),
    kl_window_min=240,
    kl_min_count=50,
    entropy_after_min=20,
    entropy_resume_after_min=40,
)
REF = KLReference.from_histograms(
    histograms_from_samples({"displacement": np.random.default_rng(0).normal(size=20_000)})
)


def _stream() -> Batch:
    sig = signals(4, step_min=2, rho=(0.5, -0.4), break_day=1.0, seed=7)
    minute = (sig["ts"] - sig["ts"][0]) // MIN
    e = np.where((minute > 600) & (minute < 800), 1.05, 0.4)
    d = np.random.default_rng(1).normal(size=sig.n) + np.where(minute > 3.2 * 1440, 2.0, 0.0)
    return sig.with_columns(entropy=e, displacement=d)


STREAM = _stream()


def _govern(batches, stage=None):
    return run(stage or GovernanceStage(CFG, reference=REF), [("signals", b) for b in batches])


@pytest.fixture(scope="module")
def whole():
    return _govern([STREAM])[1]


def test_every_rule_fires_on_the_fixture(whole) -> None:
    assert {"REDUCE", "DECOMMISSION", "HALT", "SUSPEND", "RESUME"} <= set(whole["control"]["action"])


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, STREAM.n - 1), min_size=1, max_size=6, unique=True))
def test_batch_split_invariance(whole, cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), STREAM.n]
    _, split = _govern([STREAM.take(slice(a, b)) for a, b in zip(edges, edges[1:], strict=False)])
    for key in ("signals.governed", "governance", "control"):
        assert split[key].equals(whole[key]), key


def test_every_run_mode_gives_the_outputs_of_one_batch(runner: Runner) -> None:
    stage = GovernanceStage(CFG, reference=REF)
    head = STREAM.take(slice(0, 1500))
    _, got = runner(stage, [("signals", head)])
    _, batch = _govern([head])
    assert batch["governance"].n > 0
    for key in ("signals.governed", "governance", "control"):
        assert same(batch[key], got[key]), key


def test_outputs_encode_with_their_schemas(whole) -> None:
    for key, stem in (
        ("signals.governed", "governed_signal"),
        ("governance", "governance"),
        ("control", "control"),
    ):
        values = AvroCodec(stem).encode_batch(whole[key])
        decoded, errors = AvroCodec(stem).decode_batch(values)
        assert not errors
        assert decoded.n == whole[key].n > 0


def test_governed_schema_extends_signal_schema() -> None:
    sig = AvroCodec("signal").info.fields
    gov = AvroCodec("governed_signal").info.fields
    assert gov[: len(sig)] == sig
    assert gov[len(sig) :] == ("alloc_scale", "gov_state")


def test_no_look_ahead(whole) -> None:
    """Rewriting every price after time T cannot change any decision or metric before T."""
    cut = int(STREAM["ts"][0]) + 2 * DAY
    mid = np.where(
        STREAM["ts"] >= cut,
        STREAM["mid"] * np.exp(np.random.default_rng(9).normal(0, 1e-3, STREAM.n)),
        STREAM["mid"],
    )
    _, other = _govern([STREAM.with_columns(mid=mid)])
    for key in ("governance", "control"):
        a, b = whole[key], other[key]
        assert a.take(a["ts"] < cut).equals(b.take(b["ts"] < cut)), key
    assert not whole["governance"].equals(other["governance"])  # the test can fail: later records differ


def test_snapshots_hourly_and_one_record_per_timestamp(whole) -> None:
    ts = whole["governance"]["ts"]
    assert np.all(np.diff(ts) > 0)
    snaps = ts[ts % (30 * MIN) == 0]
    assert np.all(np.diff(snaps) == 30 * MIN)


def test_decommission_is_terminal_until_operator_resume(whole) -> None:
    ctl = whole["control"]
    t_decom = int(ctl["ts"][ctl["action"] == "DECOMMISSION"][0])
    gs = whole["signals.governed"]
    assert set(gs["gov_state"][gs["ts"] >= t_decom]) == {"DECOMMISSIONED"}
    stage = GovernanceStage(CFG, reference=REF, control_key=CONTROL_KEY)
    t_op = t_decom + 3 * 60 * MIN + 7 * MIN
    rec = {"command_id": "op:1", "ts": t_op, "action": "RESUME", "scale": 1.0, "pair": ""}
    rec = signed({**rec, "issuer": "operator", "reason": "retrained"})
    op = Batch.from_records([rec], list(rec))
    forged = Batch.from_records([{**rec, "signature": "00" * 32}], list(rec))
    with pytest.raises(ControlRejected, match="not authenticated"):
        stage.process(stage.initial_state(), "control", forged)
    state, _ = stage.process(stage.initial_state(), "control", op)
    _, out = stage.process(state, "signals", STREAM)
    resumes = out["control"].take(out["control"]["issuer"] == "governance")
    assert ("RESUME", t_op) in list(zip(resumes["action"], resumes["ts"], strict=True))
    g = out["signals.governed"]
    assert "DECOMMISSIONED" not in set(g["gov_state"][(g["ts"] >= t_op) & (g["ts"] < t_op + 60 * MIN)])
    before = g["gov_state"][(g["ts"] >= t_decom) & (g["ts"] < t_op)]
    assert set(before) == {"DECOMMISSIONED"}


def test_registered_in_dag_after_edge() -> None:
    ids = list(STAGE_FACTORIES)
    assert ids.index("governance") == ids.index("edge") + 1
    no_model = build_config({"governance": {"kl_from_regime_model": False}})
    (stage,) = build_stages(no_model, only=["governance"])
    assert stage.spec.inputs[0] == "signals"


def test_dag_refuses_governance_without_the_regime_models_kl_reference(tmp_path) -> None:
    # by default the KL reference comes from the regime artifact: no artifact → a clear error, never a
    # governance stage that silently skips the distribution-drift rule
    cfg = build_config({"regime": {"model_path": str(tmp_path / "absent")}})
    with pytest.raises(ArtifactError, match="no model artifact"):
        build_stages(cfg, only=["governance"])


@pytest.mark.timeout(120)
def test_far_future_signal_does_not_loop_per_interval() -> None:
    # issue 11 #1: one record in year 2999 made _evaluate run once per interval up to 2999 (a wedge).
    import time

    head = STREAM.take(slice(0, 2000))
    far = head.take(slice(1999, 2000))
    far = far.with_columns(ts=far["ts"] + np.int64(979 * 365 * DAY))
    stage = GovernanceStage(CFG, reference=REF)
    started = time.process_time()
    _, out = _govern([concat([head, far])], stage)
    assert time.process_time() - started < 20.0
    snaps = out["governance"]
    # snapshots every 30 min while a window holds data (2000 rows of 2 pairs every 2 min: 2000 min;
    # the 720-min IC window keeps it for 12 h more), then none until the far record's interval
    last_data = int(head["ts"][-1])
    before = snaps["ts"][snaps["ts"] <= last_data + 800 * MIN]
    assert snaps.n - before.size <= 2
    # the same outputs batch by batch
    _, parts = _govern([head.take(slice(0, 777)), head.take(slice(777, 2000)), far], stage)
    for key in ("signals.governed", "governance", "control"):
        assert parts[key].equals(out[key]), key


def test_a_replayed_operator_resume_is_refused() -> None:
    # issue 11: a signed RESUME written back to control later was accepted again (nothing remembered it)
    from streams.core.control_auth import operator_command

    stage = GovernanceStage(CFG, reference=REF, control_key=CONTROL_KEY)
    rec = operator_command("RESUME", "", 0, "retrained", 7, CONTROL_KEY)
    op = Batch.from_records([rec], list(rec))
    state, _ = stage.process(stage.initial_state(), "control", op)
    assert state.operator_signed == 7
    with pytest.raises(ControlRejected, match="replay ignored"):
        stage.process(state, "control", op)


def test_the_feeds_own_resume_is_no_governance_matter() -> None:
    # a feed halt is the trader's (issuer-scoped); governance neither applies nor refuses its RESUME
    # (refusing would dead-letter it and HALT everything again through the binding)
    from streams.core.control_auth import operator_command

    stage = GovernanceStage(CFG, reference=REF, control_key=CONTROL_KEY)
    rec = operator_command("RESUME", "", 5, "prices flowing", 9, CONTROL_KEY, issuer="live-feed")
    state = stage.initial_state()
    after, out = stage.process(state, "control", Batch.from_records([rec], list(rec)))
    assert (after.operator_resumes, after.operator_signed) == (state.operator_resumes, state.operator_signed)
    assert all(b.n == 0 for b in out.values())

"""Governance & drift monitor (DAG stage ``governance``): ``signals`` -> ``signals.governed``,
``governance`` and ``control``.

Event-time decisions only. At every multiple T of ``eval_interval_min`` (crossed when the first record
with event time >= T arrives) the stage closes the interval, computes the rolling 30-day IC
(:mod:`.ic`) and the KL divergence of the last day's features from the training distribution
(:mod:`.kl`), applies the IC/KL triggers (:mod:`.triggers`) and emits one ``governance`` snapshot.
The entropy rule (:mod:`.entropy`) is evaluated at every closed minute. Each state change also emits
a ``governance`` record (one record per timestamp: simultaneous actions are joined with ``+``) and a
``control`` command with the deterministic id ``governance:<action>:<cause>:<ts>``; its ``scale`` is
the resulting allocation multiplier. Every signal is passed through with ``gov_state`` and
``alloc_scale`` of the state in force at its event time (a decision at T applies from the record at
T on). Side input ``control``: global operator RESUME commands, applied when the event time reaches
their ``ts``, only when their HMAC verifies (:mod:`streams.core.control_auth`; an unauthenticated
RESUME raises :class:`ControlRejected`, which the binding dead-letters with its reason); every other
command is ignored (the trader acts on them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.control_auth import SELF_RESUMING, ControlRejected, check_replay, verify
from streams.core.groups import sorted_unique
from streams.core.stage import Outputs, StageSpec
from streams.core.units import MINUTE_MS
from streams.stages.governance import entropy as ent
from streams.stages.governance import ic as icm
from streams.stages.governance import kl as klm
from streams.stages.governance import outputs as out
from streams.stages.governance.config import GovernanceConfig
from streams.stages.governance.evaluations import evaluate
from streams.stages.governance.outputs import CONTROL_FIELDS, GOVERNANCE_FIELDS
from streams.stages.governance.resolve import resolve
from streams.stages.governance.triggers import Flags, Transition, TriggerState, operator_resume, step

__all__ = ["CONTROL_FIELDS", "GOVERNANCE_FIELDS", "GovernanceStage", "GovernanceState"]


@dataclass(frozen=True)
class GovernanceState:
    wm: int = -1
    """Event time: the largest ``ts`` seen (ms)."""
    next_eval: int = -1
    """Next evaluation time (ms); -1 until the first record."""
    pending: dict[str, icm.Pending] = field(default_factory=dict)
    obs: icm.Observations = field(default_factory=icm.Observations)
    moments: icm.Moments = field(default_factory=icm.Moments)
    live: klm.LiveCounts = field(default_factory=klm.LiveCounts)
    entropy: ent.EntropyState = field(default_factory=ent.EntropyState)
    triggers: TriggerState = field(default_factory=TriggerState)
    ic: float = float("nan")
    n_ic: int = 0
    kl: float = float("nan")
    operator_resumes: tuple[int, ...] = ()
    """Event times (ms) of operator RESUME commands not yet reached."""
    operator_signed: int = -1
    """Signing time of the last operator RESUME accepted (replay protection: control_auth.check_replay)."""


@dataclass
class _Loop:
    """Mutable scratch of one batch's evaluation loop (never stored)."""

    s: GovernanceState
    snaps: list[tuple[int, float, float, int]] = field(default_factory=list)
    trans: list[Transition] = field(default_factory=list)
    compiled: out.Snapshots | None = None
    """The evaluations when the compiled loop ran (then ``snaps`` is empty)."""

    def snapshots(self) -> out.Snapshots:
        return self.compiled if self.compiled is not None else out.Snapshots.of(self.snaps)


class GovernanceStage:
    """Drift monitor; see the module docstring."""

    def __init__(
        self,
        config: GovernanceConfig | None = None,
        reference: klm.KLReference | None = None,
        control_key: bytes | None = None,
        compiled: bool = True,
    ) -> None:
        """``compiled=False``: always the Python evaluation loop (the reference the compiled loop is
        tested against; same outputs, slower)."""
        self.config = config or GovernanceConfig()
        self._control_key = control_key
        self.spec = StageSpec(
            "governance", ("signals", "control"), ("signals.governed", "governance", "control")
        )
        cfg = self.config
        if reference is None and cfg.kl_reference:
            reference = klm.KLReference.from_histograms(cfg.kl_reference, cfg.kl_features)
        if reference is None and cfg.kl_reference_artifact:
            raise ValueError(
                "kl_reference_artifact is read by the DAG factory (streams.dag), which passes reference="
            )
        if reference is not None:
            names = tuple(f for f in cfg.kl_features if f in reference.features) or reference.features
            reference = klm.KLReference.from_histograms(
                {
                    f: {"edges": e, "counts": c}
                    for f, e, c in zip(reference.features, reference.edges, reference.counts, strict=True)
                },
                names,
            )
        self.reference = reference
        self._dt = cfg.eval_interval_min * MINUTE_MS
        # the compiled loop's KL needs every smoothed bin positive (kl.window_kl masks empty ones)
        self._compilable = compiled and (reference is None or cfg.kl_smoothing > 0)

    def initial_state(self) -> GovernanceState:
        return GovernanceState()

    def process(self, state: GovernanceState, topic: str, batch: Batch) -> tuple[GovernanceState, Outputs]:
        if topic == "control":
            return self._control_in(state, batch), {}
        if batch.n == 0:
            return state, self._empty(batch)
        wm = np.maximum.accumulate(np.maximum(batch["ts"].astype(np.int64, copy=False), state.wm))
        keys = wm // self._dt
        cfg = self.config
        pending, new_obs = resolve(
            state.pending, batch, wm, self._dt, cfg.resolve_max_lag_min * MINUTE_MS, cfg.ic_universe
        )
        live = state.live
        if self.reference is not None:
            live = klm.accumulate(live, self.reference, batch, keys, batch["ready"].astype(bool, copy=False))
        e_state, e_t, e_avg, e_trans = ent.evaluate(
            state.entropy, wm, batch["entropy"].astype(np.float64, copy=False), cfg
        )
        s = replace(
            state,
            wm=int(wm[-1]),
            pending=pending,
            obs=icm.append(state.obs, new_obs),
            live=live,
            next_eval=state.next_eval if state.next_eval >= 0 else (int(wm[0]) // self._dt + 1) * self._dt,
        )
        loop = self._evaluate(_Loop(s), int(wm[-1]), sorted_unique(keys))
        trans = sorted(loop.trans + e_trans, key=lambda t: t.ts)
        start = _flags(state)
        tl = out.timeline(start, trans, cfg.reduce_scale)
        idx = np.searchsorted(tl.t, wm, side="right") - 1
        all_scales = np.concatenate([[start.scale(cfg.reduce_scale)], tl.scale])
        all_labels = np.concatenate([np.array([start.label()], dtype=str), tl.label]).astype(str)
        governed = batch.with_columns(alloc_scale=all_scales[idx + 1], gov_state=all_labels[idx + 1])
        before = (state.ic, state.kl, state.n_ic, state.entropy.avg)
        gov = out.governance(before, start, cfg.reduce_scale, loop.snapshots(), trans, (e_t, e_avg), tl)
        new = replace(loop.s, entropy=e_state)
        return new, {
            "signals.governed": governed,
            "governance": gov,
            "control": out.controls(trans, tl),
        }

    # -- evaluation loop ---------------------------------------------------------------------------
    def _skip_to(
        self,
        s: GovernanceState,
        ops: list[int],
        now: int,
        input_keys: npt.NDArray[np.int64],
        ordered: bool,
    ) -> int:
        """First evaluation time >= ``s.next_eval`` that can differ from a no-data evaluation.

        An evaluation whose IC and KL windows hold no data, with no streak running, changes nothing
        (NaN is no evidence) and only repeats a NaN snapshot: after a long silence (or a bar far in
        the future) the loop jumps over such intervals instead of running once per interval.
        """
        t, dt, cfg = s.next_eval, self._dt, self.config
        tr = s.triggers
        if any(x != -1 for x in (tr.low_since, tr.neg_since, tr.recover_since, tr.kl_since)):
            return t
        k = t // dt
        ic_from = -(-(t - cfg.ic_window_min * MINUTE_MS) // dt)
        kl_from = -(-(t - cfg.kl_window_min * MINUTE_MS) // dt)
        lo = min(ic_from, kl_from)
        # live keys and input keys are sorted; moment keys when ``ordered``: binary searches, not scans
        sets = [(s.live.keys, True), (input_keys, True), (s.moments.key, ordered)]
        if any(_any_in(keys, lo, k, o) for keys, o in sets):
            return t
        later = [f for keys, o in sets if (f := _first_from(keys, k, o)) is not None]
        target = (min(later) + 1) * dt if later else (now // dt + 1) * dt
        target = min(target, (now // dt + 1) * dt)
        if ops:
            target = min(target, -(-ops[0] // dt) * dt)
        return max(t, target)

    def _evaluate(self, loop: _Loop, now: int, input_keys: npt.NDArray[np.int64] | None = None) -> _Loop:
        cfg, dt = self.config, self._dt
        keys = np.empty(0, dtype=np.int64) if input_keys is None else input_keys
        ops = sorted(loop.s.operator_resumes)
        if loop.s.next_eval <= now:  # every interval before the current one closes in this loop
            obs, moments = icm.close(loop.s.obs, loop.s.moments, now // dt)
            loop.s = replace(loop.s, obs=obs, moments=moments)
        ordered = icm.is_ordered(loop.s.moments.key)  # moments do not change inside the loop
        if ordered and not ops and loop.s.next_eval <= now and self._compilable:
            return self._evaluate_compiled(loop, now, keys)
        while True:
            s = loop.s
            t_op = ops[0] if ops else None
            if t_op is not None and t_op <= now and t_op <= s.next_eval:
                # a command older than the last evaluation takes effect now, never in the past
                trig, tr = operator_resume(s.triggers, max(t_op, s.next_eval - self._dt))
                loop.s, ops = replace(s, triggers=trig), ops[1:]
                loop.trans.extend(tr)
                continue
            if s.next_eval > now:
                break
            skip = self._skip_to(s, ops, now, keys, ordered)
            if skip > s.next_eval:
                loop.s = replace(s, ic=float("nan"), n_ic=0, kl=float("nan"), next_eval=skip)
                continue
            t = s.next_eval
            k = t // dt
            ic_from = -(-(t - cfg.ic_window_min * MINUTE_MS) // dt)
            ic, n = icm.window_ic(s.moments, ic_from, k, cfg.ic_min_obs, ordered)
            kl, live = float("nan"), s.live
            if self.reference is not None:
                kl_from = -(-(t - cfg.kl_window_min * MINUTE_MS) // dt)
                kl = klm.window_kl(live, self.reference, kl_from, k, cfg.kl_smoothing, cfg.kl_min_count)
                live = klm.prune(live, kl_from)
            trig, tr = step(s.triggers, t, ic, kl, cfg)
            loop.s = replace(s, live=live, triggers=trig, ic=ic, n_ic=n, kl=kl, next_eval=t + dt)
            loop.trans.extend(tr)
            loop.snaps.append((t, ic, kl, n))
        return self._close_loop(loop, tuple(ops))

    def _close_loop(self, loop: _Loop, ops: tuple[int, ...]) -> _Loop:
        next_from = -(-(loop.s.next_eval - self.config.ic_window_min * MINUTE_MS) // self._dt)
        loop.s = replace(loop.s, operator_resumes=ops, moments=icm.prune(loop.s.moments, next_from))
        return loop

    def _evaluate_compiled(self, loop: _Loop, now: int, input_keys: npt.NDArray[np.int64]) -> _Loop:
        s = loop.s
        state = (s.next_eval, s.triggers, s.moments, s.live, (s.ic, s.n_ic, s.kl))
        r = evaluate(self.config, self.reference, state, now, input_keys)
        loop.compiled = r.snaps
        loop.trans.extend(r.trans)
        ic, n_ic, kl = r.last
        loop.s = replace(s, live=r.live, triggers=r.triggers, ic=ic, n_ic=n_ic, kl=kl, next_eval=r.next_eval)
        return self._close_loop(loop, ())

    def _control_in(self, state: GovernanceState, batch: Batch) -> GovernanceState:
        if batch.n == 0:
            return state
        others = ~np.isin(
            batch["issuer"], ["governance", *SELF_RESUMING]
        )  # a feed halt is no governance state
        m = (batch["action"] == "RESUME") & others
        recs = [r for r, keep in zip(batch.to_records(), m, strict=True) if keep]
        signed = state.operator_signed
        for r in recs:
            if r["issuer"] != "operator" or not verify(r, self._control_key):
                raise ControlRejected(
                    f"control {r['command_id']}: RESUME from {r['issuer']!r} not authenticated: ignored"
                )
            signed = check_replay(r, signed, state.wm)
        # a pair RESUME is the trader's business; governance state is global
        new = tuple(int(r["ts"]) for r in recs if not r.get("pair"))
        resumes = tuple(sorted(state.operator_resumes + new))
        return replace(state, operator_resumes=resumes, operator_signed=signed) if recs else state

    def _empty(self, batch: Batch) -> dict[str, Batch]:
        governed = batch.with_columns(
            alloc_scale=np.empty(0, dtype=np.float64), gov_state=np.empty(0, dtype=str)
        )
        return {
            "signals.governed": governed,
            "governance": out.empty_governance(),
            "control": out.empty_control(),
        }


def _any_in(keys: npt.NDArray[np.int64], lo: int, hi: int, ordered: bool) -> bool:
    if not ordered:
        return bool(((keys >= lo) & (keys < hi)).any())
    i = int(np.searchsorted(keys, lo, side="left"))
    return i < keys.size and int(keys[i]) < hi


def _first_from(keys: npt.NDArray[np.int64], k: int, ordered: bool) -> int | None:
    """The smallest key ``>= k``, None when there is none."""
    if not ordered:
        later = keys[keys >= k]
        return int(later.min()) if later.size else None
    i = int(np.searchsorted(keys, k, side="left"))
    return int(keys[i]) if i < keys.size else None


def _flags(state: GovernanceState) -> Flags:
    tr = state.triggers
    return Flags(tr.reduced, tr.decommissioned, tr.halted, state.entropy.suspended)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels of the compiled path: two pairs, a few hours.

    A cold cache costs seconds of compilation on first use; ``infra/bootstrap.sh`` calls this once so
    that workers and tests start with the cache filled."""
    n = 600
    ts = 1_577_836_800_000 + (np.arange(n, dtype=np.int64) // 2) * MINUTE_MS
    rng = np.random.default_rng(0)
    cols = {
        "pair": np.array(["EURUSD", "GBPUSD"] * (n // 2)),
        "ts": ts,
        "mid": 1.1 + rng.normal(0, 1e-4, n),
        "expected_return": rng.normal(0, 1e-4, n),
        "horizon_min": np.full(n, 5, dtype=np.int32),
        "side": np.ones(n, dtype=np.int32),
        "displacement": rng.normal(size=n),
        "ready": np.ones(n, dtype=bool),
        "passed": np.ones(n, dtype=bool),
        "entropy": np.full(n, 0.5),
    }
    hist = klm.histograms_from_samples({"displacement": rng.normal(size=1000)})
    cfg = GovernanceConfig(
        eval_interval_min=30, ic_min_obs=10, kl_features=("displacement",), kl_min_count=10
    )
    stage = GovernanceStage(cfg, reference=klm.KLReference.from_histograms(hist))
    stage.process(stage.initial_state(), "signals", Batch(cols))

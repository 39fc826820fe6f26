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
from streams.core.stage import Outputs, StageSpec
from streams.core.units import MINUTE_MS
from streams.stages.governance import entropy as ent
from streams.stages.governance import ic as icm
from streams.stages.governance import kl as klm
from streams.stages.governance.config import GovernanceConfig
from streams.stages.governance.triggers import Flags, Transition, TriggerState, operator_resume, step

GOVERNANCE_FIELDS = (
    "ts",
    "ic",
    "kl_divergence",
    "entropy_avg",
    "state",
    "action",
    "reason",
    "n_ic",
    "alloc_scale",
)
CONTROL_FIELDS = ("command_id", "ts", "action", "scale", "pair", "issuer", "reason")


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


class GovernanceStage:
    """Drift monitor; see the module docstring."""

    def __init__(
        self,
        config: GovernanceConfig | None = None,
        reference: klm.KLReference | None = None,
        control_key: bytes | None = None,
    ) -> None:
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

    def initial_state(self) -> GovernanceState:
        return GovernanceState()

    def process(self, state: GovernanceState, topic: str, batch: Batch) -> tuple[GovernanceState, Outputs]:
        if topic == "control":
            return self._control_in(state, batch), {}
        if batch.n == 0:
            return state, self._empty(batch)
        wm = np.maximum.accumulate(np.maximum(batch["ts"].astype(np.int64), state.wm))
        keys = wm // self._dt
        cfg = self.config
        pending, new_obs = icm.resolve(
            state.pending, batch, wm, self._dt, cfg.resolve_max_lag_min * MINUTE_MS, cfg.ic_universe
        )
        live = state.live
        if self.reference is not None:
            live = klm.accumulate(live, self.reference, batch, keys, batch["ready"].astype(bool))
        e_state, e_t, e_avg, e_trans = ent.evaluate(
            state.entropy, wm, batch["entropy"].astype(np.float64), cfg
        )
        s = replace(
            state,
            wm=int(wm[-1]),
            pending=pending,
            obs=icm.append(state.obs, new_obs),
            live=live,
            next_eval=state.next_eval if state.next_eval >= 0 else (int(wm[0]) // self._dt + 1) * self._dt,
        )
        loop = self._evaluate(_Loop(s), int(wm[-1]), np.unique(keys))
        trans = sorted(loop.trans + e_trans, key=lambda t: t.ts)
        times, labels, scales = self._timeline(state, trans)
        idx = np.searchsorted(times, wm, side="right") - 1
        start = Flags(
            state.triggers.reduced,
            state.triggers.decommissioned,
            state.triggers.halted,
            state.entropy.suspended,
        )
        all_scales = np.concatenate([[start.scale(cfg.reduce_scale)], scales])
        all_labels = np.concatenate([np.array([start.label()], dtype=str), labels]).astype(str)
        governed = batch.with_columns(alloc_scale=all_scales[idx + 1], gov_state=all_labels[idx + 1])
        gov = self._governance(state, loop.snaps, trans, (e_t, e_avg), (times, labels, scales))
        new = replace(loop.s, entropy=e_state)
        return new, {
            "signals.governed": governed,
            "governance": gov,
            "control": self._controls(trans, times, scales),
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
        next_from = -(-(loop.s.next_eval - cfg.ic_window_min * MINUTE_MS) // dt)
        loop.s = replace(loop.s, operator_resumes=tuple(ops), moments=icm.prune(loop.s.moments, next_from))
        return loop

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

    # -- outputs -----------------------------------------------------------------------------------
    def _timeline(
        self, state: GovernanceState, trans: list[Transition]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_], npt.NDArray[np.float64]]:
        """State label and allocation after each transition (sorted by time)."""
        f = Flags(
            state.triggers.reduced,
            state.triggers.decommissioned,
            state.triggers.halted,
            state.entropy.suspended,
        )
        labels, scales = [], []
        for t in trans:
            f = _apply(f, t)
            labels.append(f.label())
            scales.append(f.scale(self.config.reduce_scale))
        return (
            np.array([t.ts for t in trans], dtype=np.int64),
            np.array(labels, dtype=str),
            np.array(scales, dtype=np.float64),
        )

    def _governance(
        self,
        state: GovernanceState,
        snaps: list[tuple[int, float, float, int]],
        trans: list[Transition],
        entropy: tuple,
        timeline: tuple,
    ) -> Batch:
        times = sorted({s[0] for s in snaps} | {t.ts for t in trans})
        if not times:
            return _empty_governance()
        snap_t = np.array([s[0] for s in snaps], dtype=np.int64)
        e_t, e_avg = entropy
        tl_t, tl_label, tl_scale = timeline
        start = Flags(
            state.triggers.reduced,
            state.triggers.decommissioned,
            state.triggers.halted,
            state.entropy.suspended,
        )
        rows = []
        at: dict[int, list[Transition]] = {}
        for tr in trans:
            at.setdefault(tr.ts, []).append(tr)
        for t in times:
            i = int(np.searchsorted(snap_t, t, side="right")) - 1
            ic, kl, n = (
                (snaps[i][1], snaps[i][2], snaps[i][3]) if i >= 0 else (state.ic, state.kl, state.n_ic)
            )
            j = int(np.searchsorted(e_t, t, side="right")) - 1
            ea = float(e_avg[j]) if j >= 0 else state.entropy.avg
            m = int(np.searchsorted(tl_t, t, side="right")) - 1
            label = str(tl_label[m]) if m >= 0 else start.label()
            scale = float(tl_scale[m]) if m >= 0 else start.scale(self.config.reduce_scale)
            here = at.get(t, [])
            action = "+".join(tr.action for tr in here) or "NONE"
            rows.append((t, ic, kl, ea, label, action, "; ".join(tr.reason for tr in here), n, scale))
        cols = list(zip(*rows, strict=True))
        dtypes = (np.int64, np.float64, np.float64, np.float64, str, str, str, np.int64, np.float64)
        return Batch(
            {f: np.array(c, dtype=d) for f, c, d in zip(GOVERNANCE_FIELDS, cols, dtypes, strict=True)}
        )

    def _controls(
        self, trans: list[Transition], times: npt.NDArray[np.int64], scales: npt.NDArray[np.float64]
    ) -> Batch:
        if not trans:
            return _empty_control()
        after = np.searchsorted(times, [t.ts for t in trans], side="right") - 1  # all changes at that ts
        return Batch(
            {
                "command_id": np.array([f"governance:{t.action}:{t.cause}:{t.ts}" for t in trans], dtype=str),
                "ts": np.array([t.ts for t in trans], dtype=np.int64),
                "action": np.array([t.action for t in trans], dtype=str),
                "scale": scales[after].astype(np.float64),
                "pair": np.full(len(trans), "", dtype=str),
                "issuer": np.array(["governance"] * len(trans)),
                "reason": np.array([t.reason for t in trans], dtype=str),
            }
        )

    def _empty(self, batch: Batch) -> dict[str, Batch]:
        governed = batch.with_columns(
            alloc_scale=np.empty(0, dtype=np.float64), gov_state=np.empty(0, dtype=str)
        )
        return {"signals.governed": governed, "governance": _empty_governance(), "control": _empty_control()}


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


def _apply(f: Flags, t: Transition) -> Flags:
    if t.cause == "operator":
        return Flags(suspended=f.suspended)
    change = {
        "REDUCE": {"reduced": True},
        "DECOMMISSION": {"decommissioned": True},
        "HALT": {"halted": True},
        "SUSPEND": {"suspended": True},
    }.get(t.action)
    if change is None:  # RESUME
        change = {"suspended": False} if t.cause == "entropy_normal" else {"reduced": False}
    return replace(f, **change)


def _empty_governance() -> Batch:
    dtypes = (np.int64, np.float64, np.float64, np.float64, str, str, str, np.int64, np.float64)
    return Batch({f: np.empty(0, dtype=d) for f, d in zip(GOVERNANCE_FIELDS, dtypes, strict=True)})


def _empty_control() -> Batch:
    dtypes = (str, np.int64, str, np.float64, str, str, str)
    return Batch({f: np.empty(0, dtype=d) for f, d in zip(CONTROL_FIELDS, dtypes, strict=True)})

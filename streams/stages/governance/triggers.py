"""The seed's drift triggers as event-time state transitions (section 5.9).

The governance state is a set of independent flags; the reported ``gov_state`` is the most severe:

============== ================================================= ===========================================
flag           set when (at an evaluation time T)                cleared when
============== ================================================= ===========================================
REDUCED        IC < reduce_ic at every evaluation for 14 days     IC >= recover_ic at every evaluation for
               (``reduce_after_min``)                            ``recover_after_min`` (automatic RESUME),
                                                                 or an operator RESUME
DECOMMISSIONED IC < decommission_ic (0) for 28 days              only an operator RESUME (terminal)
HALTED         KL divergence > kl_threshold for ``kl_after_min`` only an operator RESUME (after retraining)
SUSPENDED      rolling entropy average spike (see entropy.py)    the average is back below its threshold
============== ================================================= ===========================================

Severity: DECOMMISSIONED > HALTED > SUSPENDED > REDUCED > NORMAL. ``alloc_scale`` is 0 under the first
three, ``reduce_scale`` when only REDUCED, else 1. An IC of NaN (too few observations) is no evidence:
it breaks every IC streak. An operator RESUME clears REDUCED, DECOMMISSIONED and HALTED and restarts the
IC and KL streaks, so a still-bad IC has to persist for the full durations again; SUSPENDED is left to
the entropy rule. A "run" starts at the first evaluation where the condition holds; a trigger fires at
the first evaluation T with T - start >= the duration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from streams.core.units import MINUTE_MS
from streams.stages.governance.config import GovernanceConfig

SEVERITY = ("NORMAL", "REDUCED", "SUSPENDED", "HALTED", "DECOMMISSIONED")
"""gov_state values, least to most severe (index = ``hslr_governance_state`` gauge value)."""


class Transition(NamedTuple):
    """One state change: event time (ms), control action, machine-readable cause, human reason."""

    ts: int
    action: str
    cause: str
    reason: str


@dataclass(frozen=True)
class Flags:
    reduced: bool = False
    decommissioned: bool = False
    halted: bool = False
    suspended: bool = False

    def label(self) -> str:
        """The most severe active state."""
        for name, on in (
            ("DECOMMISSIONED", self.decommissioned),
            ("HALTED", self.halted),
            ("SUSPENDED", self.suspended),
            ("REDUCED", self.reduced),
        ):
            if on:
                return name
        return "NORMAL"

    def scale(self, reduce_scale: float) -> float:
        """Allocation multiplier (0..1) under these flags."""
        if self.decommissioned or self.halted or self.suspended:
            return 0.0
        return reduce_scale if self.reduced else 1.0


@dataclass(frozen=True)
class TriggerState:
    """IC/KL trigger state carried between evaluations (times in ms, -1 = no running streak)."""

    reduced: bool = False
    decommissioned: bool = False
    halted: bool = False
    low_since: int = -1
    neg_since: int = -1
    recover_since: int = -1
    kl_since: int = -1


def _run(cond: bool, since: int, t: int) -> int:
    if not cond:
        return -1
    return since if since >= 0 else t


def _days(cfg: GovernanceConfig) -> str:
    return f"{cfg.ic_window_min / 1440:g}-day"


def _held(since: int, t: int, minutes: int) -> bool:
    return since >= 0 and t - since >= minutes * MINUTE_MS


def step(
    s: TriggerState, t: int, ic: float, kl: float, cfg: GovernanceConfig
) -> tuple[TriggerState, list[Transition]]:
    """Apply one evaluation at event time ``t`` (ms) with the window's IC and KL (NaN allowed)."""
    low = _run(ic < cfg.reduce_ic, s.low_since, t)  # NaN compares False: no evidence, streak broken
    neg = _run(ic < cfg.decommission_ic, s.neg_since, t)
    rec = _run(ic >= cfg.recover_ic, s.recover_since, t)
    spike = _run(kl > cfg.kl_threshold, s.kl_since, t)
    out: list[Transition] = []
    reduced, decom, halted = s.reduced, s.decommissioned, s.halted
    if not reduced and _held(low, t, cfg.reduce_after_min):
        reduced = True
        out.append(Transition(t, "REDUCE", "ic_low", reason("ic_low", ic, kl, cfg)))
    if not decom and _held(neg, t, cfg.decommission_after_min):
        decom = True
        out.append(Transition(t, "DECOMMISSION", "ic_negative", reason("ic_negative", ic, kl, cfg)))
    if reduced and not decom and not out and _held(rec, t, cfg.recover_after_min):
        reduced = False
        out.append(Transition(t, "RESUME", "ic_recovered", reason("ic_recovered", ic, kl, cfg)))
    if not halted and _held(spike, t, cfg.kl_after_min):
        halted = True
        out.append(Transition(t, "HALT", "kl_spike", reason("kl_spike", ic, kl, cfg)))
    new = TriggerState(reduced, decom, halted, low, neg, rec, spike)
    return new, out


def reason(cause: str, ic: float, kl: float, cfg: GovernanceConfig) -> str:
    """The human reason of an IC/KL transition with this ``cause`` at an evaluation's IC and KL."""
    if cause == "ic_low":
        return (
            f"{_days(cfg)} IC {ic:.4f} < {cfg.reduce_ic} for "
            f"{cfg.reduce_after_min} min; allocation x{cfg.reduce_scale}"
        )
    if cause == "ic_negative":
        return (
            f"{_days(cfg)} IC {ic:.4f} < {cfg.decommission_ic} "
            f"for {cfg.decommission_after_min} min; strategy off until an operator RESUME"
        )
    if cause == "ic_recovered":
        return (
            f"{_days(cfg)} IC {ic:.4f} >= {cfg.recover_ic} for {cfg.recover_after_min} min; full allocation"
        )
    return f"KL divergence {kl:.4f} > {cfg.kl_threshold}: feature distribution shifted, retrain required"


def operator_resume(s: TriggerState, t: int) -> tuple[TriggerState, list[Transition]]:
    """An operator RESUME at ``t``: clear REDUCED/DECOMMISSIONED/HALTED and restart the IC/KL streaks."""
    if not (s.reduced or s.decommissioned or s.halted):
        return replace(s, low_since=-1, neg_since=-1, recover_since=-1, kl_since=-1), []
    return TriggerState(), [
        Transition(t, "RESUME", "operator", "operator RESUME: governance reset to NORMAL")
    ]

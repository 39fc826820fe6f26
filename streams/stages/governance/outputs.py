"""The ``governance`` and ``control`` records of one batch, from its evaluations and transitions.

``governance``: one row per evaluation time or transition time (sorted), with the IC/KL of the latest
evaluation at or before it, the latest entropy average, the state and allocation after every transition
at or before it, and the transitions at that time joined with ``+`` (``NONE`` without one). Lookups are
binary searches over the batch's arrays; only the few transition rows are written one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.core.units import F64, I64
from streams.stages.governance.triggers import Flags, Transition

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
_GOV_DTYPES = (np.int64, np.float64, np.float64, np.float64, str, str, str, np.int64, np.float64)


@dataclass(frozen=True)
class Snapshots:
    """The batch's evaluations: time (ms), IC, KL, IC observation count, shape (S,) each."""

    t: I64
    ic: F64
    kl: F64
    n: I64

    @classmethod
    def of(cls, rows: list[tuple[int, float, float, int]]) -> Snapshots:
        if not rows:
            return cls(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int64))
        t, ic, kl, n = zip(*rows, strict=True)
        return cls(
            np.array(t, np.int64), np.array(ic, np.float64), np.array(kl, np.float64), np.array(n, np.int64)
        )


@dataclass(frozen=True)
class Timeline:
    """State label and allocation after each transition, sorted by time, shape (T,) each."""

    t: I64
    label: npt.NDArray[np.str_]
    scale: F64


def timeline(start: Flags, trans: list[Transition], reduce_scale: float) -> Timeline:
    """The flags after each of ``trans`` (sorted by time), from ``start``."""
    f, labels, scales = start, [], []
    for t in trans:
        f = apply(f, t)
        labels.append(f.label())
        scales.append(f.scale(reduce_scale))
    return Timeline(
        np.array([t.ts for t in trans], dtype=np.int64),
        np.array(labels, dtype=str),
        np.array(scales, dtype=np.float64),
    )


def apply(f: Flags, t: Transition) -> Flags:
    """The flags after transition ``t``."""
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


def governance(
    before: tuple[float, float, int, float],
    start: Flags,
    reduce_scale: float,
    snaps: Snapshots,
    trans: list[Transition],
    entropy: tuple[I64, F64],
    tl: Timeline,
) -> Batch:
    """The ``governance`` rows; ``before``: (IC, KL, n_ic, entropy average) in force before the batch."""
    times = np.union1d(snaps.t, np.array([t.ts for t in trans], dtype=np.int64)) if trans else snaps.t
    if times.size == 0:
        return empty_governance()
    ic0, kl0, n0, ea0 = before
    i = np.searchsorted(snaps.t, times, side="right") - 1
    e_t, e_avg = entropy
    j = np.searchsorted(e_t, times, side="right") - 1
    m = np.searchsorted(tl.t, times, side="right") - 1
    label = np.where(m >= 0, tl.label[np.maximum(m, 0)], start.label()) if tl.t.size else None
    actions = ["NONE"] * times.size
    reasons = [""] * times.size
    at: dict[int, list[Transition]] = {}
    for tr in trans:
        at.setdefault(tr.ts, []).append(tr)
    for ts, here in at.items():
        r = int(np.searchsorted(times, ts))
        actions[r] = "+".join(tr.action for tr in here)
        reasons[r] = "; ".join(tr.reason for tr in here)
    cols = (
        times,
        np.where(i >= 0, snaps.ic[np.maximum(i, 0)], ic0) if snaps.t.size else np.full(times.size, ic0),
        np.where(i >= 0, snaps.kl[np.maximum(i, 0)], kl0) if snaps.t.size else np.full(times.size, kl0),
        np.where(j >= 0, e_avg[np.maximum(j, 0)], ea0) if e_t.size else np.full(times.size, ea0),
        [start.label()] * times.size if label is None else label.tolist(),
        actions,
        reasons,
        np.where(i >= 0, snaps.n[np.maximum(i, 0)], n0) if snaps.t.size else np.full(times.size, n0),
        np.where(m >= 0, tl.scale[np.maximum(m, 0)], start.scale(reduce_scale))
        if tl.t.size
        else np.full(times.size, start.scale(reduce_scale)),
    )
    return Batch(
        {f: np.asarray(c, dtype=d) for f, c, d in zip(GOVERNANCE_FIELDS, cols, _GOV_DTYPES, strict=True)}
    )


def controls(trans: list[Transition], tl: Timeline) -> Batch:
    """One ``control`` command per transition; ``scale``: the allocation after all changes at its time."""
    if not trans:
        return empty_control()
    after = np.searchsorted(tl.t, [t.ts for t in trans], side="right") - 1
    return Batch(
        {
            "command_id": np.array([f"governance:{t.action}:{t.cause}:{t.ts}" for t in trans], dtype=str),
            "ts": np.array([t.ts for t in trans], dtype=np.int64),
            "action": np.array([t.action for t in trans], dtype=str),
            "scale": tl.scale[after].astype(np.float64),
            "pair": np.full(len(trans), "", dtype=str),
            "issuer": np.array(["governance"] * len(trans)),
            "reason": np.array([t.reason for t in trans], dtype=str),
        }
    )


def empty_governance() -> Batch:
    return Batch({f: np.empty(0, dtype=d) for f, d in zip(GOVERNANCE_FIELDS, _GOV_DTYPES, strict=True)})


def empty_control() -> Batch:
    dtypes = (str, np.int64, str, np.float64, str, str, str)
    return Batch({f: np.empty(0, dtype=d) for f, d in zip(CONTROL_FIELDS, dtypes, strict=True)})

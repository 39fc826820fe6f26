"""Rolling average regime entropy and the persistent-spike SUSPEND rule, vectorised.

Every record's ``entropy`` (nats) goes into the bucket of its event-time minute. When a later minute
arrives, the closed minute ``b`` is evaluated at ``T = (b + 1) min``: the average over all pairs of the
entropies in minutes ``(b - W, b]``. Sums are kept in fixed point (1e-9 nats) as int64, so window sums
are exact and independent of batch boundaries. Minutes without records are not evaluated; a silence of
a whole window (weekend) breaks every persistence streak, since the average was undefined meanwhile.

SUSPEND fires when the average has been above ``entropy_threshold`` at every evaluation for
``entropy_after_min``; the suspension lifts (RESUME) when it has been <= ``entropy_resume_threshold``
for ``entropy_resume_after_min``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streams.core.groups import run_starts, union_sorted
from streams.core.jit import njit
from streams.core.units import F64, I64, MINUTE_MS
from streams.stages.governance.config import GovernanceConfig
from streams.stages.governance.triggers import Transition

SCALE = 1e9


@dataclass(frozen=True)
class EntropyState:
    keys: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Event-time minutes of the buckets still inside a future window (the last one is open)."""
    sums: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    counts: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    last_eval: int = -1
    """Last evaluated minute (-1: none)."""
    on_since: int = -1
    """Event time (ms) since when the average has been above the threshold (-1: it is not)."""
    off_since: int = -1
    avg: float = float("nan")
    """Latest evaluated rolling average."""
    suspended: bool = False


def since(t: I64, cond: npt.NDArray[np.bool_], reset: npt.NDArray[np.bool_], since0: int) -> I64:
    """Start time of the current run of ``cond`` at each evaluation (-1 where ``cond`` is False).

    ``reset`` marks evaluations where a run cannot continue from the previous one (data gap);
    ``since0`` is the run start carried over from the previous batch (-1: no run).
    """
    return _since(
        t.astype(np.int64, copy=False),
        cond.astype(np.bool_, copy=False),
        reset.astype(np.bool_, copy=False),
        since0,
    )


@njit
def _since(t: I64, cond: npt.NDArray[np.bool_], reset: npt.NDArray[np.bool_], since0: int) -> I64:
    out = np.empty(t.size, dtype=np.int64)
    run, prev = since0, since0 >= 0
    for i in range(t.size):
        if cond[i] and (not prev or reset[i]):
            run = t[i]  # a run starts here (after a False, or across a gap)
        out[i] = run if cond[i] else -1
        prev = cond[i]
    return out


@njit
def _window_starts(keys: I64, first: int, last: int, w: int) -> I64:
    """``np.searchsorted(keys, keys[first:last] - w + 1)`` of sorted ``keys``: one forward sweep."""
    out = np.empty(max(last - first, 0), dtype=np.int64)
    lo = 0
    for i in range(first, last):
        while keys[lo] < keys[i] - w + 1:
            lo += 1
        out[i - first] = lo
    return out


def _buckets(state: EntropyState, mk: I64, entropy: F64) -> tuple[I64, I64, I64]:
    ok = np.isfinite(entropy)
    q = np.where(ok, np.rint(np.where(ok, entropy, 0.0) * SCALE), 0).astype(np.int64)
    start = run_starts(mk)  # mk is non-decreasing: contiguous runs
    keys = mk[start]
    sums = np.add.reduceat(q, start) if mk.size else np.empty(0, dtype=np.int64)
    counts = (
        np.add.reduceat(ok.astype(np.int64, copy=False), start) if mk.size else np.empty(0, dtype=np.int64)
    )
    if state.keys.size == 0 or keys.size == 0:
        return (keys, sums, counts) if keys.size else (state.keys, state.sums, state.counts)
    if state.keys[-1] <= keys[0]:  # the usual case: event time moved on, at most one minute shared
        shared = int(state.keys[-1] == keys[0])
        keep = state.keys.size - shared
        s = np.concatenate([state.sums[:keep], sums])
        c = np.concatenate([state.counts[:keep], counts])
        if shared:
            s[keep] = state.sums[-1] + sums[0]
            c[keep] = state.counts[-1] + counts[0]
        return np.concatenate([state.keys[:keep], keys]), s, c
    all_keys = union_sorted(state.keys, keys)
    s = np.zeros(all_keys.size, dtype=np.int64)
    c = np.zeros(all_keys.size, dtype=np.int64)
    for k_, s_, c_ in ((state.keys, state.sums, state.counts), (keys, sums, counts)):
        idx = np.searchsorted(all_keys, k_)
        s[idx] += s_
        c[idx] += c_
    return all_keys, s, c


def evaluate(
    state: EntropyState, wm: I64, entropy: F64, cfg: GovernanceConfig
) -> tuple[EntropyState, I64, F64, list[Transition]]:
    """Fold a batch in; return the new state, evaluation times (ms), averages and SUSPEND/RESUME transitions.

    Parameters
    ----------
    wm : event time (running max ts, ms) of each row, non-decreasing, shape (n,).
    entropy : regime entropy of each row, nats, shape (n,); NaN rows count for nothing.
    """
    w = cfg.entropy_window_min
    mk = wm // MINUTE_MS
    keys, sums, counts = _buckets(state, mk, entropy)
    current = int(mk[-1]) if mk.size else (int(keys[-1]) if keys.size else -1)
    first, last = np.searchsorted(keys, (state.last_eval + 1, current), side="left").tolist()
    ev = keys[first:last]  # keys are distinct and sorted: the minutes after last_eval, before current
    cs = np.concatenate([[0], np.cumsum(sums)])
    cc = np.concatenate([[0], np.cumsum(counts)])
    lo = _window_starts(keys, first, last, w)
    hi = np.arange(first + 1, max(last, first) + 1)
    n = cc[hi] - cc[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(n > 0, (cs[hi] - cs[lo]) / np.maximum(n, 1) / SCALE, np.nan)
    t = (ev + 1) * MINUTE_MS
    prev_key = np.concatenate([[state.last_eval], ev[:-1]])
    gap = ev - prev_key >= w  # the window was empty in between (last_eval = -1: always)
    on = since(t, avg > cfg.entropy_threshold, gap, state.on_since)
    off = since(t, avg <= cfg.entropy_resume_threshold, gap, state.off_since)
    fire_on = np.flatnonzero((on >= 0) & (t - on >= cfg.entropy_after_min * MINUTE_MS))
    fire_off = np.flatnonzero((off >= 0) & (t - off >= cfg.entropy_resume_after_min * MINUTE_MS))
    suspended, trans = _switch(state.suspended, t, avg, fire_on, fire_off, cfg)
    keep = keys > current - w
    new = EntropyState(
        keys[keep],
        sums[keep],
        counts[keep],
        int(ev[-1]) if ev.size else state.last_eval,
        int(on[-1]) if ev.size else state.on_since,
        int(off[-1]) if ev.size else state.off_since,
        float(avg[-1]) if ev.size else state.avg,
        suspended,
    )
    return new, t.astype(np.int64, copy=False), avg.astype(np.float64, copy=False), trans


def _switch(
    suspended: bool, t: I64, avg: F64, fire_on: I64, fire_off: I64, cfg: GovernanceConfig
) -> tuple[bool, list[Transition]]:
    trans: list[Transition] = []
    pos = 0
    while True:
        fire = fire_off if suspended else fire_on
        i = int(np.searchsorted(fire, pos))
        if i >= fire.size:
            return suspended, trans
        k = int(fire[i])
        suspended = not suspended
        if suspended:
            why = (
                f"entropy spike: rolling {cfg.entropy_window_min}-min average {avg[k]:.3f} > "
                f"{cfg.entropy_threshold} for {cfg.entropy_after_min} min"
            )
            trans.append(Transition(int(t[k]), "SUSPEND", "entropy_spike", why))
        else:
            why = (
                f"entropy normal: average {avg[k]:.3f} <= {cfg.entropy_resume_threshold} "
                f"for {cfg.entropy_resume_after_min} min"
            )
            trans.append(Transition(int(t[k]), "RESUME", "entropy_normal", why))
        pos = k + 1

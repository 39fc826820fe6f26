"""The evaluation loop of :mod:`.stage`, compiled: which interval ends are evaluated, and the IC/KL
triggers at each, with the IC and KL of every evaluation looked up from :mod:`.windows`.

Operation for operation the loop of ``GovernanceStage._evaluate`` without operator RESUMEs (the stage
takes its Python loop when one is pending): an evaluation with no data in its windows and no streak
running is skipped to the next interval end that can differ (``_skip_to``), every other one applies
:func:`.triggers.step`. Transitions come back as codes (:data:`ACTIONS`); their reasons are written by
:func:`.triggers.step`'s text (:func:`transitions`), so the wording stays in one place.
"""

from __future__ import annotations

import numpy as np

from streams.core.jit import njit
from streams.core.units import F64, I64, MINUTE_MS
from streams.stages.governance.config import GovernanceConfig
from streams.stages.governance.triggers import Transition, TriggerState, reason

ACTIONS = (
    ("REDUCE", "ic_low"),
    ("DECOMMISSION", "ic_negative"),
    ("RESUME", "ic_recovered"),
    ("HALT", "kl_spike"),
)
"""Transition codes 0..3 of :func:`run`: (action, cause)."""


def params(cfg: GovernanceConfig, dt: int, has_ref: bool) -> F64:
    """The loop's constants as one float64 vector (times in ms are exact below 2**53)."""
    return np.array(
        [
            dt,
            cfg.ic_window_min * MINUTE_MS,
            cfg.kl_window_min * MINUTE_MS,
            cfg.reduce_ic,
            cfg.decommission_ic,
            cfg.recover_ic,
            cfg.kl_threshold,
            cfg.reduce_after_min * MINUTE_MS,
            cfg.decommission_after_min * MINUTE_MS,
            cfg.recover_after_min * MINUTE_MS,
            cfg.kl_after_min * MINUTE_MS,
            1.0 if has_ref else 0.0,
        ],
        dtype=np.float64,
    )


def trigger_vector(s: TriggerState) -> I64:
    """``s`` as (reduced, decommissioned, halted, low_since, neg_since, recover_since, kl_since)."""
    return np.array(
        [s.reduced, s.decommissioned, s.halted, s.low_since, s.neg_since, s.recover_since, s.kl_since],
        dtype=np.int64,
    )


def trigger_state(v: I64) -> TriggerState:
    r, d, h, low, neg, rec, kl = (int(x) for x in v)
    return TriggerState(bool(r), bool(d), bool(h), low, neg, rec, kl)


def transitions(codes: I64, times: I64, ic: F64, kl: F64, cfg: GovernanceConfig) -> list[Transition]:
    """The :class:`Transition` of each code of :func:`run` (IC/KL of its evaluation for the reason)."""
    out = []
    for c, t, i, k in zip(codes.tolist(), times.tolist(), ic.tolist(), kl.tolist(), strict=True):
        action, cause = ACTIONS[c]
        out.append(Transition(t, action, cause, reason(cause, i, k, cfg)))
    return out


@njit
def _any_in(keys: I64, start: int, lo: int, hi: int) -> bool:
    i = start + np.searchsorted(keys[start:], lo)
    return bool(i < keys.size and keys[i] < hi)


@njit
def _first_from(keys: I64, start: int, k: int) -> int:
    i = start + np.searchsorted(keys[start:], k)
    return keys[i] if i < keys.size else -1


@njit
def _skip(t: int, now: int, p: F64, live: I64, live_lo: int, inputs: I64, moments: I64) -> int:
    """``_skip_to`` for a loop without a streak running: ``t`` itself when a window holds data."""
    dt = int(p[0])
    k = t // dt
    lo = min(-(-(t - int(p[1])) // dt), -(-(t - int(p[2])) // dt))
    if _any_in(live, live_lo, lo, k) or _any_in(inputs, 0, lo, k) or _any_in(moments, 0, lo, k):
        return t
    cap = (now // dt + 1) * dt
    later = -1
    for f in (_first_from(live, live_lo, k), _first_from(inputs, 0, k), _first_from(moments, 0, k)):
        if f >= 0 and (later < 0 or f < later):
            later = f
    target = cap if later < 0 else min((later + 1) * dt, cap)
    return max(t, target)


@njit
def _run_since(cond: bool, since: int, t: int) -> int:
    if not cond:
        return -1
    return since if since >= 0 else t


@njit
def _held(since: int, t: int, ms: float) -> bool:
    return since >= 0 and t - since >= ms


@njit
def _step(tr: I64, t: int, ic: float, kl: float, p: F64, codes: I64, nc: int) -> int:
    """:func:`.triggers.step` on ``tr`` (in place); appends the codes fired to ``codes``, returns their count."""
    tr[3] = _run_since(ic < p[3], tr[3], t)
    tr[4] = _run_since(ic < p[4], tr[4], t)
    tr[5] = _run_since(ic >= p[5], tr[5], t)
    tr[6] = _run_since(kl > p[6], tr[6], t)
    n0 = nc
    if tr[0] == 0 and _held(tr[3], t, p[7]):
        tr[0] = 1
        codes[nc] = 0
        nc += 1
    if tr[1] == 0 and _held(tr[4], t, p[8]):
        tr[1] = 1
        codes[nc] = 1
        nc += 1
    if tr[0] == 1 and tr[1] == 0 and nc == n0 and _held(tr[5], t, p[9]):
        tr[0] = 0
        codes[nc] = 2
        nc += 1
    if tr[2] == 0 and _held(tr[6], t, p[10]):
        tr[2] = 1
        codes[nc] = 3
        nc += 1
    return nc - n0


@njit
def _grown(a: I64) -> I64:
    out = np.empty(2 * a.size, dtype=np.int64)
    out[: a.size] = a
    return out


@njit
def run(
    t0: int,
    now: int,
    p: F64,
    tr: I64,
    keys: tuple[I64, I64, I64],
    grid: I64,
    values: tuple[F64, I64, F64],
) -> tuple[int, int, I64, I64, I64, I64]:
    """Evaluate from ``t0`` up to ``now`` (ms); ``tr``: :func:`trigger_vector`, updated in place.

    ``keys``: sorted live, input and moment interval keys; ``grid``: the interval ends of
    :func:`.windows.data_grid` with their (IC, observation count, KL) in ``values``.
    Returns (next evaluation time, what came last (-2: nothing, -1: a skip, which
    leaves IC = KL = NaN and no observations, else an evaluation's index), the evaluations' times (S,)
    and grid rows (-1: no data in either window, IC = KL = NaN), the transition codes (C,) and their
    evaluations (C,)).
    """
    live, inputs, moments = keys
    dt = int(p[0])
    cap = 2 * grid.size + 2  # an evaluation without data follows one with data (its NaN ends the streaks)
    ev_t = np.empty(cap, dtype=np.int64)
    ev_g = np.empty(cap, dtype=np.int64)
    codes = np.empty(4 * cap, dtype=np.int64)
    code_ev = np.empty(4 * cap, dtype=np.int64)
    ne = nc = 0
    g = 0
    live_lo = 0
    last = -2
    t = t0
    while t <= now:
        if tr[3] == -1 and tr[4] == -1 and tr[5] == -1 and tr[6] == -1:
            skip = _skip(t, now, p, live, live_lo, inputs, moments)
            if skip > t:
                t = skip
                last = -1
                continue
        if ne == ev_t.size:  # never, by the bound above; grown rather than written past the end
            ev_t, ev_g = _grown(ev_t), _grown(ev_g)
            codes, code_ev = _grown(codes), _grown(code_ev)
        k = t // dt
        while g < grid.size and grid[g] < k:
            g += 1
        row = g if g < grid.size and grid[g] == k else -1
        ic = values[0][row] if row >= 0 else np.nan
        kl = values[2][row] if row >= 0 else np.nan
        if p[11] > 0.0:
            live_lo = live_lo + int(np.searchsorted(live[live_lo:], -(-(t - int(p[2])) // dt)))
        fired = _step(tr, t, ic, kl, p, codes, nc)
        for j in range(nc, nc + fired):
            code_ev[j] = ne
        nc += fired
        ev_t[ne] = t
        ev_g[ne] = row
        last = ne
        ne += 1
        t += dt
    return t, last, ev_t[:ne], ev_g[:ne], codes[:nc], code_ev[:nc]

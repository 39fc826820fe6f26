"""One batch's evaluations on the compiled path: the IC and KL of every interval end with data
(:mod:`.windows`), then the sequential loop (:mod:`.schedule`), then snapshots and transitions.

The same results as ``GovernanceStage``'s Python loop when no operator RESUME is pending (the stage
takes the loop otherwise): same evaluations, values, transitions, next evaluation time and state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from streams.core.groups import union_sorted
from streams.core.units import I64, MINUTE_MS
from streams.stages.governance import ic as icm
from streams.stages.governance import kl as klm
from streams.stages.governance import schedule as sched
from streams.stages.governance import windows as win
from streams.stages.governance.config import GovernanceConfig
from streams.stages.governance.outputs import Snapshots
from streams.stages.governance.triggers import Transition, TriggerState


class Evaluated(NamedTuple):
    next_eval: int
    triggers: TriggerState
    live: klm.LiveCounts
    last: tuple[float, int, float]
    """IC, observation count and KL in force after the batch."""
    snaps: Snapshots
    trans: list[Transition]


def evaluate(
    cfg: GovernanceConfig,
    reference: klm.KLReference | None,
    state: tuple[int, TriggerState, icm.Moments, klm.LiveCounts, tuple[float, int, float]],
    now: int,
    input_keys: I64,
) -> Evaluated:
    """Evaluate every interval end from ``state``'s next evaluation time up to ``now`` (ms).

    ``state``: (next evaluation time, triggers, closed moments (ordered keys), live counts, (IC,
    count, KL) in force); ``input_keys``: the batch's interval keys, sorted and distinct.
    """
    next_eval, triggers, moments, live, before = state
    dt = cfg.eval_interval_min * MINUTE_MS
    w_ic, w_kl = cfg.ic_window_min * MINUTE_MS, cfg.kl_window_min * MINUTE_MS
    mkeys, lkeys = moments.key, live.keys
    union = union_sorted(lkeys, input_keys, mkeys)
    grid = win.data_grid(union, next_eval // dt, now // dt, max(w_ic // dt, w_kl // dt))
    t = grid * dt
    ic_lo = np.searchsorted(mkeys, -(-(t - w_ic) // dt))
    ic, n_ic = win.window_ics(moments, ic_lo, np.searchsorted(mkeys, grid), cfg.ic_min_obs)
    kl = np.full(grid.size, np.nan)
    if reference is not None:
        kl_lo = np.searchsorted(lkeys, -(-(t - w_kl) // dt))
        kl = win.window_kls(
            live, reference, kl_lo, np.searchsorted(lkeys, grid), cfg.kl_smoothing, cfg.kl_min_count
        )
    tr = sched.trigger_vector(triggers)
    p = sched.params(cfg, dt, reference is not None)
    nxt, last, ev_t, ev_g, codes, code_ev = sched.run(
        next_eval, now, p, tr, (lkeys, input_keys, mkeys), grid, (ic, n_ic, kl)
    )
    has, g = ev_g >= 0, np.maximum(ev_g, 0)
    nan = np.full(ev_t.size, np.nan)
    snaps = Snapshots(
        ev_t,
        np.where(has, ic[g], np.nan) if grid.size else nan,
        np.where(has, kl[g], np.nan) if grid.size else nan,
        np.where(has, n_ic[g], 0) if grid.size else np.zeros(ev_t.size, np.int64),
    )
    trans = sched.transitions(codes, ev_t[code_ev], snaps.ic[code_ev], snaps.kl[code_ev], cfg)
    if reference is not None and ev_t.size:  # the loop prunes at each evaluation: the last one counts
        live = klm.prune(live, -(-(int(ev_t[-1]) - w_kl) // dt))
    if last == -1:  # a skip came last: no evidence
        before = (float("nan"), 0, float("nan"))
    elif last >= 0:
        before = (float(snaps.ic[last]), int(snaps.n[last]), float(snaps.kl[last]))
    return Evaluated(nxt, sched.trigger_state(tr), live, before, snaps, trans)

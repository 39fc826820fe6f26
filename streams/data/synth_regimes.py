"""Regime paths and event schedules for the synthetic market.

Regimes: 0 Stable_Flow (calm OU), 1 Directional_Vol (trend, high vol), 2 Event_Risk (jump, vol burst,
wide spreads). Each pair follows a semi-Markov chain of spells; in each spell of a common chain a pair
follows the common regime with a coupling probability, which correlates regimes across pairs.
Calendar events overlay Event_Risk windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.data.synth_config import SynthConfig

CALM, DIRECTIONAL, EVENT = 0, 1, 2


@dataclass(frozen=True)
class RegimePath:
    """Regime per minute of the open-minute grid and the event onsets."""

    regime: npt.NDArray[np.int8]
    """Regime per minute, shape (n,)."""
    onset: npt.NDArray[np.intp]
    """Grid indices of event minutes (jump time), sorted, unique."""
    pre_window: npt.NDArray[np.bool_]
    """True in calendar pre-event minutes (spreads widen ahead of the release), shape (n,)."""


def _duration(state: int, rng: np.random.Generator, cfg: SynthConfig) -> int:
    if state == CALM:
        return max(30, int(rng.exponential(cfg.calm_mean_min)))
    lo, hi = cfg.directional_min if state == DIRECTIONAL else cfg.event_min
    return int(rng.uniform(lo, hi + 1))


def _next_state(state: int, rng: np.random.Generator, cfg: SynthConfig) -> int:
    u = rng.random()
    if state == CALM:
        return EVENT if u < cfg.p_event_from_calm else DIRECTIONAL
    if state == DIRECTIONAL:
        return EVENT if u < cfg.p_event_from_directional else CALM
    return DIRECTIONAL if u < cfg.p_directional_from_event else CALM


def markov_spells(
    n: int, rng: np.random.Generator, cfg: SynthConfig
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """Draw a semi-Markov regime chain of ``n`` minutes starting calm.

    Returns
    -------
    regime : ndarray of int8, shape (n,)
    lengths : ndarray of int64, shape (k,)
        Spell lengths in minutes, summing to ``n``.
    """
    states: list[int] = []
    lengths: list[int] = []
    state, total = CALM, 0
    while total < n:
        dur = min(_duration(state, rng, cfg), n - total)
        states.append(state)
        lengths.append(dur)
        total += dur
        state = _next_state(state, rng, cfg)
    lens = np.asarray(lengths, dtype=np.int64)
    return np.repeat(np.asarray(states, dtype=np.int8), lens), lens


def couple(
    own: npt.NDArray[np.int8],
    common: npt.NDArray[np.int8],
    common_lengths: npt.NDArray[np.int64],
    coupling: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.int8]:
    """Follow ``common`` in each common spell with probability ``coupling``, else ``own``."""
    follow = np.repeat(rng.random(len(common_lengths)) < coupling, common_lengths)
    return np.where(follow, common, own).astype(np.int8)


def run_starts(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Return the indices where runs of True begin."""
    prev = np.concatenate([[False], mask[:-1]])
    return np.flatnonzero(mask & ~prev)


def overlay_calendar(
    regime: npt.NDArray[np.int8],
    grid: npt.NDArray[np.int64],
    event_ts: npt.NDArray[np.int64],
    cfg: SynthConfig,
) -> RegimePath:
    """Set Event_Risk around calendar events that fall on open minutes of ``grid``.

    Random event onsets (starts of Event_Risk spells) inside a calendar window are dropped; each
    calendar event minute (time floored to the minute) becomes an onset.
    """
    before, after = cfg.event_window_min
    minutes = np.unique(event_ts // 60_000 * 60_000)
    pos = np.searchsorted(grid, minutes)
    hit = pos < len(grid)
    hit[hit] = grid[pos[hit]] == minutes[hit]
    cal_onsets = pos[hit].astype(np.intp)
    window = np.zeros(len(grid), dtype=bool)
    pre = np.zeros(len(grid), dtype=bool)
    for i in cal_onsets:
        window[max(0, i - before) : i + after] = True
        pre[max(0, i - before) : i] = True
    random_onsets = run_starts(regime == EVENT)
    random_onsets = random_onsets[~window[random_onsets]]
    out = regime.copy()
    out[window] = EVENT
    onset = np.union1d(random_onsets, cal_onsets).astype(np.intp)
    pre &= ~np.isin(np.arange(len(grid)), onset)
    return RegimePath(regime=out, onset=onset, pre_window=pre)

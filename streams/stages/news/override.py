"""Vectorised event-window override and surprise mode for one pair's bars.

A pair ``BASEQUOTE`` is exposed to events of its base and quote currencies, to events of the
"all currencies" code, and to events of currencies linked to its base or quote by the config
(``CNY → AUD, NZD``). Per pair and impact level the exposed events' times are a sorted array, so a bar
at ``t`` is inside a window ``[e - before, e + after]`` exactly when the first event at or after
``t - after`` is at or before ``t + before``: one ``searchsorted`` per impact level.

The surprise mode counts signed votes of the pair's own-currency surprises released in
``[t - window, t]`` (so never before the release): a surprise for the base currency votes
``sign(z)``, for the quote currency ``-sign(z)`` (flipped for unemployment-type releases); the mode is
the sign of the net vote, 0 on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.units import I64, MINUTE_MS
from streams.stages.news.calendar_state import Columns
from streams.stages.news.config import NewsConfig


@dataclass(frozen=True)
class PairIndex:
    """Events one pair is exposed to, prebuilt from the calendar."""

    override: tuple[tuple[str, I64, I64], ...]
    """Per override impact level: (impact, sorted event times ms, calendar row of each)."""
    surprise_ts: I64
    """Sorted release times (ms) of the pair's qualifying surprises."""
    surprise_votes: npt.NDArray[np.int8]
    """+1/-1 vote of each surprise for the pair's base currency."""


def exposed_currencies(pair: str, config: NewsConfig) -> list[str]:
    """Return the calendar currencies whose events affect ``pair`` (upper case)."""
    base, quote = pair[:3].upper(), pair[3:6].upper()
    linked = [
        c.upper()
        for c, targets in config.linked_currencies.items()
        if base in {t.upper() for t in targets} or quote in {t.upper() for t in targets}
    ]
    return [base, quote, config.all_currency.upper(), *linked]


def build_pair_index(pair: str, cal: Columns, derived: Any, config: NewsConfig) -> PairIndex:
    """Select the events exposing ``pair``; ``derived`` carries the per-event ``z`` and ``inverse`` arrays."""
    cur, imp, ts = cal["currency"], cal["impact"], cal["ts"]
    affected = np.isin(cur, exposed_currencies(pair, config))
    override = []
    for level in config.override_impacts:
        rows = np.flatnonzero(affected & (imp == level)).astype(np.int64)
        override.append((level, ts[rows], rows))
    base, quote = pair[:3].upper(), pair[3:6].upper()
    z = derived.z
    fires = (
        config.surprise_enabled
        & ((cur == base) | (cur == quote))
        & np.isin(imp, config.surprise_impacts)
        & (np.abs(np.nan_to_num(z)) > config.surprise_threshold)
    )
    rows = np.flatnonzero(fires)
    votes = np.where(cur[rows] == base, 1, -1) * np.sign(z[rows]).astype(np.int64) * derived.inverse[rows]
    return PairIndex(tuple(override), ts[rows].astype(np.int64), votes.astype(np.int8))


def window_hits(t: I64, index: PairIndex, config: NewsConfig) -> I64:
    """Return, for each bar time in ``t`` (ms, any order, shape (n,)), the calendar row of the earliest
    event whose override window contains it, or -1."""
    best_ts = np.full(len(t), np.iinfo(np.int64).max)
    best_row = np.full(len(t), -1, dtype=np.int64)
    for level, ets, rows in index.override:
        if not len(ets):
            continue
        before, after = (m * MINUTE_MS for m in config.windows_min[level])
        lo = np.searchsorted(ets, t - after, side="left")
        cand = ets[np.minimum(lo, len(ets) - 1)]
        better = (lo < len(ets)) & (cand <= t + before) & (cand < best_ts)
        best_ts[better] = cand[better]
        best_row[better] = rows[lo[better]]
    return best_row


def surprise_mode(t: I64, index: PairIndex, config: NewsConfig) -> npt.NDArray[np.int32]:
    """Return the surprise mode (+1, -1, 0) of each bar time in ``t`` (ms, shape (n,))."""
    ets = index.surprise_ts
    if not len(ets):
        return np.zeros(len(t), dtype=np.int32)
    cum = np.concatenate([[0], np.cumsum(index.surprise_votes, dtype=np.int64)])
    lo = np.searchsorted(ets, t - config.surprise_window_min * MINUTE_MS, side="left")
    hi = np.searchsorted(ets, t, side="right")  # releases at or before the bar's open time only
    return np.sign(cum[hi] - cum[lo]).astype(np.int32)

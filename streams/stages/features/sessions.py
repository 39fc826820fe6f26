"""Trading sessions (DST-aware, UTC input) and session-normalised volatility.

Session ids, from local clock times (``zoneinfo``, so daylight saving moves them in UTC):

* 1 London: 08:00-16:30 Europe/London, not in New York hours;
* 2 London-New York overlap: both;
* 3 New York: 08:00-17:00 America/New_York, not in London hours;
* 4 rollover / off-hours: ``rollover_min`` minutes from 17:00 New York (the value-date roll, when
  liquidity is thinnest), and whenever the market is closed (:mod:`streams.fx.hours`: the weekend
  from Friday 17:00 to Sunday 17:00 New York, 25 December, 1 January);
* 0 Asia: everything else.

Precedence is 4, then 2, 1, 3, 0. The UK moves its clocks on the last Sunday of March / October at
01:00 UTC, the US on the second Sunday of March / first Sunday of November at 02:00 local, so for a
few weeks a year the overlap is one hour longer or shorter in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, I32, I64, MINUTE_MS
from streams.fx.hours import is_open, local_ms

ASIA, LONDON, OVERLAP, NEW_YORK, ROLLOVER = 0, 1, 2, 3, 4
N_SESSIONS = 5
_LONDON_TZ = "Europe/London"
_NEW_YORK_TZ = "America/New_York"
_LONDON_HOURS = (8 * 60, 16 * 60 + 30)
_NEW_YORK_HOURS = (8 * 60, 17 * 60)
_ROLL = 17 * 60


def session_ids(ts: I64, rollover_min: int) -> I32:
    """Return the session id (see the module docstring) of each bar open time, shape (n,), int32.

    Parameters
    ----------
    ts : ndarray of int64, shape (n,)
        Bar open times, ms UTC.
    rollover_min : int
        Minutes after 17:00 New York time that count as rollover (id 4).
    """
    lon = local_ms(ts, _LONDON_TZ)
    ny = local_ms(ts, _NEW_YORK_TZ)
    lon_min = (lon // MINUTE_MS) % 1440
    ny_min = (ny // MINUTE_MS) % 1440
    london = (lon_min >= _LONDON_HOURS[0]) & (lon_min < _LONDON_HOURS[1])
    newyork = (ny_min >= _NEW_YORK_HOURS[0]) & (ny_min < _NEW_YORK_HOURS[1])
    roll = (ny_min >= _ROLL) & (ny_min < _ROLL + rollover_min)
    closed = ~is_open(ts)
    sid = np.full(len(ts), ASIA, dtype=np.int32)
    sid[newyork] = NEW_YORK
    sid[london] = LONDON
    sid[london & newyork] = OVERLAP
    sid[roll | closed] = ROLLOVER
    return sid


def _zeros_f() -> F64:
    return np.full(N_SESSIONS, np.nan)


def _zeros_i() -> I64:
    return np.zeros(N_SESSIONS, dtype=np.int64)


@dataclass(frozen=True)
class SessionStats:
    """One pair's typical variance per session and its open session occurrence."""

    ref: F64 = field(default_factory=_zeros_f)
    """EWMA over completed occurrences of the occurrence's mean GK variance, per session id."""
    days: I64 = field(default_factory=_zeros_i)
    """Completed occurrences folded into ``ref``, per session id."""
    cur: int = -1
    """Session id of the open occurrence (-1: none yet)."""
    cur_sum: float = 0.0
    """Sum of the open occurrence's GK variances, added bar by bar in order."""
    cur_cnt: int = 0
    """Bars in the open occurrence."""


def _fold(ref: list[float], days: list[int], cur: int, total: float, count: int, alpha: float) -> None:
    mean = total / count
    ref[cur] = mean if days[cur] == 0 else ref[cur] + alpha * (mean - ref[cur])
    days[cur] += 1


def session_vol_norm(
    stats: SessionStats,
    sid: I32,
    gkv: F64,
    gk_vol: F64,
    new_segment: npt.NDArray[np.bool_],
    alpha: float,
    min_days: int,
    min_bars: int,
) -> tuple[SessionStats, F64]:
    """Return ``gk_vol_t / sqrt(typical GK variance of t's session)`` for one pair's new bars.

    An occurrence of a session is a run of the pair's consecutive bars with the same session id,
    also ended by a new segment (gap > ``max_gap_min``). When it ends, if it holds ``min_bars``
    bars, the mean of its per-bar GK variances is folded into the session's EWMA
    ``ref <- ref + alpha (mean - ref)`` (the first occurrence initialises it). A bar is normalised by
    the EWMA of occurrences completed before its own (no look-ahead), once ``min_days`` of them
    exist; otherwise NaN. The typical variances survive gaps (they are multi-day statistics).

    Parameters
    ----------
    stats : SessionStats
        The pair's state before these bars.
    sid, gkv, gk_vol : ndarray, shape (k,)
        Session ids, per-bar GK variances and rolling GK volatility of the new bars.
    new_segment : ndarray of bool, shape (k,)
        True where the bar starts a new segment.

    Returns
    -------
    (SessionStats, ndarray of shape (k,))
        The new state and the ratios (dimensionless; NaN where undefined).
    """
    k = len(sid)
    prev = np.concatenate([[stats.cur], sid[:-1]])
    starts = set(np.flatnonzero((sid != prev) | new_segment).tolist())
    edges = sorted({0, k} | starts)
    ref, days = stats.ref.tolist(), stats.days.tolist()
    out = np.full(k, np.nan)
    cur, total, count = stats.cur, stats.cur_sum, stats.cur_cnt
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if a in starts:
            if cur >= 0 and count >= min_bars:
                _fold(ref, days, cur, total, count, alpha)
            cur, total, count = int(sid[a]), 0.0, 0
        if days[cur] >= min_days and ref[cur] > 0:
            out[a:b] = gk_vol[a:b] / np.sqrt(ref[cur])
        # a strict left fold, bar by bar, so the sum does not depend on batch boundaries
        total = float(np.cumsum(np.concatenate([[total], gkv[a:b]]))[-1])
        count += b - a
    r, d = np.array(ref, dtype=np.float64), np.array(days, dtype=np.int64)
    r.flags.writeable = False
    d.flags.writeable = False
    return SessionStats(ref=r, days=d, cur=cur, cur_sum=total, cur_cnt=count), out

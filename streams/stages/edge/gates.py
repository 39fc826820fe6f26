"""Entry gates of the edge engine: a signal passes only when every gate passes.

Gates, in the order they are listed in ``blocked_by``:

=========  =====================================================================================
warmup     features not ready, or the edge model has no estimate (NaN feature, no model)
no_skill   the pair's execution-priced model failed its own in-window CV skill check against a
           constant win probability (it refuses to open positions rather than trade noise)
regime     the (news-adjusted) regime is not tradeable
news       an economic-calendar event overrides the regime
surprise   a news surprise put the pair in temporary directional mode (``surprise_mode != 0``)
cost       expected_return <= cost * safety_factor (execution-priced model: P(fill) E[r | fill] vs
           the exit's expected cost P(fill) E[exit cost | fill])
win_prob   win_prob <= min_win_prob
cvar       cvar < -cvar_limit (the 5 % tail loss is too deep)
ou_slow    OU half-life above the limit, or the OU estimate is not valid (no demonstrated reversion)
=========  =====================================================================================

Round-trip cost, fractional (the units of ``expected_return``)::

    cost = spread_factor * spread / mid + 2 * (commission_bps + slippage_bps) * 1e-4

An entry and an exit each cross half the spread, so a round trip pays one full spread
(``spread_factor = 1``); commission and slippage are charged on both legs. This is the legacy
mid-to-mid model's cost; the execution-priced model (:mod:`models.exec_edge`) supplies its own
``cost`` (the passive exit's expected cost) and ``expected_return`` (P(fill) x E[return | fill]).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, B

GATES: tuple[str, ...] = (
    "warmup",
    "regime",
    "news",
    "surprise",
    "cost",
    "win_prob",
    "cvar",
    "ou_slow",
    "no_skill",
)


def round_trip_cost(
    spread: F64, mid: F64, spread_factor: float, commission_bps: float, slippage_bps: float
) -> F64:
    """Estimated round-trip cost per bar, shape (n,), fractional return (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        half_spreads = spread_factor * np.asarray(spread, np.float64) / np.asarray(mid, np.float64)
    return half_spreads + 2.0 * (commission_bps + slippage_bps) * 1e-4


def blocked_labels(blocked: Mapping[str, B], n: int) -> tuple[B, npt.NDArray[np.str_]]:
    """Combine per-gate block masks into ``passed`` and the comma-separated ``blocked_by``.

    Parameters
    ----------
    blocked : mapping of gate name to bool ndarray, shape (n,)
        True where that gate blocks; every name must be in :data:`GATES`.
    n : int
        Number of rows.

    Returns
    -------
    passed : bool ndarray, shape (n,)
    blocked_by : str ndarray, shape (n,)
        Blocking gate names in :data:`GATES` order joined by ``,``; ``""`` when passed.
    """
    unknown = set(blocked) - set(GATES)
    if unknown:
        raise ValueError(f"unknown gate(s) {sorted(unknown)}")
    code = np.zeros(n, dtype=np.int64)
    for bit, g in enumerate(GATES):
        if g in blocked:
            code |= np.asarray(blocked[g], dtype=bool).astype(np.int64) << bit
    # At most 2**8 combinations: label each distinct code once instead of joining per row.
    uniq, inv = np.unique(code, return_inverse=True)
    labels = [",".join(g for bit, g in enumerate(GATES) if c >> bit & 1) for c in uniq.tolist()]
    table = np.array(labels if labels else [""], dtype=str)
    return code == 0, table[inv] if n else np.zeros(0, dtype=str)

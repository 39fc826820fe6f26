"""Drawdown throttle: size multipliers from the drawdown below the high-water mark.

With the default levels ``((0.03, 0.5), (0.05, 0.25))`` a drawdown strictly above 3 % halves new and
held sizes, strictly above 5 % quarters them (the architecture's "-50 % / -75 % size"). Inequalities
are strict: exactly 3 % keeps full size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def throttle_factor(dd: npt.ArrayLike, levels: Sequence[tuple[float, float]]) -> npt.NDArray[np.float64]:
    """Return the size multiplier for drawdowns ``dd`` (fractions, shape (n,) or scalar).

    Parameters
    ----------
    dd : array_like
        Drawdown from the high-water mark as a fraction (0.03 = 3 %).
    levels : sequence of (threshold, multiplier)
        Sorted by threshold; the multiplier of the highest threshold strictly below ``dd`` applies.
    """
    d = np.asarray(dd, dtype=np.float64)
    out = np.ones_like(d)
    for threshold, mult in levels:
        out = np.where(d > threshold, mult, out)
    return out

"""Volatility targeting: scale new positions so the whole book's predicted vol equals a target.

Predicted annualised vol of weights ``w`` (fractions of equity) is ``sqrt(w' S w * M)`` with ``S`` the
per-minute return covariance and ``M`` trading minutes per year. Held positions are not resized by a
new decision (that would churn orders every minute); only the new candidates ``c`` are scaled by the
``k >= 0`` that solves ``vol(h + k c) = target``, so the book after the decision sits on the target.
When the held book alone already reaches the target, ``k = 0``: no new risk is added.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.core.units import F64 as Vec


def annual_vol(w: Vec, cov_min: npt.NDArray[np.float64], minutes_per_year: float) -> float:
    """Return the predicted annualised volatility of weights ``w`` (P,) under ``cov_min`` (P, P)."""
    return float(np.sqrt(max(float(w @ cov_min @ w), 0.0) * minutes_per_year))


def vol_scale(
    held: Vec, cand: Vec, cov_min: npt.NDArray[np.float64], target: float, minutes_per_year: float
) -> float:
    """Return ``k >= 0`` with ``annual_vol(held + k * cand) == target`` (0 when unreachable).

    Parameters
    ----------
    held, cand : ndarray, shape (P,)
        Weights (fraction of equity, signed) of held positions and of the new candidates.
    cov_min : ndarray, shape (P, P)
        Per-minute covariance of log returns.
    target : float
        Annualised volatility target (0.10 = 10 %).
    """
    var_t = target * target / minutes_per_year
    a = float(cand @ cov_min @ cand)
    b = float(held @ cov_min @ cand)
    c = float(held @ cov_min @ held) - var_t
    if a <= 0.0 or c >= 0.0:
        return 0.0
    # a k^2 + 2 b k + c = 0 with c < 0 has exactly one positive root.
    return (-b + float(np.sqrt(b * b - a * c))) / a

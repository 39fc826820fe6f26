"""The regime labeling rule: what each bar's *next* ``horizon`` bars turned out to be.

Labels look into the future (that is their purpose); features never do. The rule is deterministic,
scale-free (every quantity is a ratio to the pair's own trailing volatility or to its typical spread, so
the same thresholds apply to EURUSD in 2019 and to GBPJPY in October 2008) and does not depend on any
synthetic generator's parameters.

For bar ``t`` of a pair, with ``r_1 … r_H`` the next ``H = horizon`` log-returns of the mid and
``σ_t`` the pair's robust trailing volatility (median of ``|r|`` over the last ``baseline_window`` bars
up to and including ``t``, divided by 0.6745, the median of ``|N(0, 1)|``):

* **Event_Risk (2)** if any of
  a jump: ``max |r_i| ≥ jump_k · σ_t``;
  a volatility burst: ``sqrt(mean r_i²) ≥ event_vol_k · σ_t``;
  a spread shock: ``max spread_widening`` over the window ``≥ spread_k``.
* **Directional_Vol (1)** else if the window trends or is volatile, i.e. a mean-reversion trade held
  over it faces a drift or a risk that calm-flow sizing does not expect:
  trend efficiency ``|Σ r_i| / sqrt(Σ r_i²) ≥ trend_z`` (the net move in units of the window's own
  realised path volatility: ``|N(0, 1)|`` for a driftless random walk and smaller for mean-reverting
  flow, so ``trend_z = 2`` is a move a random walk makes ~5 % of the time), or
  ``sqrt(mean r_i²) ≥ directional_vol_k · σ_t`` (volatility 50 % above its trailing typical level).
* **Stable_Flow (0)** otherwise.
* **unlabeled (-1)** when the window is incomplete (end of data), spans more than
  ``max_span_factor · H`` minutes (a data gap would mix two market states), or ``σ_t`` is not known yet
  (fewer than ``baseline_min_bars`` trailing bars).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from streams.core.units import MINUTE_MS

STABLE, DIRECTIONAL, EVENT, UNLABELED = 0, 1, 2, -1
_MAD_NORMAL = 0.6744897501960817  # median of |N(0, 1)|


class RegimeLabelConfig(BaseModel):
    """Parameters of the labeling rule (see :mod:`models.regime_labels`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: int = Field(default=30, ge=2)
    """Forward window, bars of the same pair (≈ minutes). Also the minimum train/test purge."""
    max_span_factor: float = Field(default=2.0, ge=1.0)
    """A window spanning more than this × horizon minutes (a data gap) is left unlabeled."""
    baseline_window: int = Field(default=1440, ge=10)
    """Trailing bars of the robust volatility baseline σ_t (one trading day)."""
    baseline_min_bars: int = Field(default=360, ge=10)
    """Bars needed before σ_t is defined."""
    jump_k: float = Field(default=8.0, gt=0)
    """A 1-minute move of at least this many σ_t is a jump (Event_Risk)."""
    event_vol_k: float = Field(default=3.0, gt=0)
    """Forward RMS return of at least this many σ_t is a volatility burst (Event_Risk)."""
    spread_k: float = Field(default=3.0, gt=0)
    """Forward max ``spread_widening`` (spread / typical spread) at or above this is a spread shock."""
    trend_z: float = Field(default=2.0, gt=0)
    """Trend efficiency |Σr| / sqrt(Σr²) at or above this is directional."""
    directional_vol_k: float = Field(default=1.5, gt=0)
    """Forward RMS return of at least this many σ_t (below ``event_vol_k``) is elevated volatility."""

    @property
    def purge_ms(self) -> int:
        """Longest time a label looks ahead, ms: the minimum gap between training and test rows."""
        return int(np.ceil(self.max_span_factor * self.horizon)) * MINUTE_MS


def _forward(a: npt.NDArray[np.float64], h: int, how: str) -> npt.NDArray[np.float64]:
    """Statistic of a[t+1 … t+h] for each t (NaN where incomplete)."""
    out = np.full(len(a), np.nan)
    if len(a) <= h:
        return out
    win = np.lib.stride_tricks.sliding_window_view(a[1:], h)  # row t = a[t+1 : t+h+1]
    with np.errstate(all="ignore"):
        if how == "sum":
            out[: len(win)] = win.sum(axis=1)
        elif how == "sumsq":
            out[: len(win)] = np.square(win).sum(axis=1)
        elif how == "absmax":
            out[: len(win)] = np.abs(win).max(axis=1)
        else:  # nanmax: spread_widening may be NaN during the features warm-up
            finite = np.where(np.isfinite(win), win, -np.inf).max(axis=1)
            out[: len(win)] = np.where(np.isfinite(finite), finite, np.nan)
    return out


def _label_one_pair(
    ts: npt.NDArray[np.int64],
    mid: npt.NDArray[np.float64],
    widening: npt.NDArray[np.float64],
    cfg: RegimeLabelConfig,
) -> npt.NDArray[np.int8]:
    h = cfg.horizon
    r = np.diff(np.log(mid), prepend=np.nan)
    sigma = (
        pd.Series(np.abs(r))
        .rolling(cfg.baseline_window, min_periods=cfg.baseline_min_bars)
        .median()
        .to_numpy()
        / _MAD_NORMAL
    )
    net, sumsq = _forward(r, h, "sum"), _forward(r, h, "sumsq")
    jump, spread_max = _forward(r, h, "absmax"), _forward(widening, h, "nanmax")
    rms = np.sqrt(sumsq / h)
    span = np.full(len(ts), np.inf)
    span[: max(len(ts) - h, 0)] = (ts[h:] - ts[:-h]) / MINUTE_MS if len(ts) > h else []
    with np.errstate(all="ignore"):
        event = (jump >= cfg.jump_k * sigma) | (rms >= cfg.event_vol_k * sigma) | (spread_max >= cfg.spread_k)
        trend = np.abs(net) / np.sqrt(sumsq) >= cfg.trend_z
        directional = trend | (rms >= cfg.directional_vol_k * sigma)
    label = np.where(event, EVENT, np.where(directional, DIRECTIONAL, STABLE)).astype(np.int8)
    valid = (
        np.isfinite(sigma)
        & (sigma > 0)
        & np.isfinite(sumsq)
        & (sumsq > 0)
        & (span <= cfg.max_span_factor * h)
    )
    label[~valid] = UNLABELED
    return label


def label_regimes(
    pair: npt.NDArray[np.str_],
    ts: npt.NDArray[np.int64],
    mid: npt.NDArray[np.float64],
    spread_widening: npt.NDArray[np.float64],
    config: RegimeLabelConfig | None = None,
) -> npt.NDArray[np.int8]:
    """Label every bar from its forward window (see the module docstring for the rule).

    Parameters
    ----------
    pair : ndarray of str, shape (n,)
    ts : ndarray of int64, shape (n,)
        Bar open time, ms UTC; strictly increasing within each pair (rows of pairs may interleave).
    mid : ndarray of float64, shape (n,)
        Mid price, price units (> 0).
    spread_widening : ndarray of float64, shape (n,)
        Spread over its typical level (dimensionless, ≈ 1 in normal conditions; NaN allowed).
    config : RegimeLabelConfig, optional

    Returns
    -------
    ndarray of int8, shape (n,)
        0 Stable_Flow, 1 Directional_Vol, 2 Event_Risk, -1 unlabeled.
    """
    cfg = config or RegimeLabelConfig()
    out = np.full(len(ts), UNLABELED, dtype=np.int8)
    for p in np.unique(pair):
        idx = np.flatnonzero(pair == p)
        idx = idx[np.argsort(ts[idx], kind="stable")]
        out[idx] = _label_one_pair(
            np.asarray(ts[idx], dtype=np.int64),
            np.asarray(mid[idx], dtype=np.float64),
            np.asarray(spread_widening[idx], dtype=np.float64),
            cfg,
        )
    return out

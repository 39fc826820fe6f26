"""Price dynamics of one synthetic pair on the open-minute grid.

Log mid ``x = f + d``: ``f`` is the fair value, a random walk with drift in directional spells and
permanent jumps at events; ``d`` is an Ornstein-Uhlenbeck deviation, ``dd = -theta d dt + sigma dW``,
simulated exactly on ``substeps`` points per minute, so sampled once a minute it is an AR(1) with
coefficient ``exp(-theta)``. Open/high/low/close come from the intra-minute points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from streams.core.units import F64
from streams.data.synth_config import SynthConfig
from streams.data.synth_regimes import DIRECTIONAL, EVENT, RegimePath, run_starts
from streams.fx.sessions import in_hours


@dataclass(frozen=True)
class Dynamics:
    """Per-minute parameters of one pair, each shape (n,)."""

    sigma: F64
    """Volatility of log mid per sqrt(minute)."""
    theta: F64
    """OU mean-reversion speed per minute."""
    drift: F64
    """Fair-value drift per minute (log)."""
    jump: F64
    """Log jump at event minutes, 0 elsewhere."""
    spread_mult: F64
    """Regime spread widening (>= 1)."""


@dataclass(frozen=True)
class PathOut:
    """Simulated minute bars of the log mid and the truth series, each shape (n,), log price."""

    open: F64
    high: F64
    low: F64
    close: F64
    fair_close: F64
    """Fair value at the close, log."""
    dev_close: F64
    """OU deviation at the close, log."""


def _directional(
    regime: npt.NDArray[np.int8], sigma0: float, rng: np.random.Generator, cfg: SynthConfig
) -> tuple[F64, F64]:
    is_dir = regime == DIRECTIONAL
    starts = run_starts(is_dir)
    first = np.zeros(len(regime), dtype=np.int64)
    first[starts] = 1
    label = np.cumsum(first) - 1
    k = len(starts)
    mult = rng.uniform(*cfg.directional_vol_mult, size=k)
    drift = rng.choice([-1.0, 1.0], size=k) * rng.uniform(*cfg.directional_drift, size=k) * sigma0
    safe = np.clip(label, 0, max(k - 1, 0))
    vol = np.where(is_dir, mult[safe] if k else 1.0, 1.0)
    return vol, np.where(is_dir, drift[safe] if k else 0.0, 0.0)


def _events(
    path: RegimePath, sigma0: float, rng: np.random.Generator, cfg: SynthConfig
) -> tuple[F64, F64, F64]:
    n = len(path.regime)
    vol, spread, jump = np.ones(n), np.ones(n), np.zeros(n)
    length = int(6 * max(cfg.event_vol_decay_min, cfg.event_spread_decay_min)) + 1
    k = np.arange(length, dtype=np.float64)
    for i in path.onset:
        m, w = rng.uniform(*cfg.event_vol_mult), rng.uniform(*cfg.event_spread_mult)
        jump[i] = rng.choice([-1.0, 1.0]) * rng.uniform(*cfg.event_jump) * sigma0
        sl = slice(i, min(n, i + length))
        span = sl.stop - sl.start
        vol[sl] = np.maximum(vol[sl], 1 + (m - 1) * np.exp(-k[:span] / cfg.event_vol_decay_min))
        spread[sl] = np.maximum(spread[sl], 1 + (w - 1) * np.exp(-k[:span] / cfg.event_spread_decay_min))
    # Ahead of a scheduled release quotes widen before anything moves.
    spread[path.pre_window] = np.maximum(spread[path.pre_window], cfg.event_spread_mult[0] / 2)
    return vol, spread, jump


def dynamics(
    path: RegimePath,
    grid: npt.NDArray[np.int64],
    sigma0: float,
    theta0: float,
    rng: np.random.Generator,
    cfg: SynthConfig,
) -> Dynamics:
    """Build per-minute parameters from the regime path.

    Parameters
    ----------
    path : RegimePath
        Regimes and event onsets on ``grid``.
    grid : ndarray of int64, shape (n,)
        Open minutes, ms UTC.
    sigma0 : float
        Calm 1-minute volatility of log mid (London/New York hours).
    theta0 : float
        Calm OU speed per minute.
    rng : numpy.random.Generator
    cfg : SynthConfig
    """
    dir_vol, drift = _directional(path.regime, sigma0, rng, cfg)
    ev_vol, ev_spread, jump = _events(path, sigma0, rng, cfg)
    session = np.where(in_hours(grid, *cfg.asian_hours), cfg.asian_vol_factor, 1.0)
    theta = np.where(path.regime == DIRECTIONAL, theta0 * cfg.directional_theta_factor, theta0)
    spread = np.where(path.regime == DIRECTIONAL, cfg.directional_spread_mult, 1.0)
    spread = np.maximum(spread, np.where(path.regime == EVENT, ev_spread, 1.0))
    spread[path.pre_window] = ev_spread[path.pre_window]
    return Dynamics(sigma0 * session * dir_vol * ev_vol, theta, drift, jump, spread)


def _ou(theta: F64, shocks: F64, s: int) -> F64:
    """Run the exact OU recursion on sub-steps, one lfilter call per run of constant theta."""
    phi_min = np.exp(-theta / s)
    edges = np.concatenate([[0], np.flatnonzero(np.diff(theta) != 0) + 1, [len(theta)]])
    out = np.empty_like(shocks)
    prev = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        phi = float(phi_min[a])
        seg, _ = lfilter([1.0], [1.0, -phi], shocks[a * s : b * s], zi=[phi * prev])
        out[a * s : b * s] = seg
        prev = float(seg[-1])
    return out


def simulate(
    dyn: Dynamics,
    log_p0: float,
    cfg: SynthConfig,
    rng: np.random.Generator,
    common: tuple[F64, F64] | None = None,
    loading: float = 0.0,
) -> PathOut:
    """Simulate the intra-minute log-mid path and reduce it to minute OHLC.

    ``common`` holds the shared standard-normal sub-step shocks (fair, deviation), shape (n * substeps,);
    a pair's shocks are ``loading * common + sqrt(1 - loading**2) * own``.
    """
    s, n, share = cfg.substeps, len(dyn.sigma), cfg.ou_share
    own = rng.standard_normal((2, n * s))
    if common is not None and loading != 0.0:
        own = loading * np.stack(common) + np.sqrt(1 - loading**2) * own
    onset = np.flatnonzero(dyn.jump != 0)
    df = np.repeat(dyn.drift / s, s) + np.repeat(dyn.sigma * np.sqrt((1 - share) / s), s) * own[0]
    df[onset * s] += dyn.jump[onset] * (1 - cfg.event_overshoot)
    fair = log_p0 + np.cumsum(df)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(dyn.theta > 0, -np.expm1(-2 * dyn.theta / s) / (2 * dyn.theta), 1.0 / s)
    shocks = np.repeat(dyn.sigma * np.sqrt(share * var), s) * own[1]
    shocks[onset * s] += dyn.jump[onset] * cfg.event_overshoot
    dev = _ou(dyn.theta, shocks, s)
    x = (fair + dev).reshape(n, s)
    return PathOut(
        open=x[:, 0].copy(),
        high=x.max(axis=1),
        low=x.min(axis=1),
        close=x[:, -1].copy(),
        fair_close=fair.reshape(n, s)[:, -1].copy(),
        dev_close=dev.reshape(n, s)[:, -1].copy(),
    )

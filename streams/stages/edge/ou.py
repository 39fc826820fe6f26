"""OU governance: rolling mean-reversion speed of each pair's displacement series.

Over the last ``window`` bars of a pair, fit the AR(1) exact discretisation of an Ornstein-Uhlenbeck
process by least squares, ``x_{t+1} = a + b x_t + e``, using only one-minute transitions (a pair of
bars separated by a gap, or with a non-finite value, is left out). Then::

    theta = -ln(b)  per minute,    half_life_min = ln(2) / theta

The estimate is *valid* when the window holds at least ``min_points`` transitions, ``0 < b < 1``
(``b >= 1``: no reversion, ``theta <= 0``; ``b <= 0``: an oscillating, not an OU, series) and the fit is
good enough: the Dickey-Fuller statistic ``(1 - b) / se(b)`` is at least ``min_t_stat`` (default
2.86, the asymptotic 5 % critical value of the test with an intercept; below it the window cannot tell
reversion from a random walk, whose least-squares ``b`` is biased below 1 by about ``4 / n``).

The window sums are exact: values are quantised to ``1 / OU_SCALE`` and summed in int64 (wrap-around
cumulative sums difference exactly), so results never depend on how the stream was split into
batches. OU only annotates and blocks; it never creates an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.core.units import F64, I64, B

OU_SCALE = 2**16
"""Quantisation of the series: 1.5e-5 units, far below any displacement's noise."""
OU_CLIP = 100.0
"""|x| clip (displacement in vol units) so window sums of products fit int64 for windows up to
MAX_WINDOW bars: 20,000 * (100 * 2**16)**2 = 8.6e17 < 9.2e18."""
MAX_WINDOW = 20_000


@dataclass(frozen=True)
class OUHistory:
    """The last ``window - 1`` bars of one pair (all that a new bar's window needs)."""

    q: I64
    """Quantised series values, shape (k,)."""
    usable: B
    """Value finite, shape (k,)."""
    unit_step: B
    """Bar came exactly one minute after the pair's previous bar, shape (k,)."""


@dataclass(frozen=True)
class OUFit:
    """Rolling OU estimates per bar, each of shape (m,)."""

    theta: F64
    """Per minute; ``NaN`` when undefined (too few points, ``b <= 0``), may be <= 0 when ``b >= 1``."""
    half_life_min: F64
    """``ln 2 / theta``; ``inf`` when ``theta <= 0``, ``NaN`` when undefined."""
    valid: B
    n: I64
    """Transitions in the window."""


def empty_history() -> OUHistory:
    return OUHistory(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool))


def _terms(prev: I64, cur: I64, w: B) -> tuple[I64, ...]:
    """Per-transition terms n, x, y, xx, xy, yy (zero where the transition is not usable)."""
    x = np.where(w, prev, 0)
    y = np.where(w, cur, 0)
    return (w.astype(np.int64), x, y, x * x, x * y, y * y)


def _quantise(x: F64) -> tuple[I64, B]:
    """Quantised values and finiteness of new series values."""
    xf = np.asarray(x, dtype=np.float64)
    fin = np.isfinite(xf)
    return np.round(np.clip(np.where(fin, xf, 0.0), -OU_CLIP, OU_CLIP) * OU_SCALE).astype(np.int64), fin


def _check_window(window: int) -> None:
    if not 3 <= window <= MAX_WINDOW:
        raise ValueError(f"OU window must be in [3, {MAX_WINDOW}] bars, got {window}")


def _window_sums(q: I64, w: B, window: int) -> tuple[I64, ...]:
    """Exact window sums of n, x, y, xx, xy, yy over transitions (j-1 -> j) ending at each j."""
    terms = _terms(np.concatenate([[0], q[:-1]]), q, w)
    out = []
    for t in terms:
        c = np.concatenate([[0], np.cumsum(t)])
        # Window of `window` bars ending at j holds transitions j-window+2 .. j.
        lo = np.maximum(np.arange(len(q)) - window + 2, 0)
        out.append(c[1:] - c[lo])
    return tuple(out)


def fit_from_sums(sums: tuple[I64, ...], min_points: int, min_t_stat: float) -> OUFit:
    """Turn exact window sums (n, x, y, xx, xy, yy; quantised units) into :class:`OUFit`."""
    n_i = sums[0]
    n = n_i.astype(np.float64)
    sx, sy = (s.astype(np.float64) / OU_SCALE for s in sums[1:3])
    sxx, sxy, syy = (s.astype(np.float64) / OU_SCALE**2 for s in sums[3:])
    with np.errstate(divide="ignore", invalid="ignore"):
        cxx = sxx - sx * sx / n
        cxy = sxy - sx * sy / n
        cyy = syy - sy * sy / n
        b = cxy / cxx
        s2 = np.maximum(cyy - b * cxy, 0.0) / (n - 2)
        se_b = np.sqrt(s2 / cxx)
        theta = np.where(b > 0, -np.log(np.where(b > 0, b, 1.0)), np.nan)
        t_stat = (1.0 - b) / se_b
        enough = (n_i >= max(min_points, 3)) & (cxx > 0)
        theta = np.where(enough, theta, np.nan)
        half = np.where(theta > 0, np.log(2.0) / theta, np.where(theta <= 0, np.inf, np.nan))
    valid = enough & (b > 0) & (b < 1) & (t_stat >= min_t_stat)
    return OUFit(theta=theta, half_life_min=half, valid=valid, n=n_i)


def ou_update(
    hist: OUHistory, x: F64, gap_min: npt.NDArray[np.integer], window: int, min_points: int, min_t_stat: float
) -> tuple[OUHistory, OUFit]:
    """Rolling OU fit for ``m`` new bars of one pair (in time order) after ``hist``.

    Parameters
    ----------
    hist : OUHistory
        The pair's previous bars (from the state).
    x : ndarray, shape (m,)
        New series values (displacement, vol units).
    gap_min : ndarray, shape (m,)
        Minutes since the pair's previous bar; only 1 makes a usable transition.
    window, min_points, min_t_stat
        See the module docstring (``window`` in bars).

    Returns
    -------
    (OUHistory, OUFit)
        The updated history and the estimates for the ``m`` new bars.
    """
    _check_window(window)
    q_new, fin = _quantise(x)
    q = np.concatenate([hist.q, q_new])
    usable = np.concatenate([hist.usable, fin])
    unit = np.concatenate([hist.unit_step, np.asarray(gap_min) == 1])
    w = usable & unit & np.concatenate([[False], usable[:-1]])
    k = len(hist.q)
    sums = tuple(s[k:] for s in _window_sums(q, w, window))
    keep = slice(max(len(q) - (window - 1), 0), None)
    return OUHistory(q[keep], usable[keep], unit[keep]), fit_from_sums(sums, min_points, min_t_stat)


def ou_update_one_bar(
    hists: list[OUHistory],
    x: F64,
    gap_min: npt.NDArray[np.integer],
    window: int,
    min_points: int,
    min_t_stat: float,
) -> tuple[list[OUHistory], OUFit]:
    """:func:`ou_update` for one new bar of each of ``P`` pairs at once (the live case).

    Bit-identical to calling :func:`ou_update` per pair with one bar: the histories are stacked
    right-aligned into a ``(P, window)`` matrix (missing bars left of a short history are unusable,
    so they add no transition, as the start of a per-pair series does) and the window sums are exact
    int64 sums, whatever their order.

    Parameters
    ----------
    hists : list of OUHistory, length P
        Each pair's previous bars.
    x, gap_min : ndarray, shape (P,)
        Each pair's new value and minutes since its previous bar.

    Returns
    -------
    (list of OUHistory, OUFit)
        The updated histories (in the order of ``hists``) and the estimates, shape (P,).
    """
    _check_window(window)
    q_new, fin = _quantise(x)
    keep = window - 1
    q = np.zeros((len(hists), window), np.int64)
    usable = np.zeros((len(hists), window), bool)
    unit = np.zeros((len(hists), window), bool)
    lengths = []
    for i, h in enumerate(hists):
        k = min(len(h.q), keep)
        lengths.append(min(k + 1, keep))
        if k:
            q[i, keep - k : keep], usable[i, keep - k : keep], unit[i, keep - k : keep] = (
                h.q[-k:],
                h.usable[-k:],
                h.unit_step[-k:],
            )
    q[:, keep], usable[:, keep], unit[:, keep] = q_new, fin, np.asarray(gap_min) == 1
    w = usable[:, 1:] & unit[:, 1:] & usable[:, :-1]
    sums = tuple(t.sum(axis=1) for t in _terms(q[:, :-1], q[:, 1:], w))
    new = [
        OUHistory(q[i, window - m :], usable[i, window - m :], unit[i, window - m :])
        for i, m in enumerate(lengths)
    ]
    return new, fit_from_sums(sums, min_points, min_t_stat)

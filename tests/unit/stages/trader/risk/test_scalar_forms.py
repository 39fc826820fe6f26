"""The per-pair Python-float forms of the trader's event-minute steps give the array forms' bits.

Reference: the numpy expressions they replaced, written out here, on edge values the recorded digests
do not reach (a resize exactly on the band's edge, infinite costs and horizons, -0.0, NaN).
"""

from __future__ import annotations

import numpy as np

from streams.stages.trader.portfolio.accounting import gross_usd
from streams.stages.trader.risk.decide import _band, _inputs, nan_to_num

NAN, INF = float("nan"), float("inf")


def _band_array(units: np.ndarray, target: np.ndarray, active: np.ndarray, band: float) -> np.ndarray:
    same = active & (target != 0.0) & (np.sign(units) == np.sign(target))
    keep = same & (np.abs(units - target) <= band * np.abs(target))
    return np.where(keep, target, units)


def test_band_matches_the_array_form_on_edges() -> None:
    units = np.array([1500.0, 1400.0, -1000.0, 0.0, -0.0, NAN, 1000.0, 2000.0, 3000.0, INF])
    target = np.array([1000.0, 1000.0, -2000.0, 1000.0, 1000.0, 1000.0, 0.0, -0.0, 2000.0, 1000.0])
    active = np.array([True, True, True, True, True, True, True, True, False, True])
    for band in (0.0, 0.4, 0.5, 1.0):  # 0.5: units 1500 vs target 1000 sits exactly on the edge
        got, want = _band(units, target, active, band), _band_array(units, target, active, band)
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()
    assert _band(units, target, active, 0.5)[0] == 1000.0  # kept on the edge (<=)


class _Row:
    def __init__(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            setattr(self, k, v[None, :])


def test_sizing_inputs_match_the_array_form() -> None:
    mn = _Row(
        side=np.array([1, -1, 0, 1, -1, 1, 1], dtype=np.int64),
        er=np.array([2e-4, -3e-4, NAN, INF, 1e-4, -0.0, 5e-5]),
        cost=np.array([1e-4, NAN, 2e-4, INF, -INF, -0.0, 3e-4]),
        horizon=np.array([30.0, NAN, INF, 15.0, -INF, 0.0, 60.0]),
    )
    active = np.array([True, True, True, True, True, True, False])
    mu, cost, horizon = _inputs(mn, 0, active, 1.5)  # type: ignore[arg-type]  # a stand-in for Minutes
    want = (
        np.where(active, mn.side[0] * mn.er[0], 0.0),
        np.where(active, nan_to_num(mn.cost[0]) / 2.0 * 1.5, 0.0),
        np.where(active, nan_to_num(mn.horizon[0], 1.0), 1.0),
    )
    for g, w in zip((mu, cost, horizon), want, strict=True):
        assert g.dtype == w.dtype
        assert g.tobytes() == w.tobytes()
    assert cost[3] == float(np.finfo(np.float64).max) / 2.0 * 1.5  # inf clipped as np.nan_to_num does


def test_gross_usd_sums_held_pairs_left_to_right() -> None:
    pos = np.array([1e5, 0.0, -2e5, 3e5])
    mids = np.array([1.1, NAN, 110.0, 0.9])
    rate = np.array([1.0, NAN, 1 / 110.0, 1.3])
    want = 0.0
    for j in (0, 2, 3):  # flat pairs skipped even with NaN prices
        want += abs(pos[j]) * mids[j] * rate[j]
    assert gross_usd(pos, mids, rate) == want

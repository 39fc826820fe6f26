"""Price the execution the system does: passive limit entries, adverse selection and the exit's cost.

Everything here is learned on bars of the training window with the paper broker's own fill rule
(:func:`models.fill_rule.trades_through`), so the model and the broker agree.

Simulated entry (:func:`simulate_entries`): at the close of bar ``t`` the router posts a limit on the
mean-reversion side ``s = -sign(displacement)`` at ``bid + f * spread`` (buy) or ``ask - f * spread``
(sell) (``f = improve_fraction``). It may fill on the pair's bars with
``ts_t + 1 min + latency <= ts <= ts_t + ttl`` (``ttl`` = the router's re-pricing age), when a bar trades
through it by the penetration; it fills at the limit price ``L``.

Simulated exit (:func:`simulate_exits`): ``horizon_min`` after the entry decision the position is
closed the way the router closes it: a passive limit on the other side at the same offset, re-priced
every ``ttl`` minutes from the latest close, at most ``exit_reposts`` times; if it is still unfilled the
model assumes the position must cross the spread at the last bar's close. Exit price ``X``.

Per filled trade (fractions, log returns): ``net = s * ln(X / L) - 2 * commission``;
``exit_cost = s * ln(mid_exit / X) + 2 * commission`` (the passive exit's cost measured from the mid at
the exit decision, including the drift while it waits, plus both legs' commission); markouts
``s * (mid_{fill + m} - L) / L`` in bps at 1, 5 and 15 minutes after the fill bar (adverse selection).

:class:`FillModel` tabulates, per pair and conditioning bucket (session x volatility tercile x
spread-stress tercile, terciles of the pair's training values), the fill probability (shrunk towards the
pair's rate), the mean exit cost and the mean markouts after a fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.fill_rule import trades_through
from streams.core.units import MINUTE_MS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
MARKOUT_MIN = (1, 5, 15)
N_SESSIONS = 5
N_LEVELS = 3


@dataclass(frozen=True)
class ExecParams:
    """Execution rules the simulation follows (the router's and broker's settings)."""

    improve_fraction: float = 0.25
    ttl_min: int = 3
    latency_ms: int = 0
    penetration_pips: float = 0.1
    horizon_min: int = 30
    exit_reposts: int = 10
    commission_bps: float = 0.2


def limit_prices(side: F64, bid: F64, spread: F64, f: float) -> F64:
    """Router limit prices, shape (n,): ``bid + f*spread`` (buy) / ``ask - f*spread`` (sell); NaN if not inside."""
    ask = bid + spread
    price = np.where(side > 0, bid + f * spread, ask - f * spread)
    with np.errstate(invalid="ignore"):
        inside = (bid < price) & (price < ask)
    return np.where(inside, price, np.nan)


def _first_fill(
    ts: I64, high: F64, low: F64, spread: F64, start: I64, side: F64, price: F64, p: ExecParams, pen: float
) -> I64:
    """Index of the first bar that fills the order posted at bar ``start`` (-1: none within the ttl)."""
    n = len(ts)
    out = np.full(len(start), -1, dtype=np.int64)
    t0 = ts[start]
    first_ok = t0 + MINUTE_MS + p.latency_ms
    for m in range(1, p.ttl_min + 1):
        target = t0 + m * MINUTE_MS
        j = np.clip(np.searchsorted(ts, target), 0, n - 1)
        ok = (ts[j] == target) & (target >= first_ok) & (out < 0)
        hit = ok & trades_through(side, price, high[j], low[j], spread[j], pen)
        out[hit] = j[hit]
    return out


def simulate_entries(
    ts: I64, close: F64, high: F64, low: F64, spread: F64, side: F64, pip: float, p: ExecParams
) -> tuple[B, I64, F64]:
    """Entry limit per bar of one pair (bars sorted by ``ts``, unique).

    Returns
    -------
    filled : bool (n,), fill_idx : int (n,) (-1 when not filled), price : float (n,) limit price (NaN: none)
    """
    price = limit_prices(side, close, spread, p.improve_fraction)
    idx = _first_fill(ts, high, low, spread, np.arange(len(ts)), side, price, p, p.penetration_pips * pip)
    valid = np.isfinite(price) & (side != 0)
    idx = np.where(valid, idx, -1)
    return idx >= 0, idx, price


def simulate_exits(
    ts: I64, close: F64, high: F64, low: F64, spread: F64, start: I64, side: F64, pip: float, p: ExecParams
) -> F64:
    """Exit price of closing positions of ``side`` decided at bars ``start`` (the router's passive chase).

    Returns NaN where the chase runs past the data.
    """
    n = len(ts)
    close_side = -side
    cur = start.copy()
    out = np.full(len(start), np.nan)
    ran_out = np.zeros(len(start), dtype=bool)
    pen = p.penetration_pips * pip
    for _ in range(p.exit_reposts):
        todo = np.isnan(out) & ~ran_out
        if not todo.any():
            break
        price = limit_prices(close_side, close[cur], spread[cur], p.improve_fraction)
        fill = _first_fill(ts, high, low, spread, cur, close_side, price, p, pen)
        done = todo & (fill >= 0)
        out[done] = price[done]
        # an unfilled order whose ttl reaches past the data: its outcome is unknown
        ran_out |= todo & ~done & (ts[cur] + p.ttl_min * MINUTE_MS > ts[-1])
        # re-price from the last bar of the ttl (latest bar at or before start + ttl)
        nxt = np.searchsorted(ts, ts[cur] + p.ttl_min * MINUTE_MS, side="right") - 1
        cur = np.where(todo & ~done, np.clip(nxt, 0, n - 1), cur)
    left = np.isnan(out) & ~ran_out
    cross = np.where(close_side > 0, close[cur] + spread[cur], close[cur])
    out[left] = cross[left]
    return out


def _at_offset(ts: I64, idx: I64, minutes: int, tolerance_min: int = 0) -> I64:
    """Index of the bar ``minutes`` after bar ``idx`` (latest bar at or before; -1 if beyond tolerance)."""
    target = ts[idx] + minutes * MINUTE_MS
    j = np.searchsorted(ts, target, side="right") - 1
    ok = (j > idx) & (ts[np.clip(j, 0, len(ts) - 1)] >= target - tolerance_min * MINUTE_MS)
    return np.where(ok, j, -1)


@dataclass(frozen=True)
class Trades:
    """Simulated entry attempts of one pair, one per input bar."""

    filled: B
    price: F64
    net: F64
    """Net filled-trade return (NaN: not filled or no exit in the data)."""
    exit_cost: F64
    markout_bps: F64
    """Shape (n, 3): markouts at :data:`MARKOUT_MIN` minutes after the fill bar (NaN when unknown)."""


def simulate_trades(
    ts: I64, close: F64, high: F64, low: F64, spread: F64, displacement: F64, pip: float, p: ExecParams
) -> Trades:
    """Entry, markouts and exit of the mean-reversion trade proposed at every bar of one pair."""
    d = np.asarray(displacement, dtype=np.float64)
    side = np.where(np.isfinite(d), -np.sign(d), 0.0)
    mid = close + spread / 2.0
    filled, fidx, price = simulate_entries(ts, close, high, low, spread, side, pip, p)
    n = len(ts)
    net, cost = np.full(n, np.nan), np.full(n, np.nan)
    marks = np.full((n, len(MARKOUT_MIN)), np.nan)
    rows = np.flatnonzero(filled)
    if len(rows):
        f = fidx[rows]
        for c, m in enumerate(MARKOUT_MIN):
            j = _at_offset(ts, f, m, tolerance_min=m)
            v = side[rows] * (mid[np.clip(j, 0, n - 1)] - price[rows]) / price[rows] * 1e4
            marks[rows, c] = np.where(j >= 0, v, np.nan)
        e = _at_offset(ts, rows, p.horizon_min)
        ok = (e >= 0) & (e >= f)
        r, e = rows[ok], e[ok]
        x = simulate_exits(ts, close, high, low, spread, e, side[r], pip, p)
        comm = 2.0 * p.commission_bps * 1e-4
        with np.errstate(invalid="ignore", divide="ignore"):
            net[r] = side[r] * np.log(x / price[r]) - comm
            cost[r] = side[r] * np.log(mid[e] / x) + comm
    return Trades(filled, price, net, cost, marks)


def bucket_index(session: F64, vol: F64, stress: F64, vol_edges: F64, stress_edges: F64) -> I64:
    """Flat bucket id ``session * 9 + vol_level * 3 + stress_level`` (levels from tercile edges); -1 if NaN."""
    ok = np.isfinite(session) & np.isfinite(vol) & np.isfinite(stress)
    s = np.clip(np.nan_to_num(session, nan=0.0).astype(np.int64), 0, N_SESSIONS - 1)
    v = np.searchsorted(vol_edges, np.nan_to_num(vol), side="right")
    w = np.searchsorted(stress_edges, np.nan_to_num(stress), side="right")
    return np.where(ok, s * N_LEVELS * N_LEVELS + v * N_LEVELS + w, -1).astype(np.int64)


N_BUCKETS = N_SESSIONS * N_LEVELS * N_LEVELS


class FillModel:
    """Per-bucket fill probability, exit cost and markouts of one pair (sklearn conventions).

    Parameters
    ----------
    prior_rows : float
        Shrinkage of a bucket's rates towards the pair's: ``(sum + prior_rows * pair_rate) / (n + prior_rows)``.
    """

    def __init__(self, prior_rows: float = 50.0) -> None:
        self.prior_rows = prior_rows

    def fit(self, session: F64, vol: F64, stress: F64, trades: Trades) -> FillModel:
        """Learn the tables from one pair's training bars and their simulated :class:`Trades`."""
        ok = np.isfinite(vol) & np.isfinite(stress) & np.isfinite(trades.price)
        self.vol_edges_ = np.quantile(vol[ok], [1 / 3, 2 / 3]) if ok.any() else np.zeros(2)
        self.stress_edges_ = np.quantile(stress[ok], [1 / 3, 2 / 3]) if ok.any() else np.zeros(2)
        b = bucket_index(session, vol, stress, self.vol_edges_, self.stress_edges_)
        b = np.where(ok, b, -1)
        self.p_fill_ = self._shrunk(b, trades.filled.astype(np.float64), b >= 0)
        has_exit = b >= 0
        has_exit &= np.isfinite(trades.exit_cost)
        self.exit_cost_ = self._shrunk(b, trades.exit_cost, has_exit)
        self.markout_bps_ = np.stack(
            [
                self._shrunk(b, trades.markout_bps[:, c], (b >= 0) & np.isfinite(trades.markout_bps[:, c]))
                for c in range(len(MARKOUT_MIN))
            ],
            axis=1,
        )
        self.n_ = np.bincount(b[b >= 0], minlength=N_BUCKETS)
        self.n_filled_ = np.bincount(b[(b >= 0) & trades.filled], minlength=N_BUCKETS)
        return self

    def _shrunk(self, b: I64, x: F64, mask: B) -> F64:
        xs, bs = x[mask], b[mask]
        overall = float(xs.mean()) if len(xs) else float("nan")
        s = np.bincount(bs, weights=xs, minlength=N_BUCKETS)
        n = np.bincount(bs, minlength=N_BUCKETS).astype(np.float64)
        return (s + self.prior_rows * overall) / (n + self.prior_rows)

    def buckets(self, session: F64, vol: F64, stress: F64) -> I64:
        """Bucket id per row (see :func:`bucket_index`)."""
        return bucket_index(session, vol, stress, self.vol_edges_, self.stress_edges_)

    def predict(self, session: F64, vol: F64, stress: F64) -> tuple[F64, F64]:
        """(P(fill), E[exit cost | fill]) per row, NaN where a conditioning value is NaN."""
        b = self.buckets(session, vol, stress)
        ok = b >= 0
        bc = np.clip(b, 0, N_BUCKETS - 1)
        return np.where(ok, self.p_fill_[bc], np.nan), np.where(ok, self.exit_cost_[bc], np.nan)

    def table(self) -> list[dict[str, Any]]:
        """The fitted buckets that held training rows (JSON-friendly)."""
        rows = []
        for k in np.flatnonzero(self.n_):
            s, rest = divmod(int(k), N_LEVELS * N_LEVELS)
            v, w = divmod(rest, N_LEVELS)
            rows.append(
                {
                    "bucket": int(k),
                    "session": s,
                    "vol_level": v,
                    "stress_level": w,
                    "n": int(self.n_[k]),
                    "p_fill": float(self.p_fill_[k]),
                    "exit_cost_bps": float(self.exit_cost_[k] * 1e4),
                    "markout_bps": [float(x) for x in self.markout_bps_[k]],
                }
            )
        return rows

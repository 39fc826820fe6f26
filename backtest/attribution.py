"""Where a replay's edge goes: PnL attribution minute by minute, order statistics and round trips.

On a (minute x pair) grid of forward-filled mids, with ``pos`` the position after each bar's fills,
``tgt`` the risk engine's target after each decision and ``rate`` the quote->USD rate::

    position_pnl  = sum_t pos_t (mid_{t+1} - mid_t) rate_t          (holding at mid)
    execution     = sum_fills side q (mid_fill_bar - price) rate     (vs the fill bar's closing mid:
                                                                      spread paid + adverse selection)
    net           = position_pnl + execution                        (= the equity change)

With the synthetic market's truth the expected one-minute move of the log mid is known,
``E[dx_t] = -(1 - exp(-theta_t)) d_t``, so the *expected* PnL of any position path is
``sum_t pos_t E[dx_t] mid_t rate_t``: the edge a path holds, free of the price noise. The waterfall::

    expected_target   the targets held at mid from their decision (sizing + exits, perfect execution)
    expected_position the positions actually held (after fills: misses and delays)
    position_pnl      realised at mid (expected_position + noise)
    net               after execution costs
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.core.batch import Batch
from streams.stages.trader.portfolio.accounting import conversion_plan, quote_to_usd

MINUTE_MS = 60_000
F64 = npt.NDArray[np.float64]
LEGS = ("entry", "adjust", "exit")


class Grid:
    """Dense (minute, pair) view of a signals batch: forward-filled mids and quote->USD rates."""

    def __init__(self, signals: Batch) -> None:
        self.pairs = sorted(set(signals["pair"].tolist()))
        self.index = {p: i for i, p in enumerate(self.pairs)}
        self.ts = np.unique(signals["ts"])
        self.k = np.searchsorted(self.ts, signals["ts"])
        self.j = self.pairs_of(signals["pair"])
        self.mid = self.ffill(self.scatter(signals["mid"]))
        self.rate = quote_to_usd(self.mid, *conversion_plan(self.pairs))

    def pairs_of(self, pair: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        return np.array([self.index[p] for p in pair.tolist()], dtype=np.int64)

    def scatter(self, values: npt.ArrayLike, fill: float = np.nan) -> F64:
        out = np.full((len(self.ts), len(self.pairs)), fill)
        out[self.k, self.j] = np.asarray(values, dtype=np.float64)
        return out

    @staticmethod
    def ffill(a: F64, first: float = np.nan) -> F64:
        a = a.copy()
        if len(a):
            a[0] = np.where(np.isnan(a[0]), first, a[0])
        idx = np.where(np.isnan(a), 0, np.arange(len(a))[:, None])
        np.maximum.accumulate(idx, axis=0, out=idx)
        return np.asarray(np.take_along_axis(a, idx, axis=0))

    def minute_of(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Grid row of the bar opening at each ``ts`` (the last at or before it)."""
        return np.clip(np.searchsorted(self.ts, ts, side="right") - 1, 0, None)


def _executed(fills: Batch) -> Batch:
    return fills.take(fills["last_qty"] > 0) if fills.n else fills


def positions(grid: Grid, fills: Batch) -> F64:
    """Position (base units) per pair after each minute's fills, shape (m, P)."""
    ex = _executed(fills)
    dq = np.zeros((len(grid.ts), len(grid.pairs)))
    if ex.n:
        # a fill report is stamped at the close of the bar that filled it
        np.add.at(
            dq, (grid.minute_of(ex["ts"] - MINUTE_MS), grid.pairs_of(ex["pair"])), ex["side"] * ex["last_qty"]
        )
    return np.cumsum(dq, axis=0)


def targets(grid: Grid, risk_targets: Batch) -> F64:
    """Target (base units) per pair after each minute's decision, shape (m, P), forward-filled from 0."""
    out = np.full((len(grid.ts), len(grid.pairs)), np.nan)
    if risk_targets.n:
        out[grid.minute_of(risk_targets["ts"]), grid.pairs_of(risk_targets["pair"])] = risk_targets[
            "target_units"
        ]
    return grid.ffill(out, 0.0)


def expected_moves(grid: Grid, signals: Batch, truth: Mapping[str, npt.NDArray[Any]]) -> F64:
    """Expected next-minute log move of the mid under the true OU, ``-(1 - e^-theta) d``, shape (m, P)."""
    from backtest.oracle import align

    rows = align(signals, truth)
    d = np.asarray(truth["deviation"], dtype=np.float64)[rows]
    theta = np.asarray(truth["ou_theta"], dtype=np.float64)[rows]
    return np.nan_to_num(grid.scatter(np.expm1(-theta) * d, 0.0))


def attribution(
    signals: Batch, outputs: Mapping[str, Batch], truth: Mapping[str, npt.NDArray[Any]] | None = None
) -> dict[str, Any]:
    """PnL attribution in USD (module docstring); expected terms only when ``truth`` is given."""
    g = Grid(signals)
    pos = positions(g, outputs["fills"])
    dmid = np.nan_to_num(np.vstack([np.diff(g.mid, axis=0), np.zeros((1, len(g.pairs)))]))
    ex = _executed(outputs["fills"])
    fk, fj = g.minute_of(ex["ts"] - MINUTE_MS), g.pairs_of(ex["pair"])
    value = ex["last_qty"] * g.mid[fk, fj] * g.rate[fk, fj]
    execution = float(
        np.nansum(ex["side"] * ex["last_qty"] * (g.mid[fk, fj] - ex["last_price"]) * g.rate[fk, fj])
    )
    position_pnl = float(np.nansum(pos * dmid * g.rate))
    notional = float(np.nansum(value))
    out: dict[str, Any] = {
        "position_pnl_usd": position_pnl,
        "execution_usd": execution,
        "net_usd": position_pnl + execution,
        "notional_usd": notional,
        "execution_bps": execution / notional * 1e4 if notional else None,
        "held_pair_minutes": int((pos != 0).sum()),
    }
    if truth is not None:
        move = expected_moves(g, signals, truth) * g.mid * g.rate
        tgt = targets(g, outputs["risk.targets"])
        held = pos * move
        out.update(
            expected_target_usd=float(np.nansum(tgt * move)),
            expected_position_usd=float(np.nansum(held)),
            expected_against_usd=float(np.nansum(np.where(held < 0, held, 0.0))),
            against_pair_minutes=int((held < 0).sum()),
            edge_bps=float(np.nansum(held)) / notional * 1e4 if notional else None,
        )
    return out


def order_stats(orders: Batch, fills: Batch) -> dict[str, Any]:
    """Per leg: orders posted, orders (partly) filled, fill rate, fills."""
    out: dict[str, Any] = {}
    new = orders.take(orders["action"] == "NEW") if orders.n else orders
    ex = _executed(fills)
    for leg in LEGS:
        ids = set(new["client_order_id"][new["leg"] == leg].tolist()) if new.n else set()
        done = set(ex["client_order_id"][ex["leg"] == leg].tolist()) if ex.n else set()
        out[leg] = {
            "posted": len(ids),
            "filled": len(ids & done),
            "fill_rate": len(ids & done) / len(ids) if ids else None,
        }
    return out


def round_trips(fills: Batch) -> dict[str, npt.NDArray[Any]]:
    """Flat-to-flat round trips per pair from the executed fills (in report order).

    Returns columns ``pair``, ``entry_ts``, ``exit_ts`` (report times, ms), ``minutes``, ``fills``,
    ``max_units`` (largest |position|) and ``pnl_usd`` (realised over the trip); a trip still open at
    the end is left out.
    """
    ex = _executed(fills)
    rows: list[tuple[str, int, int, int, float, float]] = []
    for p in sorted(set(ex["pair"].tolist())) if ex.n else []:
        m = ex["pair"] == p
        pos, start, n, top, pnl = 0.0, 0, 0, 0.0, 0.0
        for ts, q, r in zip(
            ex["ts"][m].tolist(),
            (ex["side"] * ex["last_qty"])[m].tolist(),
            ex["realized_pnl_usd"][m].tolist(),
            strict=True,
        ):
            if pos == 0.0:
                start, n, top, pnl = ts, 0, 0.0, 0.0
            pos, n, pnl = pos + q, n + 1, pnl + r
            top = max(top, abs(pos))
            if abs(pos) < 1e-9:
                rows.append((p, start, ts, n, top, pnl))
                pos = 0.0
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [()] * 6
    return {
        "pair": np.array(cols[0], dtype=str),
        "entry_ts": np.array(cols[1], dtype=np.int64),
        "exit_ts": np.array(cols[2], dtype=np.int64),
        "minutes": (np.array(cols[2], dtype=np.int64) - np.array(cols[1], dtype=np.int64)) / MINUTE_MS,
        "fills": np.array(cols[3], dtype=np.int64),
        "max_units": np.array(cols[4], dtype=np.float64),
        "pnl_usd": np.array(cols[5], dtype=np.float64),
    }

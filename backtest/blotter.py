"""The blotter of a run: orders, fills, round-trip trades, per-bar positions and equity, kills/halts.

Pure functions over a replay's output topics (``backtest.engine.run_engine``), plus
:func:`write_blotter`, which writes them as CSV into a run directory:

=============  ==========================================================================================
orders.csv     every order instruction (NEW / CANCEL ...), with the risk target's reason of its decision
fills.csv      every execution report that filled something (partial fills are separate rows)
trades.csv     round trips: a position opened from flat and closed to flat (a flip closes one and opens
               the next); entry/exit time, side, size, average prices, realised PnL, entry/exit reasons
positions.csv  one row per replayed minute: equity, drawdown and the position (units) of each pair
controls.csv   every KILL / HALT with time, issuer, scope, reason and when (if) it was cleared
=============  ==========================================================================================

A round trip's reasons are those of the orders that opened and closed it; an order's reason is the
reason of the risk target that asked for it (``entry``, ``exit_time``, ``exit_regime`` ...), the most
recent one for its pair at or before its decision, else the order's own (e.g. a kill's flattening).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch

MINUTE_MS = 60_000
EXECUTED = ("FILLED", "PARTIALLY_FILLED")


def _frame(batch: Batch | None) -> pd.DataFrame:
    if batch is None or batch.n == 0:
        return pd.DataFrame()
    return pd.DataFrame({k: np.asarray(batch[k]) for k in batch})


def _iso(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(ts), unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def order_reasons(orders: Batch, targets: Batch | None) -> pd.DataFrame:
    """The orders with ``target_reason``: the latest risk target's reason for the pair at or before
    the order's decision (targets are stamped with the bar open, orders with the bar close)."""
    o = _frame(orders)
    if o.empty:
        return o
    o["_order"] = np.arange(len(o))
    t = _frame(targets)
    if t.empty or "reason" not in t:
        o["target_reason"] = o["reason"]
        return o.drop(columns="_order")
    t = t[t["reason"] != ""][["pair", "ts", "reason"]].rename(columns={"reason": "target_reason"})
    t = t.assign(ts=t["ts"] + MINUTE_MS).sort_values("ts", kind="stable")
    merged = pd.merge_asof(
        o.sort_values("ts", kind="stable"), t, on="ts", by="pair", direction="backward"
    ).sort_values("_order")
    own = merged["reason"].where(merged["reason"] != "", "unknown")
    merged["target_reason"] = merged["target_reason"].fillna(own)
    return merged.drop(columns="_order").reset_index(drop=True)


def executed_fills(fills: Batch) -> pd.DataFrame:
    """Execution reports that filled something (``last_qty > 0``), in report order."""
    f = _frame(fills)
    if f.empty:
        return f
    return f[f["status"].isin(EXECUTED) & (f["last_qty"] > 0)].reset_index(drop=True)


def _close_trip(trip: dict[str, Any], ts: int, reason: str) -> dict[str, Any]:
    trip["exit_ts"], trip["exit_reason"] = ts, reason
    trip["exit_price"] = trip.pop("_exit_notional") / trip.pop("_exit_qty")
    trip["entry_price"] = trip.pop("_entry_notional") / trip["qty"]
    return trip


def _new_trip(pair: str, side: int, ts: int, qty: float, price: float, reason: str) -> dict[str, Any]:
    return {
        "pair": pair,
        "side": side,
        "entry_ts": ts,
        "qty": qty,
        "entry_reason": reason,
        "realized_pnl_usd": 0.0,
        "n_fills": 1,
        "_entry_notional": qty * price,
        "_exit_notional": 0.0,
        "_exit_qty": 0.0,
    }


def _pair_trips(rows: pd.DataFrame, reasons: dict[str, str]) -> list[dict[str, Any]]:
    trips: list[dict[str, Any]] = []
    trip: dict[str, Any] | None = None
    pos = 0.0
    for r in rows.itertuples(index=False):
        qty, price, side = float(r.last_qty), float(r.last_price), int(r.side)
        reason = reasons.get(str(r.client_order_id), "unknown")
        if trip is None or pos == 0.0:
            trip, pos = _new_trip(str(r.pair), side, int(r.ts), qty, price, reason), side * qty
            trip["realized_pnl_usd"] += float(r.realized_pnl_usd)
            continue
        trip["n_fills"] += 1
        trip["realized_pnl_usd"] += float(r.realized_pnl_usd)
        if side == trip["side"]:  # adds to the position
            trip["qty"] += qty
            trip["_entry_notional"] += qty * price
            pos += side * qty
            continue
        closing = min(qty, abs(pos))
        trip["_exit_notional"] += closing * price
        trip["_exit_qty"] += closing
        pos += side * qty
        if abs(pos) < 1e-9 or np.sign(pos) == side:  # flat, or flipped: the trip is over
            trips.append(_close_trip(trip, int(r.ts), reason))
            trip = None
            if abs(pos) >= 1e-9:
                trip = _new_trip(str(r.pair), side, int(r.ts), abs(pos), price, reason)
            else:
                pos = 0.0
    if trip is not None:
        trip.update(exit_ts=None, exit_reason="open", exit_price=float("nan"))
        trip["entry_price"] = trip.pop("_entry_notional") / trip["qty"]
        trip.pop("_exit_notional")
        trip.pop("_exit_qty")
        trips.append(trip)
    return trips


TRADE_COLUMNS = (
    "pair",
    "side",
    "entry_ts",
    "exit_ts",
    "qty",
    "entry_price",
    "exit_price",
    "realized_pnl_usd",
    "n_fills",
    "entry_reason",
    "exit_reason",
)


def round_trips(fills: Batch, orders: Batch, targets: Batch | None = None) -> pd.DataFrame:
    """Round-trip trades from the executed fills (columns :data:`TRADE_COLUMNS`); a trip still open at
    the end has ``exit_reason == "open"`` and no exit time. ``realized_pnl_usd`` sums the fills'."""
    ex = executed_fills(fills)
    if ex.empty:
        return pd.DataFrame(columns=list(TRADE_COLUMNS))
    o = order_reasons(orders, targets)
    news = o[o["action"] == "NEW"] if not o.empty else o
    reasons = dict(zip(news["client_order_id"], news["target_reason"], strict=True)) if not o.empty else {}
    trips = [t for _, rows in ex.groupby("pair", sort=True) for t in _pair_trips(rows, reasons)]
    df = pd.DataFrame(trips, columns=list(TRADE_COLUMNS))
    return df.sort_values(["entry_ts", "pair"], kind="stable").reset_index(drop=True)


def positions_per_bar(
    minutes: np.ndarray, portfolio: Batch, pairs: list[str], initial_equity: float
) -> pd.DataFrame:
    """Equity, drawdown and each pair's position (units) after every minute in ``minutes`` (ms, sorted,
    unique). The trader writes an account row for every minute with a position or a fill and a pair
    row on each fill, so carrying the last row forward is exact (flat minutes change nothing)."""
    out = pd.DataFrame({"ts": np.asarray(minutes, dtype=np.int64)})
    p = _frame(portfolio)
    acct = p[p["pair"] == ""] if not p.empty else p
    idx = (
        np.searchsorted(acct["ts"].to_numpy(), out["ts"].to_numpy(), side="right") - 1
        if not acct.empty
        else np.full(len(out), -1)
    )
    for col, default in (("equity_usd", initial_equity), ("drawdown", 0.0)):
        vals = acct[col].to_numpy() if not acct.empty else np.zeros(0)
        out[col] = np.where(idx >= 0, vals[np.maximum(idx, 0)] if len(vals) else default, default)
    for pair in pairs:
        rows = p[p["pair"] == pair] if not p.empty else p
        j = (
            np.searchsorted(rows["ts"].to_numpy(), out["ts"].to_numpy(), side="right") - 1
            if not rows.empty
            else np.full(len(out), -1)
        )
        units = rows["position_units"].to_numpy() if not rows.empty else np.zeros(1)
        out[f"pos_{pair}"] = np.where(j >= 0, units[np.maximum(j, 0)], 0.0)
    return out


def time_in_market(positions: pd.DataFrame) -> float:
    """Share of minutes with a non-zero position in any pair (0 when there are none)."""
    cols = [c for c in positions.columns if c.startswith("pos_")]
    if positions.empty or not cols:
        return 0.0
    return float((positions[cols].to_numpy() != 0.0).any(axis=1).mean())


def write_blotter(
    run_dir: str | Path, outputs: dict[str, Batch], initial_equity: float, pairs: list[str] | None = None
) -> list[Path]:
    """Write orders.csv, fills.csv, trades.csv, positions.csv and controls.csv into ``run_dir``."""
    from backtest.controls import control_events

    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    clean = outputs.get("bars.clean")
    minutes = np.unique(clean["ts"]) if clean is not None and clean.n else np.zeros(0, np.int64)
    if pairs is None:
        pairs = sorted({str(p) for p in clean["pair"]}) if clean is not None and clean.n else []
    frames = {
        "orders": order_reasons(outputs["orders"], outputs.get("risk.targets")),
        "fills": executed_fills(outputs["fills"]),
        "trades": round_trips(outputs["fills"], outputs["orders"], outputs.get("risk.targets")),
        "positions": positions_per_bar(minutes, outputs["portfolio"], pairs, initial_equity),
        "controls": pd.DataFrame(control_events(outputs.get("control"))),
    }
    written = []
    for name, df in frames.items():
        df = df.copy()
        for col in [c for c in df.columns if c == "ts" or c.endswith("_ts")]:
            df.insert(df.columns.get_loc(col) + 1, f"{col}_utc", _iso(df[col]))
        path = d / f"{name}.csv"
        df.to_csv(path, index=False)
        written.append(path)
    return written

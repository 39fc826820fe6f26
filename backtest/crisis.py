"""Crisis weeks: per pair, the weeks of highest realised volatility against the median week.

``crisis_weeks(bars, trips)`` works on any run's per-bar outputs and round trips (the yardstick's,
the in-process replay's, or a run directory's blotter):

* ``bars``: one row per bar with ``pair, ts`` (ms UTC), ``close`` and optionally ``tradeable`` (bool:
  the strategy was allowed to trade, e.g. the regime flag) and ``in_market`` (bool: a position was open
  during the bar). Missing columns give NaN figures.
* ``trips``: round trips with ``pair, entry_ts, exit_ts, net`` (net return per unit notional).

A week is the FX week: it starts on Sunday 12:00 UTC, so Sunday evening's open belongs to the week it
opens. Realised volatility is the standard deviation of 1-minute log returns between consecutive
minutes (returns across a gap are left out), in basis points. Round trips and PnL count in the week of
their exit. Rows: the ``top`` weeks of highest volatility, then the median week (by volatility, of the
weeks with at least ``min_bars`` bars).

``pipeline_frames(bars, outputs, initial_equity)`` builds both frames from an in-process or Kafka
replay (``backtest.engine.run_engine``); a run directory's blotter, when it has one, maps to the same
columns.

Research entry, with the yardstick as the strategy (no data ships)::

    python -m backtest.crisis --histdata /work/realdata/histdata
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

WEEK_MS = 7 * 86_400_000
WEEK_ANCHOR_MS = 3 * 86_400_000 + 12 * 3_600_000
"""1970-01-04 12:00 UTC, a Sunday noon: the start of an FX week."""


def fx_week(ts: np.ndarray) -> np.ndarray:
    """Return the start (ms UTC, a Sunday 12:00) of the FX week of each time, shape (n,)."""
    ts = np.asarray(ts, dtype=np.int64)
    return (ts - WEEK_ANCHOR_MS) // WEEK_MS * WEEK_MS + WEEK_ANCHOR_MS


def _weekly(bars: pd.DataFrame, trips: pd.DataFrame) -> pd.DataFrame:
    b = bars.sort_values("ts")
    ret = np.diff(np.log(b["close"].to_numpy(dtype=np.float64)), prepend=np.nan)
    ret[np.diff(b["ts"].to_numpy(), prepend=0) != 60_000] = np.nan
    frame = pd.DataFrame(
        {
            "week": fx_week(b["ts"].to_numpy()),
            "r": ret,
            "tradeable": b["tradeable"].to_numpy(dtype=float) if "tradeable" in b else np.nan,
            "in_market": b["in_market"].to_numpy(dtype=float) if "in_market" in b else np.nan,
        }
    )
    weekly = frame.groupby("week").agg(
        bars=("r", "size"),
        vol_bp=("r", "std"),
        tradeable_share=("tradeable", "mean"),
        time_in_market=("in_market", "mean"),
    )
    weekly["vol_bp"] *= 1e4
    exit_week = fx_week(trips["exit_ts"].to_numpy()) if len(trips) else np.zeros(0, dtype=np.int64)
    by_week = trips.assign(week=exit_week).groupby("week")["net"]
    weekly["round_trips"] = by_week.size().reindex(weekly.index, fill_value=0)
    weekly["pnl_pct"] = 100 * by_week.sum().reindex(weekly.index, fill_value=0.0)
    return weekly


def crisis_weeks(bars: pd.DataFrame, trips: pd.DataFrame, top: int = 5, min_bars: int = 1000) -> pd.DataFrame:
    """Return per pair the ``top`` highest-volatility weeks and the median week (see module docstring).

    Columns: ``pair, kind ('top' | 'median'), week (UTC date of its Sunday), bars, vol_bp, vol_ratio
    (to the median week), tradeable_share, time_in_market, round_trips, pnl_pct``.
    """
    out = []
    for pair, b in bars.groupby("pair", sort=True):
        weekly = _weekly(b, trips[trips["pair"] == pair])
        weekly = weekly[weekly["bars"] >= min_bars].sort_values("vol_bp", ascending=False)
        if weekly.empty:
            continue
        median = weekly.iloc[[len(weekly) // 2]]
        rows = pd.concat([weekly.head(top).assign(kind="top"), median.assign(kind="median")])
        rows["vol_ratio"] = rows["vol_bp"] / float(median["vol_bp"].iloc[0])
        rows.insert(0, "pair", pair)
        out.append(rows.reset_index())
    result = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    if not result.empty:
        result["week"] = pd.to_datetime(result["week"], unit="ms").dt.date
    cols = ["pair", "kind", "week", "bars", "vol_bp", "vol_ratio", "tradeable_share", "time_in_market"]
    return result[[*cols, "round_trips", "pnl_pct"]] if not result.empty else result


def yardstick_frames(bars_by_pair: dict[str, dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(bars, trips)`` frames of the naive yardstick for :func:`crisis_weeks`.

    ``tradeable`` is where the yardstick's z-score is defined (a full window since the last gap);
    ``in_market`` is where a position is open (entry bar included, exit bar excluded).
    """
    from backtest.yardstick import YardstickConfig, segments, trades, zscores

    cfg = YardstickConfig()
    frames, all_trips = [], []
    for pair, bars in bars_by_pair.items():
        ts = bars["ts"]
        z = zscores(bars["close"], segments(ts, cfg.max_gap_min), cfg.window)
        trips = trades(bars, cfg)
        in_market = np.zeros(len(ts), dtype=bool)
        for a, b in zip(
            np.searchsorted(ts, trips["entry_ts"]), np.searchsorted(ts, trips["exit_ts"]), strict=True
        ):
            in_market[a:b] = True
        frames.append(
            pd.DataFrame(
                {
                    "pair": pair,
                    "ts": ts,
                    "close": bars["close"],
                    "tradeable": np.isfinite(z),
                    "in_market": in_market,
                }
            )
        )
        all_trips.append(trips)
    return pd.concat(frames, ignore_index=True), pd.concat(all_trips, ignore_index=True)


def _trips_from_positions(port: pd.DataFrame, initial_equity: float) -> pd.DataFrame:
    """Round trips of one pair from its per-bar portfolio rows: flat -> open -> flat (or a sign flip)."""
    pos = port["position_units"].to_numpy(dtype=float)
    pnl = (port["realized_pnl_usd"] + port["unrealized_pnl_usd"]).to_numpy(dtype=float)
    ts = port["ts"].to_numpy()
    sign = np.sign(pos)
    prev = np.r_[0.0, sign[:-1]]
    opens = np.flatnonzero((sign != 0) & (sign != prev))
    closes = np.flatnonzero((prev != 0) & (sign != prev))
    rows = []
    for a in opens:
        later = closes[closes > a]
        if not len(later):
            continue  # still open at the end of the run: not a round trip
        b = int(later[0])
        before = pnl[a - 1] if a > 0 else 0.0
        rows.append((ts[a], ts[b], (pnl[b] - before) / initial_equity))
    return pd.DataFrame(rows, columns=["entry_ts", "exit_ts", "net"])


def pipeline_frames(
    bars: Mapping[str, np.ndarray], outputs: Mapping[str, Mapping[str, np.ndarray]], initial_equity: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(bars, trips)`` for :func:`crisis_weeks` from a replay's input bars and outputs.

    ``outputs`` are topic key -> columns as ``backtest.engine.run_engine`` returns them: ``tradeable`` comes
    from ``signals.governed`` (the regime flag the edge saw; bars without a signal count as not
    tradeable), ``in_market`` and the round trips from the per-pair ``portfolio`` rows (the last row
    at or before each bar; PnL of a trip = change of realised + unrealised PnL over it / initial equity).
    """
    frame = pd.DataFrame({k: np.asarray(bars[k]) for k in ("pair", "ts", "close")}).sort_values(
        ["pair", "ts"]
    )
    sig = outputs["signals.governed"]
    tradeable = pd.DataFrame(
        {
            "pair": np.asarray(sig["pair"]),
            "ts": np.asarray(sig["ts"]),
            "tradeable": np.asarray(sig["tradeable"], dtype=bool),
        }
    )
    frame = frame.merge(tradeable.drop_duplicates(["pair", "ts"], keep="last"), on=["pair", "ts"], how="left")
    frame["tradeable"] = frame["tradeable"].fillna(False).astype(bool)
    cols = ("pair", "ts", "position_units", "realized_pnl_usd", "unrealized_pnl_usd")
    port = pd.DataFrame({k: np.asarray(outputs["portfolio"][k]) for k in cols})
    port = (
        port[port["pair"] != ""]
        .sort_values(["pair", "ts"], kind="stable")
        .drop_duplicates(["pair", "ts"], keep="last")
    )
    parts, trips = [], []
    for pair, b in frame.groupby("pair", sort=True):
        p = port[port["pair"] == pair]
        merged = pd.merge_asof(
            b.sort_values("ts"), p[["ts", "position_units"]], on="ts", direction="backward"
        )
        merged["in_market"] = merged["position_units"].fillna(0.0) != 0
        parts.append(merged.drop(columns="position_units"))
        trips.append(_trips_from_positions(p, initial_equity).assign(pair=pair))
    all_trips = (
        pd.concat(trips, ignore_index=True)
        if trips
        else pd.DataFrame(columns=["pair", "entry_ts", "exit_ts", "net"])
    )
    return pd.concat(parts, ignore_index=True), all_trips


def main(argv: list[str] | None = None) -> int:
    """Print the crisis-week table of the yardstick on the development pairs."""
    import argparse
    from pathlib import Path

    from backtest.realdata import DEV_PAIRS, DEV_YEARS, load_histdata_pair

    ap = argparse.ArgumentParser(description="crisis weeks of the naive yardstick on HistData M1 zips")
    ap.add_argument("--histdata", type=Path, required=True)
    ap.add_argument("--pairs", default=",".join(DEV_PAIRS))
    ap.add_argument("--years", default=",".join(map(str, DEV_YEARS)))
    args = ap.parse_args(argv)
    years = tuple(int(y) for y in args.years.split(","))
    data = {p: load_histdata_pair(args.histdata, p, years) for p in args.pairs.split(",")}
    bars, trips = yardstick_frames(data)
    table = crisis_weeks(bars, trips)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

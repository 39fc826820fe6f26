"""The naive yardstick: z-score reversion on bid closes, the baseline every strategy must beat.

Rules (exactly what is computed):

* Per pair, bars in time order are cut into **segments** at every gap longer than ``max_gap_min``
  minutes (weekends, holidays, outages: the market was closed or blind). Nothing carries across a gap.
* ``z_t = (close_t - mean) / std`` over the last ``window`` closes of the segment, bar ``t`` included
  (population std, ``ddof=0``); undefined for the first ``window - 1`` bars of a segment and when
  ``std == 0``.
* **Entry** at the close of bar ``t`` when ``|z_t| > z_entry`` and the pair is flat, against the move:
  short when ``z > 0``, long when ``z < 0``. One position per pair.
* **Exit** at the close of the bar ``hold`` bars later, or at the last bar before a gap if the segment
  ends first (no position is held over a market close). The next entry is looked for from the bar
  after the exit bar.
* **Costs**: ``cost_pips`` per round trip (0.8 pip by default), whatever the session or volatility.
  Prices are bid closes on both legs; no spread beyond that cost, no slippage, no latency.
* **Sizing**: each trade has a notional of one unit of the pair's account; a trade's return is
  ``side * (exit / entry - 1)`` minus ``cost_pips * pip / entry``. A pair's equity adds its trades'
  returns (no compounding). Pooled: equal weight, the mean of the pairs' daily returns.
* **Sharpe**: mean / std of daily net returns (trade returns booked on the exit's UTC day, days with
  bars and no trade count as 0) times ``sqrt(252)``. **Max drawdown**: largest fall of the cumulative
  net return from its running peak, in return units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from streams.data.bars import BarColumns
from streams.fx.pairs import pip_size

DAY_MS = 86_400_000


@dataclass(frozen=True)
class YardstickConfig:
    """Parameters of the yardstick (defaults: the issue's z 2.5 over 120 bars, 30-bar hold, 0.8 pip)."""

    window: int = 120
    z_entry: float = 2.5
    hold: int = 30
    cost_pips: float = 0.8
    max_gap_min: int = 30


def segments(ts: npt.NDArray[np.int64], max_gap_min: int) -> npt.NDArray[np.int64]:
    """Return a segment id per bar (time order): a new segment after each gap > ``max_gap_min``."""
    gap = np.diff(ts, prepend=ts[:1]) > max_gap_min * 60_000
    return np.cumsum(gap).astype(np.int64)


def zscores(
    close: npt.NDArray[np.float64], seg: npt.NDArray[np.int64], window: int
) -> npt.NDArray[np.float64]:
    """Return the rolling z-score of ``close`` within segments (NaN where undefined), shape (n,)."""
    s = pd.Series(close)
    g = s.groupby(seg)
    mean = g.rolling(window, min_periods=window).mean().reset_index(level=0, drop=True)
    std = g.rolling(window, min_periods=window).std(ddof=0).reset_index(level=0, drop=True)
    z = (s - mean.sort_index()) / std.sort_index()
    z[std.sort_index() <= 1e-12 * s.abs()] = np.nan
    return z.to_numpy(dtype=np.float64)


def trades(bars: BarColumns, config: YardstickConfig | None = None) -> pd.DataFrame:
    """Return the round trips of one pair's bars (sorted by time) as a frame.

    Columns: ``pair, entry_ts, exit_ts, side (+1 long / -1 short), entry, exit, gross, cost, net``
    (returns per unit notional) and ``gross_pips, net_pips``.
    """
    cfg = config or YardstickConfig()
    ts, close = bars["ts"], bars["close"].astype(np.float64)
    pair = str(bars["pair"][0])
    seg = segments(ts, cfg.max_gap_min)
    z = zscores(close, seg, cfg.window)
    seg_end = np.r_[np.flatnonzero(np.diff(seg)), len(ts) - 1]
    last_of_seg = seg_end[seg]
    signal = np.flatnonzero(np.abs(np.nan_to_num(z)) > cfg.z_entry)
    rows = []
    free_from = 0
    for i in signal:
        if i < free_from or i == last_of_seg[i]:
            continue
        j = min(int(i) + cfg.hold, int(last_of_seg[i]))
        rows.append((i, j, -1 if z[i] > 0 else 1))
        free_from = j + 1
    entry_i = np.array([r[0] for r in rows], dtype=np.int64)
    exit_i = np.array([r[1] for r in rows], dtype=np.int64)
    side = np.array([r[2] for r in rows], dtype=np.int64)
    pip = pip_size(pair)
    entry, exit_ = close[entry_i], close[exit_i]
    gross = side * (exit_ / entry - 1.0)
    cost = cfg.cost_pips * pip / entry
    return pd.DataFrame(
        {
            "pair": pair,
            "entry_ts": ts[entry_i],
            "exit_ts": ts[exit_i],
            "side": side,
            "entry": entry,
            "exit": exit_,
            "gross": gross,
            "cost": cost,
            "net": gross - cost,
            "gross_pips": side * (exit_ - entry) / pip,
            "net_pips": side * (exit_ - entry) / pip - cfg.cost_pips,
        }
    )


def daily_returns(trips: pd.DataFrame, ts: npt.NDArray[np.int64]) -> pd.Series:
    """Return net return per UTC day (index: day number since the epoch) over the days with bars."""
    days = np.unique(ts // DAY_MS)
    booked = trips.groupby(trips["exit_ts"] // DAY_MS)["net"].sum() if len(trips) else pd.Series(dtype=float)
    return booked.reindex(days, fill_value=0.0)


def max_drawdown(returns: npt.NDArray[np.float64]) -> float:
    """Return the largest fall of ``cumsum(returns)`` from its running peak (>= 0, return units)."""
    equity = np.concatenate([[0.0], np.cumsum(returns)])
    return float(np.max(np.maximum.accumulate(equity) - equity))


def sharpe(daily: npt.NDArray[np.float64]) -> float:
    """Return ``mean / std * sqrt(252)`` of daily returns (NaN when std is 0)."""
    sd = float(np.std(daily, ddof=1)) if len(daily) > 1 else 0.0
    return float(np.mean(daily) / sd * np.sqrt(252)) if sd > 0 else float("nan")


def _months(ts: npt.NDArray[np.int64]) -> int:
    return len(np.unique(ts.astype("datetime64[ms]").astype("datetime64[M]")))


def summarise(trips: pd.DataFrame, daily: pd.Series, months: int, name: str) -> dict[str, float | str]:
    """Return the yardstick's figures for one pair or the pool."""
    return {
        "pair": name,
        "round_trips": len(trips),
        "per_month": len(trips) / max(months, 1),
        "gross_pct": 100 * float(trips["gross"].sum()) if len(trips) else 0.0,
        "costs_pct": 100 * float(trips["cost"].sum()) if len(trips) else 0.0,
        "net_pct": 100 * float(daily.sum()),
        "net_pips": float(trips["net_pips"].sum()) if len(trips) else 0.0,
        "win_rate": float((trips["net"] > 0).mean()) if len(trips) else float("nan"),
        "max_dd_pct": 100 * max_drawdown(daily.to_numpy()),
        "sharpe": sharpe(daily.to_numpy()),
    }


def run(bars_by_pair: dict[str, BarColumns], config: YardstickConfig | None = None) -> pd.DataFrame:
    """Return one row per pair and a ``POOLED`` row (equal-weight mean of the pairs' daily returns)."""
    rows, dailies = [], []
    for pair, bars in bars_by_pair.items():
        trips = trades(bars, config)
        daily = daily_returns(trips, bars["ts"])
        rows.append(summarise(trips, daily, _months(bars["ts"]), pair))
        dailies.append(daily.rename(pair))
    pool = pd.concat(dailies, axis=1).fillna(0.0)
    pooled = pool.mean(axis=1)
    months = max(_months(b["ts"]) for b in bars_by_pair.values())
    total = sum(int(r["round_trips"]) for r in rows)
    n = len(rows)
    rows.append(
        {
            "pair": "POOLED",
            "round_trips": total,
            "per_month": total / max(months, 1),
            "gross_pct": sum(float(r["gross_pct"]) for r in rows) / n,
            "costs_pct": sum(float(r["costs_pct"]) for r in rows) / n,
            "net_pct": 100 * float(pooled.sum()),
            "net_pips": sum(float(r["net_pips"]) for r in rows),
            "win_rate": float("nan"),
            "max_dd_pct": 100 * max_drawdown(pooled.to_numpy()),
            "sharpe": sharpe(pooled.to_numpy()),
        }
    )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Print the yardstick on the development pairs: ``python -m backtest.yardstick --histdata DIR``."""
    import argparse
    from pathlib import Path

    from backtest.realdata import DEV_PAIRS, DEV_YEARS, load_histdata_pair

    ap = argparse.ArgumentParser(description="naive z-score yardstick on HistData M1 zips")
    ap.add_argument("--histdata", type=Path, required=True)
    ap.add_argument("--pairs", default=",".join(DEV_PAIRS))
    ap.add_argument("--years", default=",".join(map(str, DEV_YEARS)))
    args = ap.parse_args(argv)
    years = tuple(int(y) for y in args.years.split(","))
    bars = {p: load_histdata_pair(args.histdata, p, years) for p in args.pairs.split(",")}
    print(run(bars).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

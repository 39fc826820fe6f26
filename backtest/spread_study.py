"""Spread model vs real bid/ask bars: calibration, quantiles by session, crisis-week widening.

Research entry (no data ships; point it at a folder laid out as ``infra/fetch_realdata.sh`` leaves it)::

    python -m backtest.spread_study --realdata /work/realdata

* ``calibrate``: per pair, the base (mean real spread in the reference hours 02:00-12:00 New York over
  the mean of the model's other factors there) and each session window's factor (mean real spread in
  the window over ``base x`` the mean of the other factors there). Means, because costs are paid on
  average.
* ``quantile_table``: p5 ... p99 and the mean of real and modelled spreads by session, in pips.
* ``weekly_means``: the modelled spread's weekly mean on bid-only HistData bars, for the weeks of
  highest realised volatility vs the median week.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from backtest.realdata import DEV_PAIRS, load_histdata_pair
from streams.data.bars import BarColumns
from streams.data.histdata import read_histdata
from streams.data.spread_model import (
    SpreadConfig,
    _window_mask,
    clock_minute_of_day,
    model_spread,
    synthetic_spread_config,
)
from streams.data.spreads import real_spreads
from streams.fx.pairs import pip_size

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95, 0.99)
BIDASK_FILES = {"GBPUSD": "gbpusd-m1-{side}-2012.csv", "USDJPY": "usdjpy-m1-{side}-2013.csv"}


def load_bidask(folder: Path, pair: str) -> tuple[BarColumns, npt.NDArray[np.float64]]:
    """Return the bid bars of ``pair`` and the real spread per bar (price units) from its two files."""
    name = BIDASK_FILES[pair]
    bid = read_histdata(folder / name.format(side="bid"), pair).bars
    ask = read_histdata(folder / name.format(side="ask"), pair).bars
    spread, _ = real_spreads(bid, ask)
    keep = np.isfinite(spread)
    return {k: v[keep] for k, v in bid.items()}, spread[keep]


def session_labels(ts: npt.NDArray[np.int64], config: SpreadConfig) -> npt.NDArray[np.str_]:
    """Return the session window name per bar (``'reference'`` outside every window), shape (n,)."""
    mod = clock_minute_of_day(ts, config.clock)
    label = np.full(len(ts), "reference", dtype=object)
    for w in config.windows:
        label[_window_mask(mod, w)] = w.name
    return label.astype(str)


def calibrate(
    bars: BarColumns, real: npt.NDArray[np.float64], config: SpreadConfig
) -> tuple[float, dict[str, float]]:
    """Return ``(base_pips, {window: factor})`` for one pair (see the module docstring)."""
    pair = str(bars["pair"][0])
    unit = config.model_copy(update={"base_pips": {pair: 1.0}, "session_factors": {"*": {}}})
    other = model_spread(bars["pair"], bars["ts"], bars["high"], bars["low"], unit) / pip_size(pair)
    real_pips = real / pip_size(pair)
    label = session_labels(bars["ts"], config)
    ref = label == "reference"
    base = float(real_pips[ref].mean() / other[ref].mean())
    factors = {
        w.name: float(real_pips[label == w.name].mean() / (base * other[label == w.name].mean()))
        for w in config.windows
        if (label == w.name).any()
    }
    return base, factors


def quantile_table(
    bars: BarColumns,
    real: npt.NDArray[np.float64],
    config: SpreadConfig,
    rows_mask: npt.NDArray[np.bool_] | None = None,
) -> pd.DataFrame:
    """Return real vs modelled spread quantiles (pips) by session and overall, one row per (session, kind).

    The model runs over every bar (its rolling state needs them); ``rows_mask`` limits the rows compared.
    """
    pair = str(bars["pair"][0])
    modeled = model_spread(bars["pair"], bars["ts"], bars["high"], bars["low"], config) / pip_size(pair)
    label = session_labels(bars["ts"], config)
    keep = np.ones(len(label), dtype=bool) if rows_mask is None else rows_mask
    rows = []
    for name in ["all", "reference", *(w.name for w in config.windows)]:
        sel = keep & (np.ones(len(label), dtype=bool) if name == "all" else label == name)
        for kind, values in (("real", real[sel] / pip_size(pair)), ("model", modeled[sel])):
            q = np.quantile(values, QUANTILES)
            rows.append(
                {"pair": pair, "session": name, "kind": kind, "n": int(sel.sum()), "mean": values.mean()}
                | {f"p{round(p * 100)}": v for p, v in zip(QUANTILES, q, strict=True)}
            )
    return pd.DataFrame(rows)


def holdout_table(bars: BarColumns, real: npt.NDArray[np.float64], config: SpreadConfig) -> pd.DataFrame:
    """Calibrate base and session factors on the first half of the bars, compare on the second half."""
    pair = str(bars["pair"][0])
    first = bars["ts"] < np.median(bars["ts"])
    base, factors = calibrate({k: v[first] for k, v in bars.items()}, real[first], config)
    fitted = config.model_copy(
        update={"base_pips": {**config.base_pips, pair: base}, "session_factors": {pair: factors}}
    )
    return quantile_table(bars, real, fitted, rows_mask=~first)


def weekly_means(bars: BarColumns, config: SpreadConfig, top: int = 5) -> pd.DataFrame:
    """Return per week (Monday, UTC): realised vol (std of 1-min log returns, bp), mean modelled spread (pips).

    Rows are the ``top`` weeks of highest realised volatility, then the median week (by volatility);
    ``peak_day`` is the highest daily mean of the week (days with at least 600 bars).
    """
    pair = str(bars["pair"][0])
    spread = model_spread(bars["pair"], bars["ts"], bars["high"], bars["low"], config) / pip_size(pair)
    ts = pd.to_datetime(bars["ts"], unit="ms", utc=True)
    ret = np.diff(np.log(bars["close"]), prepend=np.nan)
    gap = np.diff(bars["ts"], prepend=0) != 60_000
    ret[gap] = np.nan
    naive = ts.tz_localize(None)
    df = pd.DataFrame(
        {"week": naive.to_period("W-SUN").start_time, "day": naive.floor("D"), "r": ret, "s": spread}
    )
    weekly = df.groupby("week").agg(vol=("r", "std"), spread=("s", "mean"), bars=("s", "size"))
    daily = df.groupby(["week", "day"])["s"].agg(["mean", "size"])
    weekly["peak_day"] = daily[daily["size"] >= 600]["mean"].groupby(level=0).max()
    weekly = weekly[weekly["bars"] >= 1000].sort_values("vol", ascending=False)
    weekly["vol"] *= 1e4
    median_week = weekly.iloc[[len(weekly) // 2]]
    out = pd.concat([weekly.head(top).assign(kind="top"), median_week.assign(kind="median")])
    out.insert(0, "pair", pair)
    return out.reset_index()


def _print_frame(title: str, frame: pd.DataFrame) -> None:
    print(f"\n## {title}")
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, required=True, help="folder with nautilus/ and histdata/")
    ap.add_argument("--skip-weekly", action="store_true")
    args = ap.parse_args(argv)
    cfg = SpreadConfig()
    for pair in BIDASK_FILES:
        bars, real = load_bidask(args.realdata / "nautilus", pair)
        base, factors = calibrate(bars, real, cfg)
        print(
            f"\n{pair}: fitted base {base:.3f} pips, session factors "
            + str({k: round(v, 2) for k, v in factors.items()})
        )
        _print_frame(f"{pair} real vs modelled spread, pips", quantile_table(bars, real, cfg))
        old = quantile_table(bars, real, synthetic_spread_config())
        _print_frame(f"{pair} the previous model (now the synthetic market's)", old[old["kind"] == "model"])
        _print_frame(
            f"{pair} out of sample: fitted on the first half, compared on the second",
            holdout_table(bars, real, cfg),
        )
    if not args.skip_weekly:
        frames: list[Any] = []
        for pair in DEV_PAIRS:
            frames.append(weekly_means(load_histdata_pair(args.realdata / "histdata", pair), cfg))
        _print_frame(
            "modelled spread, weekly mean (pips): top-5 volatility weeks vs median week", pd.concat(frames)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

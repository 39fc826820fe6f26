"""Test market and an independent pandas implementation of every feature (the reference)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch
from streams.data.synth import generate_market
from streams.stages.features import FeaturesConfig, FeaturesStage
from tests.kit.runner import pieces, run

PAIRS = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD"]
SMALL = FeaturesConfig(
    max_gap_min=10,
    vol_window=5,
    spread_window=6,
    disp_window=8,
    pct_window=12,
    xcorr_window_min=20,
    xcorr_min_obs=8,
    session_min_days=1,
    session_min_bars=5,
)
"""Short windows so that warm-up, resets and every feature occur in a few days of data."""
FEATURES = [
    "log_ret",
    "gk_vol",
    "spread_widening",
    "tick_velocity",
    "displacement",
    "displacement_pct",
    "xcorr",
    "session_vol_norm",
]


def market(
    start: str = "2019-03-07", end: str = "2019-03-12 12:00", seed: int = 7, pairs: list[str] | None = None
) -> Batch:
    """Synthetic bars (sorted by (ts, pair)) with extra gaps: random missing minutes and long holes."""
    bars = generate_market(pairs or PAIRS, start, end, seed=seed).bars
    rng = np.random.default_rng(seed)
    n = len(bars["ts"])
    keep = rng.random(n) > 0.04
    for p in pairs or PAIRS:
        rows = np.flatnonzero(bars["pair"] == p)
        for s in rng.integers(0, len(rows) - 60, size=3):
            keep[rows[s : s + int(rng.integers(11, 45))]] = False  # gaps longer than max_gap_min
    return Batch({k: np.asarray(v)[keep] for k, v in bars.items()})


def run_chunks(stage: FeaturesStage, batch: Batch, cuts: list[int]) -> Batch:
    """Process ``batch`` split at the row indices ``cuts`` and concatenate the outputs."""
    return run(stage, [("bars.clean", b) for b in pieces(batch, cuts)])[1]["features"]


# ---------------------------------------------------------------- independent reference (pandas)


def _local(ts: pd.Series, zone: str) -> tuple[pd.Series, pd.Series]:
    t = pd.to_datetime(ts, unit="ms", utc=True).dt.tz_convert(zone)
    return t.dt.hour * 60 + t.dt.minute, t.dt.dayofweek


def _ref_holiday(ts: pd.Series) -> np.ndarray:
    # the New York trading day ends at 17:00: shift by 7 hours and read the date
    t = pd.to_datetime(ts, unit="ms", utc=True).dt.tz_convert("America/New_York") + pd.Timedelta(hours=7)
    return (((t.dt.month == 12) & (t.dt.day == 25)) | ((t.dt.month == 1) & (t.dt.day == 1))).to_numpy()


def ref_sessions(ts: pd.Series, rollover_min: int = 60) -> np.ndarray:
    lon, _ = _local(ts, "Europe/London")
    ny, wd = _local(ts, "America/New_York")
    london = (lon >= 480) & (lon < 990)
    newyork = (ny >= 480) & (ny < 1020)
    off = (
        ((ny >= 1020) & (ny < 1020 + rollover_min))
        | (wd == 5)
        | ((wd == 4) & (ny >= 1020))
        | ((wd == 6) & (ny < 1020))
        | _ref_holiday(ts)
    )
    sid = np.select([off, london & newyork, london, newyork], [4, 2, 1, 3], default=0)
    return sid.astype(np.int32)


def _segment_features(g: pd.DataFrame, c: FeaturesConfig) -> pd.DataFrame:
    gk_var = 0.5 * np.log(g.high / g.low) ** 2 - (2 * np.log(2) - 1) * np.log(g.close / g.open) ** 2
    gk_vol = np.sqrt(gk_var.rolling(c.vol_window).mean().clip(lower=0))
    med = g.spread.rolling(c.spread_window).median().shift(1)
    m = g.mid.rolling(c.disp_window).mean()
    disp = ((g.mid - m) / (m * gk_vol * np.sqrt(c.disp_window))).where(gk_vol > 0)
    pct = (disp.rolling(c.pct_window).rank(method="average") - 1) / (c.pct_window - 1)
    return pd.DataFrame(
        {
            "gk_var": gk_var,
            "gk_vol": gk_vol,
            "spread_widening": (g.spread / med).where(med > 0),
            "displacement": disp,
            "displacement_pct": pct,
            "segpos": np.arange(1, len(g) + 1),
        },
        index=g.index,
    )


def _session_norm(g: pd.DataFrame, c: FeaturesConfig) -> pd.Series:
    occ = ((g.session_id != g.session_id.shift()) | (g.segpos == 1)).cumsum()
    ref: dict[int, float] = {}
    days: dict[int, int] = {}
    out = pd.Series(np.nan, index=g.index)
    for _, o in g.groupby(occ, sort=True):
        s = int(o.session_id.iloc[0])
        if days.get(s, 0) >= c.session_min_days:
            out[o.index] = o.gk_vol / np.sqrt(ref[s])
        if len(o) >= c.session_min_bars:
            mean = o.gk_var.mean()
            ref[s] = mean if s not in ref else ref[s] + c.session_alpha * (mean - ref[s])
            days[s] = days.get(s, 0) + 1
    return out


def _pair_features(g: pd.DataFrame, c: FeaturesConfig) -> pd.DataFrame:
    g = g.copy()
    gap = (g.ts.diff() // 60_000).fillna(0).astype(int)
    g["gap_min"] = gap
    g["log_ret"] = np.log(g.mid).diff().where(gap == 1)
    seg_id = ((gap > c.max_gap_min) | (np.arange(len(g)) == 0)).cumsum()
    parts = [_segment_features(s, c) for _, s in g.groupby(seg_id, sort=True)]
    g = g.join(pd.concat(parts))
    g["session_vol_norm"] = _session_norm(g, c)
    return g


def _xcorr(df: pd.DataFrame, c: FeaturesConfig) -> pd.Series:
    minute = df.ts // 60_000
    wide = df.assign(minute=minute).pivot(index="minute", columns="pair", values="log_ret")
    wide = wide.reindex(np.arange(minute.min(), minute.max() + 1))
    out = pd.Series(np.nan, index=df.index)
    for p in wide.columns:
        x, y = wide[p], wide.drop(columns=p).mean(axis=1)
        both = x.notna() & y.notna()
        corr = x.where(both).rolling(c.xcorr_window_min, min_periods=c.xcorr_min_obs).corr(y.where(both))
        corr = corr.shift(1)  # minutes strictly before t
        rows = df.pair == p
        out[rows] = corr.reindex(minute[rows]).to_numpy()
    return out


def reference(batch: Batch, c: FeaturesConfig) -> pd.DataFrame:
    """Every feature of every row of ``batch``, computed with pandas from the definitions."""
    df = pd.DataFrame(
        {k: batch[k] for k in ("pair", "ts", "open", "high", "low", "close", "volume", "spread")}
    )
    df["mid"] = df.close + df.spread / 2
    df["session_id"] = ref_sessions(df.ts, c.rollover_min)
    path = 1e4 * (2 * (df.high - df.low) - (df.close - df.open).abs()) / df.mid
    df["tick_velocity"] = df.volume.where(df.volume > 0, path)
    df = pd.concat([_pair_features(g, c) for _, g in df.groupby("pair", sort=False)]).loc[df.index]
    df["xcorr"] = _xcorr(df, c)
    finite = np.isfinite(df[[f for f in FEATURES if f not in ("log_ret", "xcorr")]]).all(axis=1)
    warm = max(max(c.vol_window, c.disp_window) + c.pct_window - 1, c.spread_window + 1)
    df["ready"] = finite & (df.segpos >= warm)
    return df


def as_frame(out: Batch) -> pd.DataFrame:
    return pd.DataFrame({k: out[k] for k in out})


def records(out: Batch, i: int) -> dict[str, Any]:
    return {k: out[k][i] for k in out}

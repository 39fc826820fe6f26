"""Features of a synthetic market for the regime tests.

Uses the real features stage (through the DAG) when it is registered; until then a small pandas
stand-in with the same column names and meanings (past-only rolling windows) so the regime model can
be trained and checked against the generator's ground truth.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from streams.core.batch import Batch

PAIRS = ("EURUSD", "GBPUSD")
START, END, SEED = "2019-01-07", "2019-02-09", 11


def _session(ts: np.ndarray) -> np.ndarray:
    hour = (ts // 3_600_000) % 24
    return np.select([hour >= 21, hour < 7, hour < 12, hour < 16], [4, 0, 1, 2], 3).astype(np.int32)


def _one_pair(df: pd.DataFrame, warmup: int = 300) -> pd.DataFrame:
    mid = df["close"] + df["spread"] / 2
    lm = np.log(mid)
    gap = df["ts"].diff().fillna(0).to_numpy() // 60_000
    seg = np.cumsum(gap > 30)
    pos = pd.Series(np.ones(len(df))).groupby(seg).cumsum().to_numpy()
    gk = (
        0.5 * np.log(df["high"] / df["low"]) ** 2
        - (2 * np.log(2) - 1) * np.log(df["close"] / df["open"]) ** 2
    )
    gk_vol = np.sqrt(gk.rolling(30, min_periods=30).mean())
    disp = (lm - lm.rolling(60).mean()) / (gk_vol * np.sqrt(60))
    out = pd.DataFrame(
        {
            "pair": df["pair"].to_numpy(),
            "ts": df["ts"].to_numpy(),
            "open": df["open"],
            "high": df["high"],
            "low": df["low"],
            "close": df["close"],
            "spread": df["spread"],
            "mid": mid,
            "gap_min": gap.astype(np.int32),
            "ready": pos >= warmup,
            "log_ret": lm.diff(),
            "gk_vol": gk_vol,
            "spread_widening": df["spread"] / df["spread"].shift(1).rolling(60, min_periods=10).median(),
            "tick_velocity": np.nan,
            "displacement": disp,
            "displacement_pct": disp.rolling(240).rank(pct=True),
            "session_id": _session(df["ts"].to_numpy()),
            "session_vol_norm": gk_vol / gk_vol.rolling(2880, min_periods=600).median(),
        }
    )
    return out


def _fallback(bars: dict[str, np.ndarray]) -> Batch:
    df = pd.DataFrame(bars)
    parts = [_one_pair(g.reset_index(drop=True)) for _, g in df.groupby("pair", sort=True)]
    out = pd.concat(parts).sort_values(["ts", "pair"], kind="stable").reset_index(drop=True)
    rets = out.pivot(index="ts", columns="pair", values="log_ret")
    basket = rets.mean(axis=1)
    xc = {p: rets[p].rolling(120, min_periods=60).corr(basket - rets[p] / len(rets.columns)) for p in rets}
    out["xcorr"] = [xc[p].get(t, np.nan) for p, t in zip(out["pair"], out["ts"], strict=True)]
    return Batch({c: out[c].to_numpy() for c in out.columns})


@cache
def synth_features(
    pairs: tuple[str, ...] = PAIRS, start: str = START, end: str = END, seed: int = SEED
) -> tuple[Batch, dict[str, Any]]:
    """Return (features batch, truth aligned row by row) for a synthetic market."""
    from streams.dag import STAGE_FACTORIES
    from streams.data.synth import generate_market

    market = generate_market(list(pairs), start, end, seed)
    if "features" in STAGE_FACTORIES:
        from streams.config import HSLRConfig
        from streams.dag import build_stages
        from streams.runner.inprocess import run_inprocess

        out = run_inprocess(
            build_stages(HSLRConfig(), only=["market", "features"]), {"bars": Batch(market.bars)}
        )
        feats = out["features"]
    else:
        feats = _fallback(market.bars)
    key = {(p, t): i for i, (p, t) in enumerate(zip(market.truth["pair"], market.truth["ts"], strict=True))}
    idx = np.array([key[(p, t)] for p, t in zip(feats["pair"], feats["ts"], strict=True)])
    truth = {k: v[idx] for k, v in market.truth.items()}
    return feats, truth


@cache
def trained_small() -> tuple[Any, dict[str, Any]]:
    """A small regime model trained on :func:`synth_features` (fast enough for unit tests)."""
    from streams.stages.regime import RegimeConfig
    from streams.training.regime import train_regime

    feats, _ = synth_features()
    cfg = RegimeConfig(train={"n_estimators": 40, "max_depth": 8, "test_fraction": 0.4})
    return train_regime(feats, cfg)

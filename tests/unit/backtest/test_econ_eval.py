"""Out-of-sample economics helpers: per-pair PnL from execution reports, grid day accounting."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.econ_eval import _daily, ic_with_ci, pair_pnl
from models.execution import Trades
from streams.core.batch import Batch

M = 60_000


def test_pair_pnl_counts_round_trips_and_charges_commission() -> None:
    # GBPUSD: buy 10k @1.30, sell 10k @1.31 (+100 USD), buy 5k @1.30, sell 5k @1.29 (-50 USD)
    # USDJPY: buy 10k (USD notional 10k), no exit yet
    f = Batch(
        {
            "pair": np.array(["GBPUSD"] * 4 + ["USDJPY"]),
            "ts": np.array([1, 2, 3, 4, 2], dtype=np.int64) * M,
            "side": np.array([1, -1, 1, -1, 1]),
            "last_qty": np.array([10_000.0, 10_000.0, 5_000.0, 5_000.0, 10_000.0]),
            "last_price": np.array([1.30, 1.31, 1.30, 1.29, 110.0]),
            "realized_pnl_usd": np.array([0.0, 100.0, 0.0, -50.0, 0.0]),
        }
    )
    out = pair_pnl(f, 0, 10 * M, commission_bps=0.2)
    g = out["GBPUSD"]
    notional = 10_000 * 1.30 + 10_000 * 1.31 + 5_000 * 1.30 + 5_000 * 1.29
    assert g["round_trips"] == 2.0
    assert g["gross_usd"] == pytest.approx(50.0)
    assert g["commission_usd"] == pytest.approx(notional * 0.2e-4)
    assert g["net_usd"] == pytest.approx(50.0 - notional * 0.2e-4)
    # realised net path: -c1, 100-c1-c2, ..., the drawdown is the last sale's loss plus its commissions
    c = np.array([10_000 * 1.30, 10_000 * 1.31, 5_000 * 1.30, 5_000 * 1.29]) * 0.2e-4
    path = np.cumsum(np.array([0.0, 100.0, 0.0, -50.0]) - c)
    assert g["max_dd_usd"] == pytest.approx(path[1] - path[3])
    j = out["USDJPY"]
    assert j["round_trips"] == 0.0
    assert j["commission_usd"] == pytest.approx(10_000 * 0.2e-4)


def test_grid_days_take_one_trade_per_horizon() -> None:
    ts = np.array([0, 10, 20, 40, 1440 + 5], dtype=np.int64) * M
    t = Trades(
        np.array([True, True, False, True, True]),
        np.ones(5),
        np.array([1e-4, 2e-4, np.nan, 3e-4, 4e-4]),
        np.zeros(5),
        np.zeros((5, 3)),
    )
    days = np.array([0, 1], dtype=np.int64)
    # horizon 30: the trade at minute 10 overlaps the one at 0; 20 was not filled; 40 counts
    out = _daily(np.arange(5), ts, t, days, 30)
    assert out.tolist() == pytest.approx([1e-4 + 3e-4, 4e-4])


def test_ic_is_one_for_a_monotone_relation() -> None:
    x = np.arange(100.0)
    r = ic_with_ci(x, x**3, np.random.default_rng(0), n_boot=20)
    assert r["ic"] == pytest.approx(1.0)
    assert r["ic_lo"] == pytest.approx(1.0)

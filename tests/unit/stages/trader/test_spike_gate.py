"""A quarantined price spike never drives the portfolio's equity or high-water mark (issue 11 #2)."""

from __future__ import annotations

import numpy as np

from streams.core.batch import Batch
from streams.stages.market import MarketStage
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.stage import TraderConfig, TraderStage
from tests.kit.governed import governed

BAR_KEYS = ("pair", "ts", "open", "high", "low", "close", "spread")


def _spiked() -> tuple[Batch, int]:
    data = governed(n_min=400, seed=3, missing=0.0)
    cols = {k: data[k].copy() for k in data}
    row = int(np.flatnonzero(cols["pair"] == "EURUSD")[300])
    for k in ("open", "high", "low", "close", "mid"):
        cols[k][row] *= 1000.0
    return Batch(cols), row


def _account(out: dict[str, Batch]) -> Batch:
    p = out["portfolio"]
    return p.take(p["pair"] == "")


def test_the_market_gate_keeps_a_spike_out_of_equity_and_hwm() -> None:
    data, row = _spiked()
    bars = Batch(
        {
            **{k: data[k] for k in BAR_KEYS},
            "volume": np.zeros(data.n),
            "spread_modeled": np.ones(data.n, dtype=bool),
            "source": np.full(data.n, "test"),
        }
    )
    market = MarketStage()
    _, gate = market.process(market.initial_state(), "bars", bars)
    assert gate["quarantine"]["ts"].tolist() == [int(data["ts"][row])]
    assert gate["quarantine"]["reason"][0].startswith("price spike")
    keep = np.ones(data.n, dtype=bool)
    keep[row] = False  # what bars.clean lets through
    trader = TraderStage(TraderConfig(risk=RiskConfig(cov_min_obs=30)))
    _, clean = trader.process(trader.initial_state(), "signals.governed", data.take(keep))
    acct = _account(clean)
    assert acct.n > 0
    # no mark after the gate moves equity or the high-water mark by more than 5 % of the first one
    eq = acct["equity_usd"]
    assert np.abs(eq / eq[0] - 1).max() < 0.05
    assert acct["hwm_usd"].max() < 1.05 * eq[0]

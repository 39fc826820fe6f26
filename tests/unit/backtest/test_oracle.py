"""Oracle signal and PnL attribution on hand-made OU paths with a known fair value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest.attribution import attribution, order_stats, round_trips
from backtest.oracle import OracleSpec, align, calm_sd, oracle_columns, oracle_signals
from streams.core.batch import Batch

MIN = 60_000
T0 = 1_600_000_000_000 // MIN * MIN
FAIR = 1.1000
HL = 20.0  # minutes
THETA = math.log(2) / HL


def _path() -> tuple[Batch, dict[str, np.ndarray]]:
    """One pair, 6 minutes: deviations in units of a = 1e-4 (log), fair value constant."""
    a = 1e-4
    dev = np.array([0.0, 1.0, -1.0, 3.0, -3.0, 0.5]) * a
    regime = np.array([0, 0, 0, 0, 1, 0], dtype=np.int8)  # minute 4 is directional
    ts = T0 + np.arange(6) * MIN
    mid = FAIR * np.exp(dev)
    signals = Batch(
        {
            "pair": np.full(6, "EURUSD"),
            "ts": ts,
            "mid": mid,
            "cost": np.full(6, 0.5e-4),
            "passed": np.zeros(6, bool),
        }
    )
    truth = {
        "pair": np.full(6, "EURUSD"),
        "ts": ts,
        "regime": regime,
        "fair_value": np.full(6, FAIR),
        "deviation": dev,
        "ou_theta": np.full(6, THETA),
        "event": np.zeros(6, bool),
    }
    return signals, truth


def test_calm_sd_uses_calm_rows_only() -> None:
    _, truth = _path()
    sd = calm_sd(truth["pair"], truth["deviation"], truth["regime"])
    calm = np.array([0.0, 1.0, -1.0, 3.0, 0.5]) * 1e-4
    assert sd["EURUSD"] == pytest.approx(math.sqrt(((calm - calm.mean()) ** 2).mean()))


def test_oracle_columns_by_hand() -> None:
    d = np.array([4e-4, -4e-4, 1e-4, 4e-4])
    regime = np.array([0, 0, 0, 1])
    cols = oracle_columns(d, np.full(4, THETA), regime, np.full(4, 2e-4), np.full(4, 1e-4), OracleSpec())
    # 30 minutes at a 20-minute half-life: 1 - 2**-1.5 of the deviation reverts
    share = 1 - 2**-1.5
    assert cols["expected_return"] == pytest.approx([4e-4 * share, 4e-4 * share, 1e-4 * share, 4e-4 * share])
    assert cols["side"].tolist() == [-1, 1, -1, -1]
    assert cols["displacement"] == pytest.approx([2.0, -2.0, 0.5, 2.0])
    assert cols["half_life_min"] == pytest.approx([HL] * 4)
    # z = 2 > 1.5 and 2.59e-4 > 1.5 x 1e-4 in calm; z = 0.5 too small; directional not tradeable
    assert cols["passed"].tolist() == [True, True, False, False]
    assert cols["tradeable"].tolist() == [True, True, True, False]
    assert cols["regime"].tolist()[3] == "Directional_Vol"
    assert set(cols["gov_state"]) == {"NORMAL"}
    # a cost the reversion does not clear blocks: 1.5 x 2e-4 = 3e-4 > 2.59e-4
    high = oracle_columns(d, np.full(4, THETA), regime, np.full(4, 2e-4), np.full(4, 2e-4), OracleSpec())
    assert not high["passed"].any()


def test_oracle_signals_replace_the_learned_columns_and_refuse_foreign_rows() -> None:
    signals, truth = _path()
    out = oracle_signals(signals, truth, OracleSpec(entry_z=1.0))
    sd = calm_sd(truth["pair"], truth["deviation"], truth["regime"])["EURUSD"]
    assert out["displacement"] == pytest.approx(truth["deviation"] / sd)
    assert out["passed"].tolist() == [False, False, False, True, False, False]  # only minute 3: |z| > 1
    assert out["mid"] is signals["mid"] or np.array_equal(out["mid"], signals["mid"])
    with pytest.raises(ValueError, match="no truth row"):
        align(signals.with_columns(ts=signals["ts"] + 1), truth)


def _fills(rows: list[tuple[int, int, float, float, str, float]]) -> Batch:
    """(minute of the filling bar, side, qty, price, leg, realised USD) -> execution reports."""
    return Batch(
        {
            "pair": np.full(len(rows), "EURUSD"),
            "ts": np.array([T0 + (k + 1) * MIN for k, *_ in rows], dtype=np.int64),
            "client_order_id": np.array([f"o{i}" for i in range(len(rows))]),
            "status": np.full(len(rows), "FILLED"),
            "side": np.array([r[1] for r in rows], dtype=np.int32),
            "last_qty": np.array([r[2] for r in rows]),
            "last_price": np.array([r[3] for r in rows]),
            "leg": np.array([r[4] for r in rows]),
            "realized_pnl_usd": np.array([r[5] for r in rows]),
        }
    )


def test_attribution_sums_to_the_trade_pnl_and_prices_the_expected_edge() -> None:
    signals, truth = _path()
    mid = signals["mid"]
    # buy 10,000 on bar 1 at 1.0999, sell them on bar 3 at mid[3] + 0.00002
    buy, sell = 1.0999, float(mid[3]) + 2e-5
    fills = _fills(
        [(1, 1, 10_000.0, buy, "entry", 0.0), (3, -1, 10_000.0, sell, "exit", 10_000 * (sell - buy))]
    )
    targets = Batch(
        {
            "pair": np.full(2, "EURUSD"),
            "ts": np.array([T0, T0 + 2 * MIN], dtype=np.int64),
            "target_units": np.array([10_000.0, 0.0]),
        }
    )
    a = attribution(signals, {"fills": fills, "risk.targets": targets}, truth)
    held = 10_000 * (mid[3] - mid[1])  # held from bar 1's close to bar 3's close
    execution = 10_000 * (mid[1] - buy) + 10_000 * (sell - mid[3])
    assert a["position_pnl_usd"] == pytest.approx(held)
    assert a["execution_usd"] == pytest.approx(execution)
    assert a["net_usd"] == pytest.approx(10_000 * (sell - buy))  # the realised PnL of the trade
    assert a["notional_usd"] == pytest.approx(10_000 * (mid[1] + mid[3]))
    step = math.expm1(-THETA) * truth["deviation"] * mid  # E[mid_{t+1} - mid_t] per unit
    assert a["expected_position_usd"] == pytest.approx(10_000 * (step[1] + step[2]))
    assert a["expected_target_usd"] == pytest.approx(10_000 * (step[0] + step[1]))
    # minute 1 (d = +a, long) expects a fall: held against the reversion
    assert a["against_pair_minutes"] == 1
    assert a["expected_against_usd"] == pytest.approx(10_000 * step[1])


def test_round_trips_and_order_stats() -> None:
    fills = _fills(
        [
            (0, 1, 2_000.0, 1.1, "entry", 0.0),
            (1, 1, 1_000.0, 1.1, "adjust", 0.0),
            (2, -1, 3_000.0, 1.1, "exit", 5.0),
            (3, -1, 1_000.0, 1.1, "entry", 0.0),  # still open at the end: not a round trip
        ]
    )
    trips = round_trips(fills)
    assert trips["fills"].tolist() == [3]
    assert trips["max_units"].tolist() == [3_000.0]
    assert trips["pnl_usd"].tolist() == [5.0]
    assert trips["minutes"].tolist() == [2.0]
    orders = Batch(
        {
            "client_order_id": np.array(["o0", "o1", "o2", "o3", "x"]),
            "action": np.full(5, "NEW"),
            "leg": np.array(["entry", "adjust", "exit", "entry", "entry"]),
        }
    )
    stats = order_stats(orders, fills)
    assert stats["entry"] == {"posted": 3, "filled": 2, "fill_rate": 2 / 3}
    assert stats["exit"]["fill_rate"] == 1.0

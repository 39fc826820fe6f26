"""Blotter, round trips, time in market and the kill/halt timeline on a small hand-made run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.blotter import positions_per_bar, round_trips, time_in_market, write_blotter
from backtest.controls import control_events
from backtest.engine import summarize
from streams.core.batch import Batch
from streams.stages.trader.execution.records import (
    CONTROL_FIELDS,
    ORDER_FIELDS,
    PORTFOLIO_FIELDS,
    REPORT_FIELDS,
    from_rows,
)

M = 60_000
T0 = 1_562_572_800_000  # Monday 2019-07-08 08:00 UTC
EQ = 100_000.0


def _order(ts: int, coid: str, side: int, qty: float, leg: str) -> dict:
    return {
        "pair": "GBPUSD",
        "ts": ts,
        "client_order_id": coid,
        "action": "NEW",
        "side": side,
        "qty": qty,
        "limit_price": 1.25,
        "bid": 1.25,
        "ask": 1.2501,
        "leg": leg,
        "reason": "",
    }


def _fill(ts: int, coid: str, side: int, qty: float, price: float, pnl: float, status="FILLED") -> dict:
    return {
        "pair": "GBPUSD",
        "ts": ts,
        "client_order_id": coid,
        "status": status,
        "side": side,
        "order_qty": qty,
        "last_qty": qty,
        "last_price": price,
        "cum_qty": qty,
        "leaves_qty": 0.0,
        "limit_price": price,
        "leg": "",
        "reason": "",
        "realized_pnl_usd": pnl,
    }


def _port(ts: int, pair: str, pos: float, equity: float, n: int) -> dict:
    row = {f: 0.0 for f in PORTFOLIO_FIELDS}
    row.update(pair=pair, ts=ts, position_units=pos, equity_usd=equity, n_positions=n, kill_active=False)
    return row


def _ctrl(ts: int, action: str, issuer: str, reason: str, pair: str = "") -> dict:
    return {
        "command_id": f"{issuer}:{action}:{ts}",
        "ts": ts,
        "action": action,
        "scale": 0.0,
        "pair": pair,
        "issuer": issuer,
        "reason": reason,
    }


@pytest.fixture
def run() -> dict[str, Batch]:
    """Ten minutes of GBPUSD. Trip 1: buy 2 lots in two fills (minutes 1, 2), sell both at minute 4.
    Trip 2: sell 1 lot at minute 6 (entry), still open at the end. Governance halts at minute 5 and
    resumes at 7; the trader's stale-input KILL fires at minute 8 and nobody clears it."""
    orders = [
        _order(T0 + 1 * M, "a", 1, 2000.0, "entry"),
        _order(T0 + 4 * M, "b", -1, 2000.0, "exit"),
        _order(T0 + 6 * M, "c", -1, 1000.0, "entry"),
    ]
    fills = [
        _fill(T0 + 1 * M, "a", 1, 1000.0, 1.2500, 0.0, "PARTIALLY_FILLED"),
        _fill(T0 + 2 * M, "a", 1, 1000.0, 1.2502, 0.0),
        _fill(T0 + 4 * M, "b", -1, 2000.0, 1.2510, 1.8),
        _fill(T0 + 6 * M, "c", -1, 1000.0, 1.2490, 0.0),
    ]
    targets = {
        "pair": np.array(["GBPUSD"] * 3),
        "ts": np.array([T0, T0 + 3 * M, T0 + 5 * M], dtype=np.int64),
        "reason": np.array(["entry", "exit_time", "entry"]),
    }
    port = [
        _port(T0 + 1 * M, "", 1000.0, EQ, 1),
        _port(T0 + 1 * M, "GBPUSD", 1000.0, EQ, 1),
        _port(T0 + 2 * M, "", 2000.0, EQ + 1.0, 1),
        _port(T0 + 2 * M, "GBPUSD", 2000.0, EQ + 1.0, 1),
        _port(T0 + 3 * M, "", 2000.0, EQ + 1.5, 1),
        _port(T0 + 4 * M, "", 0.0, EQ + 1.8, 0),
        _port(T0 + 4 * M, "GBPUSD", 0.0, EQ + 1.8, 0),
        _port(T0 + 6 * M, "", -1000.0, EQ + 1.8, 1),
        _port(T0 + 6 * M, "GBPUSD", -1000.0, EQ + 1.8, 1),
        _port(T0 + 7 * M, "", -1000.0, EQ + 1.0, 1),
        _port(T0 + 8 * M, "", -1000.0, EQ + 0.5, 1),
        _port(T0 + 9 * M, "", -1000.0, EQ + 0.2, 1),
    ]
    control = [
        _ctrl(T0 + 5 * M, "HALT", "governance", "KL divergence 1.2 > 1.0"),
        _ctrl(T0 + 7 * M, "RESUME", "governance", "KL normal"),
        _ctrl(T0 + 8 * M, "KILL", "execution", "stale input: no bar for more than 30 open-market minutes"),
    ]
    gov = {
        "ts": np.array([T0 + 5 * M, T0 + 7 * M], dtype=np.int64),
        "action": np.array(["HALT", "RESUME"]),
    }
    n = 10
    clean = Batch({"pair": np.full(n, "GBPUSD"), "ts": T0 + M * np.arange(n, dtype=np.int64)})
    sig = Batch(
        {
            "tradeable": np.array([True] * 8 + [False] * 2),
            "passed": np.zeros(n, bool),
            "blocked_by": np.full(n, ""),
        }
    )
    return {
        "bars.clean": clean,
        "quarantine": Batch({"ts": np.zeros(0, np.int64)}),
        "signals.governed": sig,
        "orders": from_rows(orders, ORDER_FIELDS),
        "fills": from_rows(fills, REPORT_FIELDS),
        "risk.targets": Batch(targets),
        "portfolio": from_rows(port, PORTFOLIO_FIELDS),
        "control": from_rows(control, CONTROL_FIELDS),
        "governance": Batch(gov),
    }


def test_round_trips_with_entry_and_exit_reasons(run: dict[str, Batch]) -> None:
    trips = round_trips(run["fills"], run["orders"], run["risk.targets"])
    assert len(trips) == 2
    first, second = trips.iloc[0], trips.iloc[1]
    assert (first["side"], first["qty"], first["n_fills"]) == (1, 2000.0, 3)
    assert first["entry_ts"] == T0 + M
    assert first["exit_ts"] == T0 + 4 * M
    assert first["entry_price"] == pytest.approx((1.25 + 1.2502) / 2)
    assert first["exit_price"] == pytest.approx(1.2510)
    assert (first["entry_reason"], first["exit_reason"]) == ("entry", "exit_time")
    assert first["realized_pnl_usd"] == pytest.approx(1.8)
    assert (second["side"], second["exit_reason"], second["entry_reason"]) == (-1, "open", "entry")


def test_a_flip_closes_one_trip_and_opens_the_next() -> None:
    fills = from_rows(
        [_fill(T0, "x", 1, 1000.0, 1.25, 0.0), _fill(T0 + M, "y", -1, 3000.0, 1.26, 1.0)], REPORT_FIELDS
    )
    orders = from_rows(
        [_order(T0, "x", 1, 1000.0, "entry"), _order(T0 + M, "y", -1, 3000.0, "entry")], ORDER_FIELDS
    )
    trips = round_trips(fills, orders)
    assert trips["side"].tolist() == [1, -1]
    assert trips["qty"].tolist() == [1000.0, 2000.0]
    assert trips["exit_reason"].tolist()[1] == "open"


def test_positions_per_bar_and_time_in_market(run: dict[str, Batch]) -> None:
    minutes = np.unique(run["bars.clean"]["ts"])
    pos = positions_per_bar(minutes, run["portfolio"], ["GBPUSD"], EQ)
    # flat at minutes 0, 4, 5: 7 of 10 minutes hold a position
    assert pos["pos_GBPUSD"].tolist() == [0, 1000, 2000, 2000, 0, 0, -1000, -1000, -1000, -1000]
    assert pos["equity_usd"].tolist()[:3] == [EQ, EQ, EQ + 1.0]
    assert pos["equity_usd"].tolist()[5] == EQ + 1.8  # carried over the flat minute
    assert time_in_market(pos) == pytest.approx(0.7)


def test_kills_and_halts_with_clearing(run: dict[str, Batch]) -> None:
    events = control_events(run["control"])
    assert [(e["action"], e["issuer"]) for e in events] == [("HALT", "governance"), ("KILL", "execution")]
    assert events[0]["cleared_ts"] == T0 + 7 * M
    assert events[1]["cleared_ts"] is None
    assert events[1]["time"] == "2019-07-08T08:08:00Z"
    assert "stale input" in events[1]["reason"]
    resumed = Batch(
        {
            k: np.concatenate(
                [
                    run["control"][k],
                    from_rows([_ctrl(T0 + 9 * M, "RESUME", "operator", "ok")], CONTROL_FIELDS)[k],
                ]
            )
            for k in CONTROL_FIELDS
        }
    )
    assert control_events(resumed)[1]["cleared_ts"] == T0 + 9 * M


def test_summary_reports_the_kill_and_counts_round_trips(run: dict[str, Batch]) -> None:
    s = summarize(run["bars.clean"], run, EQ)
    # the portfolio never showed kill_active (no row after the kill was flagged): the control topic says
    assert s["kill_switch"] is True
    assert s["triggers_fired"] == {"HALT": 1, "KILL": 1, "RESUME": 1}
    assert len(s["kills_and_halts"]) == 2
    assert s["trades"] == 1
    assert s["trades_open_at_end"] == 1
    assert s["fills"] == 3
    assert s["fill_reports"] == 4
    assert s["time_in_market"] == pytest.approx(0.7)
    assert s["regime_tradeable_share"] == pytest.approx(0.8)
    assert "fraction_tradeable" not in s


def test_run_directory_holds_the_blotter(run: dict[str, Batch], tmp_path: Path) -> None:
    write_blotter(tmp_path, run, EQ)
    for name in ("orders", "fills", "trades", "positions", "controls"):
        assert (tmp_path / f"{name}.csv").exists()
    trades = pd.read_csv(tmp_path / "trades.csv")
    assert trades["entry_reason"].tolist() == ["entry", "entry"]
    assert trades["entry_ts_utc"].tolist()[0] == "2019-07-08T08:01:00Z"
    assert len(pd.read_csv(tmp_path / "positions.csv")) == 10
    assert pd.read_csv(tmp_path / "orders.csv")["target_reason"].tolist() == ["entry", "exit_time", "entry"]

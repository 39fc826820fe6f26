"""Live fills: a broker's execution reports (``broker.fills``) drive the trader's book (fill_source broker).

One pair (GBPUSD: quote USD, rate 1) so every PnL below is derived by hand from the scripted fills.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import state_codec
from streams.core.batch import Batch, concat
from streams.runner.inprocess import run_inprocess
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.portfolio.config import PortfolioConfig
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.stage import TraderConfig, TraderStage
from tests.kit.governed import START, governed
from tests.kit.runner import Runner, pieces, run, same

M = 60_000
INITIAL = 1_000_000.0


def _stage(replace_after_min: int = 60) -> TraderStage:
    ex = ExecutionConfig(fill_source="broker", replace_after_min=replace_after_min)
    cfg = TraderConfig(
        risk=RiskConfig(cov_min_obs=30), execution=ex, portfolio=PortfolioConfig(pairs=("GBPUSD",))
    )
    return TraderStage(cfg)


STAGE = _stage()
DATA = governed(pairs=("GBPUSD",), n_min=120, seed=5, pass_prob=0.6, missing=0.0, bad_regime_prob=0.0)
MID = dict(zip(DATA["ts"].tolist(), DATA["mid"].tolist(), strict=True))


def reports(*rows: dict[str, object]) -> Batch:
    """``execution_report`` records of the broker (every schema field; defaults for the rest)."""
    base = {
        "pair": "GBPUSD",
        "client_order_id": "",
        "status": "FILLED",
        "side": 1,
        "order_qty": 0.0,
        "last_qty": 0.0,
        "last_price": 0.0,
        "cum_qty": 0.0,
        "leaves_qty": 0.0,
        "limit_price": 0.0,
        "leg": "",
        "reason": "",
        "realized_pnl_usd": 0.0,
    }
    recs = [{**base, **r} for r in rows]
    extra = [
        k for k in ("commission_usd", "financing_usd", "half_spread_cost_usd") if any(k in r for r in rows)
    ]
    recs = [{**{k: 0.0 for k in extra}, **r} for r in recs]
    cols = {k: np.array([r[k] for r in recs]) for k in ["ts", *base, *extra]}
    cols["ts"], cols["side"] = cols["ts"].astype(np.int64), cols["side"].astype(np.int32)
    return Batch(cols)


def trade(stage: TraderStage, rep: Batch | None, data: Batch = DATA, state: object = None):
    return run(
        stage, [*([("broker.fills", rep)] if rep is not None else []), ("signals.governed", data)], state
    )


def rows(out: dict[str, Batch], key: str, **match: object) -> list[dict[str, object]]:
    return [r for r in out[key].to_records() if all(r[k] == v for k, v in match.items())]


def account(out: dict[str, Batch], minute: int) -> dict[str, object]:
    (row,) = rows(out, "portfolio", pair="", ts=START + minute * M)
    return row


def pair_rows(out: dict[str, Batch]) -> dict[int, tuple[float, float]]:
    """Minute -> (position, avg price) of the rows written where the position moved."""
    return {
        (int(r["ts"]) - START) // M: (float(r["position_units"]), float(r["avg_price"]))
        for r in rows(out, "portfolio", pair="GBPUSD")
    }


_, PLAIN = trade(STAGE, None)
ENTRY = PLAIN["orders"].to_records()[0]  # decided at minute 44 (d = 45 min): buy 945,000 at ~1.26933
D, QTY, COID = int(ENTRY["ts"]), float(ENTRY["qty"]), str(ENTRY["client_order_id"])
Q1, P1, P2 = 400_000.0, 1.2693, 1.2692
ENTRY_FILLS = reports(
    {
        "ts": D + 30_000,  # minute 45 (decided at 46 min)
        "client_order_id": COID,
        "status": "PARTIALLY_FILLED",
        "order_qty": QTY,
        "last_qty": Q1,
        "last_price": P1,
        "cum_qty": Q1,
        "leaves_qty": QTY - Q1,
        "limit_price": float(ENTRY["limit_price"]),
    },
    {
        "ts": D + M + 10_000,  # minute 46
        "client_order_id": COID,
        "status": "FILLED",
        "order_qty": QTY,
        "last_qty": QTY - Q1,
        "last_price": P2,
        "cum_qty": QTY,
        "leaves_qty": 0.0,
        "limit_price": float(ENTRY["limit_price"]),
    },
)


def test_the_script_is_what_the_tests_assume() -> None:
    # without reports nothing fills: the paper broker simulates nothing in broker mode
    assert (ENTRY["action"], int(ENTRY["side"]), ENTRY["leg"]) == ("NEW", 1, "entry")
    assert (D - START) // M == 45
    assert QTY == 945_000.0
    assert not rows(PLAIN, "fills", status="FILLED")
    assert not rows(PLAIN, "fills", status="PARTIALLY_FILLED")
    assert STAGE.spec.inputs == ("signals.governed", "control", "broker.fills")


def test_partial_then_full_fill_then_exit_fill_by_hand() -> None:
    _, out = trade(STAGE, ENTRY_FILLS)
    part, full = rows(out, "fills", client_order_id=COID)[1:]
    assert (part["status"], part["ts"], part["last_qty"], part["last_price"]) == (
        "PARTIALLY_FILLED",
        D + 30_000,
        Q1,
        P1,
    )
    assert (part["cum_qty"], part["leaves_qty"]) == (Q1, QTY - Q1)
    assert (full["status"], full["ts"], full["last_qty"], full["last_price"]) == (
        "FILLED",
        D + M + 10_000,
        545_000.0,
        P2,
    )
    assert (full["cum_qty"], full["leaves_qty"]) == (QTY, 0.0)
    avg = (400_000 * 1.2693 + 545_000 * 1.2692) / 945_000  # 1.26924232804...
    assert pair_rows(out)[45] == (400_000.0, 1.2693)
    assert pair_rows(out)[46][0] == 945_000.0
    assert pair_rows(out)[46][1] == pytest.approx(avg, abs=1e-12)
    # marked after the fill of its minute: 400,000 x (mid of minute 45 - 1.2693)
    mid45, mid46 = MID[START + 45 * M], MID[START + 46 * M]
    assert account(out, 45)["equity_usd"] == pytest.approx(INITIAL + 400_000 * (mid45 - 1.2693), abs=1e-6)
    assert account(out, 46)["equity_usd"] == pytest.approx(INITIAL + 945_000 * (mid46 - avg), abs=1e-6)
    assert not out["control"].n

    # the trader's exit order (decided on the book the broker filled) filled by the broker at 1.2701
    ex = rows(out, "orders", action="NEW", leg="exit")[0]
    assert (int(ex["side"]), float(ex["qty"])) == (-1, 945_000.0)
    e_ts = int(ex["ts"]) + 5_000
    exit_fill = {
        "ts": e_ts,
        "client_order_id": ex["client_order_id"],
        "side": -1,
        "order_qty": 945_000.0,
        "last_qty": 945_000.0,
        "last_price": 1.2701,
        "cum_qty": 945_000.0,
    }
    _, out = trade(STAGE, concat([ENTRY_FILLS, reports(exit_fill)]))
    realised = 945_000 * (1.2701 - avg)  # = 945,000 x 0.00085767... = 810.5 USD
    assert realised == pytest.approx(810.5, abs=1e-6)
    (filled,) = rows(out, "fills", client_order_id=ex["client_order_id"], status="FILLED")
    assert filled["realized_pnl_usd"] == pytest.approx(realised, abs=1e-6)
    minute = (e_ts - START) // M
    assert pair_rows(out)[minute] == (0.0, 0.0)
    acct = account(out, minute)
    assert acct["realized_pnl_usd"] == pytest.approx(realised, abs=1e-6)
    assert acct["equity_usd"] == pytest.approx(INITIAL + realised, abs=1e-6)  # flat: equity = cash


def test_a_broker_cancel_removes_the_working_order_with_its_reason() -> None:
    upto = DATA.take(DATA["ts"] <= START + 45 * M)
    plain, _ = trade(STAGE, None, upto)
    assert [o.client_order_id for o in plain.orders] == [COID]
    cancel = {"ts": D + 30_000, "client_order_id": COID, "status": "CANCELLED", "reason": "GTD expired"}
    state, out = trade(STAGE, reports(cancel), upto)
    (rep,) = rows(out, "fills", client_order_id=COID, status="CANCELLED")
    assert (rep["ts"], rep["reason"], rep["leaves_qty"]) == (D + 30_000, "GTD expired", QTY)
    assert not rows(out, "orders", client_order_id=COID, action="CANCEL")  # nothing to send: it is gone
    # the target stands: the router posts a fresh order at the next decision (the expired one is gone)
    (again,) = rows(out, "orders", action="NEW", ts=START + 46 * M)
    assert [o.client_order_id for o in state.orders] == [again["client_order_id"]] != [COID]
    assert (state.pos == 0.0).all()


def test_a_redelivered_report_is_applied_once_also_across_a_restart() -> None:
    _, once = trade(STAGE, ENTRY_FILLS)
    _, twice = trade(STAGE, concat([ENTRY_FILLS, ENTRY_FILLS]))
    for k, v in once.items():
        assert v.equals(twice[k]), k
    head, tail = DATA.take(DATA["ts"] < START + 60 * M), DATA.take(DATA["ts"] >= START + 60 * M)
    state, first = trade(STAGE, ENTRY_FILLS, head)
    state = state_codec.loads(state_codec.dumps(state))  # checkpoint, restart, at-least-once redelivery
    _, second = trade(STAGE, ENTRY_FILLS, tail, state)
    for k, v in once.items():
        assert v.equals(concat([first[k], second[k]])), k
    assert pair_rows(second) == {m: p for m, p in pair_rows(once).items() if m >= 60}


def test_a_fill_that_raced_our_own_cancel_moves_the_position_without_a_halt() -> None:
    stage = _stage(replace_after_min=3)  # the entry is cancelled and re-posted at 48 min
    _, plain = trade(stage, None)
    first, second = rows(plain, "orders", action="NEW")[:2]
    (cancel,) = rows(plain, "orders", action="CANCEL", client_order_id=first["client_order_id"])
    assert cancel["ts"] == second["ts"] == START + 48 * M
    assert cancel["reason"] == "replace"
    late = {
        "ts": START + 48 * M + 200,  # after our cancel left: minute 48
        "client_order_id": first["client_order_id"],
        "order_qty": QTY,
        "last_qty": QTY,
        "last_price": 1.2693,
        "cum_qty": QTY,
    }
    state, out = trade(stage, reports(late))
    assert pair_rows(out)[48] == (QTY, 1.2693)
    assert not out["control"].n
    assert state.control.halted == frozenset()
    (rep,) = rows(out, "fills", client_order_id=first["client_order_id"], status="FILLED")
    assert (rep["last_qty"], rep["last_price"], rep["leg"]) == (QTY, 1.2693, "entry")
    # the position reached the target: the re-posted order is cancelled at the next decision
    (c2,) = rows(out, "orders", action="CANCEL", client_order_id=second["client_order_id"])
    assert (c2["ts"], c2["reason"]) == (START + 49 * M, "target_reached")


def test_the_paper_brokers_fills_fed_back_as_broker_reports_reproduce_the_paper_run() -> None:
    # Second method: the paper broker's fills (report ts = the close of the bar that filled them) given
    # to a broker-mode trader are applied at that same minute through the same accounting, so every
    # output equals the paper run's: orders, fills, portfolio, mark-outs and toxicity alike.
    data = governed(n_min=600, seed=3)
    risk = RiskConfig(cov_min_obs=30)
    paper = TraderStage(TraderConfig(risk=risk))
    live = TraderStage(TraderConfig(risk=risk, execution=ExecutionConfig(fill_source="broker")))
    _, want = run(paper, [("signals.governed", data)])
    fills = want["fills"].take(np.isin(want["fills"]["status"], ["FILLED", "PARTIALLY_FILLED"]))
    assert fills.n > 50
    _, got = run(
        live, [("broker.fills", fills), *(("signals.governed", b) for b in pieces(data, [777, 1500]))]
    )
    for k, v in want.items():
        assert v.equals(got[k]), k


def test_the_dag_declares_broker_fills_an_external_source() -> None:
    from streams.core.fused import FusedStage
    from streams.core.stage import StageSpec
    from streams.dag import EXTERNAL_SOURCES, validate

    class Upstream:
        spec = StageSpec("up", ("bars",), ("signals.governed",))

    validate([Upstream(), STAGE])  # type: ignore[list-item]  # raises if nothing writes broker.fills
    fused = FusedStage([Upstream(), STAGE], EXTERNAL_SOURCES)  # type: ignore[list-item]
    assert fused.spec.inputs == ("bars", "control", "broker.fills")


def test_reconciliation_reads_the_book_the_broker_filled() -> None:
    from streams.binding.book_check import system_book
    from streams.live.reconcile import Book, reconcile
    from streams.live.v20_orders import WorkingOrder

    state, _ = trade(STAGE, ENTRY_FILLS, DATA.take(DATA["ts"] <= START + 45 * M))  # after the partial fill
    price = float(ENTRY["limit_price"])
    from streams.live.v20_orders import OpenTrades

    trades = {"GBPUSD": OpenTrades(Q1, Q1, 0.0, 1, P1)}  # the partial fill opened one trade at P1
    broker = Book({COID: WorkingOrder(COID, "GBPUSD", QTY - Q1, price)}, {"GBPUSD": Q1}, trades=trades)
    mine = system_book(state, STAGE.pairs)
    assert (mine.orders, mine.positions) == (broker.orders, broker.positions)
    assert (mine.avg_prices, mine.as_of) == ({"GBPUSD": P1}, START + 45 * M)  # one fill: its price
    assert reconcile(broker, mine) == []


@pytest.mark.parametrize("coid", ["", "0123456789abcdef0123"])
def test_an_unknown_fill_moves_the_position_and_halts_the_pair(coid: str) -> None:
    fill = {"ts": START + 10 * M + 5_000, "client_order_id": coid, "side": -1, "last_qty": 10_000.0}
    state, out = trade(STAGE, reports({**fill, "last_price": 1.27, "cum_qty": 10_000.0}))
    assert pair_rows(out)[10] == (-10_000.0, 1.27)
    (halt,) = out["control"].to_records()
    assert (halt["action"], halt["pair"], halt["issuer"], halt["ts"]) == (
        "HALT",
        "GBPUSD",
        "execution",
        START + 11 * M,
    )
    assert str(halt["reason"]).startswith("unknown broker fill")
    assert "-10000 units at 1.27" in str(halt["reason"])
    assert state.control.halted == frozenset({"GBPUSD"})
    assert out["orders"].n == 0  # halted: the entry of minute 44 is never placed
    mid10 = MID[START + 10 * M]
    assert account(out, 10)["equity_usd"] == pytest.approx(INITIAL - 10_000 * (mid10 - 1.27), abs=1e-6)


@pytest.mark.parametrize(("ts", "minute"), [(START + 20 * M, 19), (START + 20 * M + 1, 20)])
def test_a_report_is_applied_at_the_first_minute_whose_close_reaches_its_time(ts: int, minute: int) -> None:
    fill = {"ts": ts, "client_order_id": "", "side": 1, "last_qty": 1_000.0, "last_price": 1.27}
    _, out = trade(STAGE, reports(fill))
    assert pair_rows(out) == {minute: (1_000.0, 1.27)}  # not a minute earlier, not later
    mid = MID[START + minute * M]
    assert account(out, minute)["equity_usd"] == pytest.approx(INITIAL + 1_000 * (mid - 1.27), abs=1e-9)
    assert START + (minute - 1) * M not in {int(t) for t in out["portfolio"]["ts"]}  # flat before


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, DATA.n - 1), min_size=1, max_size=20, unique=True))
def test_batch_split_invariance_with_broker_reports(cuts: list[int]) -> None:
    _, whole = trade(STAGE, ENTRY_FILLS)
    _, got = run(
        STAGE, [("broker.fills", ENTRY_FILLS), *(("signals.governed", b) for b in pieces(DATA, cuts))]
    )
    for k, v in whole.items():
        assert v.equals(got[k]), k


def test_every_run_mode_and_the_inprocess_runner_give_the_same(runner: Runner) -> None:
    _, whole = trade(STAGE, ENTRY_FILLS)
    assert rows(whole, "fills", status="FILLED")
    _, got = runner(STAGE, [("broker.fills", ENTRY_FILLS), ("signals.governed", DATA)])
    for k, v in whole.items():
        assert same(v, got[k]), k
    replay = run_inprocess([STAGE], {"signals.governed": DATA, "broker.fills": ENTRY_FILLS}, chunk=37)
    for k, v in whole.items():
        assert v.equals(replay[k]), k


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pair": "XYZABC"}, "unknown pair"),
        ({"pair": "USDJPY"}, "not traded"),
        ({"status": "EXPIRED"}, "status 'EXPIRED'"),
        ({"last_qty": 0.0}, "last_qty > 0"),
        ({"side": 0}, "side 0"),
    ],
)
def test_a_bad_report_is_refused_with_its_reason(change: dict[str, object], message: str) -> None:
    bad = {"ts": START, "client_order_id": "x", "last_qty": 1_000.0, "last_price": 1.27, **change}
    with pytest.raises(ValueError, match="broker report x") as err:
        STAGE.process(STAGE.initial_state(), "broker.fills", reports(bad))
    assert message in str(err.value)


def test_a_paper_trader_refuses_broker_reports_with_a_reason() -> None:
    paper = TraderStage(TraderConfig(portfolio=PortfolioConfig(pairs=("GBPUSD",))))
    assert "broker.fills" not in paper.spec.inputs
    fill = {"ts": START, "client_order_id": "x", "last_qty": 1_000.0, "last_price": 1.27}
    with pytest.raises(ValueError, match='fill_source = "broker"'):
        paper.process(paper.initial_state(), "broker.fills", reports(fill))


def test_commission_and_financing_move_cash_by_hand() -> None:
    costly = ENTRY_FILLS.to_records()
    costly[0] = {**costly[0], "commission_usd": 12.5, "financing_usd": -0.75, "half_spread_cost_usd": 3.2}
    daily = {"ts": START + 50 * M + 5_000, "status": "FINANCING", "side": 0, "financing_usd": -4.1}
    _, plain = trade(STAGE, ENTRY_FILLS)
    _, out = trade(STAGE, reports(*costly, daily))
    fill = rows(out, "fills", client_order_id=COID, status="PARTIALLY_FILLED")[0]
    assert (fill["commission_usd"], fill["financing_usd"], fill["half_spread_cost_usd"]) == (12.5, -0.75, 3.2)
    assert rows(plain, "fills", client_order_id=COID, status="FILLED")[0]["commission_usd"] == 0.0
    assert not rows(out, "fills", status="FINANCING")  # cash only: no order event
    for minute, cost in ((45, -13.25), (49, -13.25), (50, -17.35), (60, -17.35)):
        a, b = account(plain, minute), account(out, minute)
        assert b["position_units"] == a["position_units"]
        assert b["realized_pnl_usd"] - a["realized_pnl_usd"] == pytest.approx(cost, abs=1e-6), minute
        assert b["equity_usd"] - a["equity_usd"] == pytest.approx(cost, abs=1e-6), minute


def test_old_records_without_costs_and_bad_costs() -> None:
    from streams.stages.trader.execution.report_queue import parse

    (r,) = parse(reports({"ts": START, "last_qty": 1.0, "last_price": 1.3}), {"GBPUSD": 0})
    assert (r.commission_usd, r.financing_usd, r.half_spread_cost_usd) == (0.0, 0.0, 0.0)
    bad = reports({"ts": START, "status": "FINANCING", "side": 0, "financing_usd": float("inf")})
    with pytest.raises(ValueError, match="costs .* are not all finite"):
        parse(bad, {"GBPUSD": 0})

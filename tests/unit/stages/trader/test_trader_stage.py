from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import state_codec
from streams.core.batch import Batch, concat
from streams.serde.avro import AvroCodec
from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.risk.config import RiskConfig
from streams.stages.trader.stage import TraderConfig, TraderStage
from tests.kit.control import CONTROL_KEY, signed
from tests.kit.governed import START, governed
from tests.kit.runner import Runner, run, same

CFG = TraderConfig(risk=RiskConfig(cov_min_obs=30))
STAGE = TraderStage(CFG, control_key=CONTROL_KEY)
DATA = governed(n_min=500, seed=3)
SCHEMAS = {
    "risk.targets": "risk_target",
    "orders": "order",
    "fills": "execution_report",
    "portfolio": "portfolio",
    "control": "control",
}


def _trade(stage: TraderStage, batches: list[Batch], state=None, control: Batch | None = None):
    inputs = [("control", control)] if control is not None else []
    return run(stage, [*inputs, *(("signals.governed", b) for b in batches)], state)


def _control(*rows: tuple[str, int, str]) -> Batch:
    recs = [
        {
            "command_id": f"{i}:{a}:{t}",
            "ts": t,
            "action": a,
            "scale": 1.0,
            "pair": "",
            "issuer": i,
            "reason": "test",
        }
        for a, t, i in rows
    ]
    recs = [signed(r) if r["issuer"] == "operator" else {**r, "signature": ""} for r in recs]
    return Batch(
        {
            "command_id": np.array([r["command_id"] for r in recs]),
            "ts": np.array([r["ts"] for r in recs], dtype=np.int64),
            "action": np.array([r["action"] for r in recs]),
            "scale": np.ones(len(rows)),
            "pair": np.array([""] * len(rows)),
            "issuer": np.array([r["issuer"] for r in recs]),
            "reason": np.array(["test"] * len(rows)),
            "signature": np.array([r["signature"] for r in recs]),
        }
    )


FULL_STATE, FULL = _trade(STAGE, [DATA])


def test_the_scenario_trades() -> None:
    status = FULL["fills"]["status"].tolist()
    assert status.count("FILLED") > 20
    assert status.count("NEW") > 20
    assert "CANCELLED" in status
    assert set(FULL["risk.targets"]["reason"]) >= {"entry", "exit_time", "exit_regime"}


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, DATA.n - 1), min_size=1, max_size=30, unique=True))
def test_batch_split_invariance(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), DATA.n]
    _, got = _trade(STAGE, [DATA.take(slice(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    for k, v in FULL.items():
        assert v.equals(got[k]), k


def test_every_run_mode_gives_the_outputs_of_one_batch(runner: Runner) -> None:
    data = governed(n_min=150, seed=4, pass_prob=0.5)
    _, whole = _trade(STAGE, [data])
    assert whole["fills"].n > 0
    _, got = runner(STAGE, [("signals.governed", data)])
    for k, v in whole.items():
        assert same(v, got[k]), k


def test_every_output_encodes_with_its_schema() -> None:
    for key, stem in SCHEMAS.items():
        codec = AvroCodec(stem)
        batch = (
            FULL[key]
            if FULL[key].n
            else _trade(STAGE, [DATA], control=_control(("KILL", START, "operator")))[1][key]
        )
        msgs = codec.encode_batch(batch)
        assert len(msgs) == batch.n
        if msgs:
            assert set(codec.decode(msgs[0])) == set(codec.fields)


def test_limit_prices_strictly_inside_the_spread() -> None:
    new = FULL["orders"].take(FULL["orders"]["action"] == "NEW")
    assert new.n > 20
    assert ((new["bid"] < new["limit_price"]) & (new["limit_price"] < new["ask"])).all()


def test_deterministic_ids_and_replay_creates_no_order() -> None:
    _, again = _trade(STAGE, [DATA])
    assert again["orders"]["client_order_id"].tolist() == FULL["orders"]["client_order_id"].tolist()
    new_ids = FULL["orders"]["client_order_id"][FULL["orders"]["action"] == "NEW"]
    assert len(set(new_ids.tolist())) == len(new_ids)  # one id per decision
    _, replay = _trade(STAGE, [DATA], state=FULL_STATE)  # the same records again (redelivery)
    assert replay["orders"].n == 0
    assert replay["fills"].n == 0


def test_fills_only_on_bars_after_the_decision() -> None:
    f = FULL["fills"]
    acks = {c: t for c, t, s in zip(f["client_order_id"], f["ts"], f["status"], strict=True) if s == "NEW"}
    for c, t, s in zip(f["client_order_id"], f["ts"], f["status"], strict=True):
        if s in ("FILLED", "PARTIALLY_FILLED"):
            assert t >= acks[c] + 60_000


def test_realised_pnl_reconciles_with_fills_and_equity() -> None:
    s = FULL_STATE
    assert s.realized_usd == pytest.approx(float(FULL["fills"]["realized_pnl_usd"].sum()), abs=1e-6)
    acct = FULL["portfolio"].take(FULL["portfolio"]["pair"] == "")
    assert (acct["equity_usd"] <= acct["hwm_usd"]).all()
    assert s.hwm == pytest.approx(max(1e6, float(acct["equity_usd"].max())))
    # position per pair == signed sum of fills
    f = FULL["fills"]
    filled = np.isin(f["status"], ["FILLED", "PARTIALLY_FILLED"])
    for j, p in enumerate(STAGE.pairs):
        m = filled & (f["pair"] == p)
        assert s.pos[j] == pytest.approx(float((f["side"][m] * f["last_qty"][m]).sum()))


def test_hwm_and_book_survive_a_restart() -> None:
    half = DATA.n // 2
    s1, a = _trade(STAGE, [DATA.take(slice(0, half))])
    restored = state_codec.loads(state_codec.dumps(s1))
    assert restored.hwm == s1.hwm
    assert restored.hwm > 1e6
    _, b = _trade(STAGE, [DATA.take(slice(half, DATA.n))], state=restored)
    for k, v in FULL.items():
        assert v.equals(concat([a[k], b[k]]) if a[k].n or b[k].n else v), k


def _working_at(after: int) -> int:
    """A decision time after ``after`` at which the uninterrupted run has an order working."""
    f = FULL["fills"]
    for c, t, s in zip(f["client_order_id"], f["ts"], f["status"], strict=True):
        end = f["ts"][(f["client_order_id"] == c) & (f["status"] != "NEW")]
        if s == "NEW" and t > after and len(end) and end.min() > t + 60_000:
            return int(t) + 60_000
    raise AssertionError("no order stays working for two bars")


def test_kill_switch_blocks_cancels_persists_and_needs_operator_resume() -> None:
    kill_ts = _working_at(START + 120 * 60_000)
    gov_resume = START + 200 * 60_000
    op_resume = START + 300 * 60_000
    ctrl = _control(("KILL", kill_ts, "operator"), ("RESUME", gov_resume, "governance"))
    half = DATA.n // 2
    s1, a = _trade(STAGE, [DATA.take(slice(0, half))], control=ctrl)
    s1 = state_codec.loads(state_codec.dumps(s1))  # restart in the middle of the kill
    assert s1.control.killed
    s2, _ = STAGE.process(s1, "control", _control(("RESUME", op_resume, "operator")))
    _, b = _trade(STAGE, [DATA.take(slice(half, DATA.n))], state=s2)
    f, o = concat([a["fills"], b["fills"]]), concat([a["orders"], b["orders"]])
    d = kill_ts  # decisions are timed at bar closes: the kill applies at the minute closing at kill_ts
    cancels = f.take((f["status"] == "CANCELLED") & (f["ts"] == d))
    assert cancels.n >= 1
    assert set(cancels["reason"]) == {"kill_switch"}
    new = o.take(o["action"] == "NEW")
    assert not ((new["ts"] >= d) & (new["ts"] < op_resume)).any()  # governance RESUME did not clear it
    assert (new["ts"] >= op_resume).any()
    acct = concat([a["portfolio"], b["portfolio"]])
    assert acct["kill_active"][(acct["ts"] >= d) & (acct["ts"] < op_resume - 60_000)].all()


def test_toxic_fills_fire_the_kill_switch() -> None:
    # Any mark-out below +50 bps is "toxic": the 5-minute mark-outs of the first 3 fills trip it.
    cfg = TraderConfig(
        risk=RiskConfig(cov_min_obs=30),
        execution=ExecutionConfig(toxicity_window=3, toxicity_threshold_bps=50.0),
    )
    stage = TraderStage(cfg)
    _, out = _trade(stage, [DATA])
    ctrl = out["control"]
    assert ctrl.n == 1
    assert ctrl["action"][0] == "KILL"
    assert ctrl["issuer"][0] == "execution"
    assert "toxicity" in ctrl["reason"][0]
    t = int(ctrl["ts"][0])
    fills = out["fills"]
    fill_times = sorted(
        fills["ts"][np.isin(fills["status"], ["FILLED", "PARTIALLY_FILLED"]) & (fills["ts"] < t)]
    )
    assert len(fill_times) >= 3
    o = out["orders"]
    assert not ((o["action"] == "NEW") & (o["ts"] >= t)).any()
    # identical when split per record around the kill
    _, split = _trade(stage, [DATA.take(slice(i, i + 97)) for i in range(0, DATA.n, 97)])
    assert split["control"].equals(ctrl)
    assert split["orders"].equals(o)


def test_stale_input_pauses_entries_then_resumes_by_itself() -> None:
    # a feed gap used to latch the kill switch, which nothing clears in a backtest: real HistData years
    # hold 3-4 such gaps, so every long backtest stopped trading for good at the first one
    data = DATA.take((DATA["ts"] < START + 100 * 60_000) | (DATA["ts"] >= START + 140 * 60_000))
    _, out = _trade(STAGE, [data])
    ctrl = out["control"]
    assert ctrl.n == 1
    assert ctrl["action"][0] == "NONE"  # a notice: it changes no one's state
    assert "stale input" in ctrl["reason"][0]
    t = int(ctrl["ts"][0])
    assert t == START + 141 * 60_000  # detected at the first bar after the gap
    pause_end = t + ExecutionConfig().stale_pause_min * 60_000
    o = out["orders"]
    new = o["ts"][(o["action"] == "NEW") & (o["leg"] != "exit")]  # exits continue during the pause
    assert not ((new >= t) & (new < pause_end)).any()
    assert (new >= pause_end).any()  # resumed without an operator
    assert not out["control"]["action"].tolist().count("KILL")
    # the same outputs when the batch is split per record around the gap
    _, split = _trade(STAGE, [data.take(slice(i, i + 97)) for i in range(0, data.n, 97)])
    assert split["orders"].equals(o)
    cfg = TraderConfig(risk=RiskConfig(cov_min_obs=30), execution=ExecutionConfig(stale_after_min=60))
    assert _trade(TraderStage(cfg), [data])[1]["control"].n == 0


def test_summer_friday_close_is_not_a_stale_gap() -> None:
    # US summer time: the FX week closes Friday 17:00 New York = 21:00 UTC and opens Sunday 21:00 UTC,
    # so bars until Friday 20:59 and again from Sunday 21:00 leave no open minute missing.
    fri_19h = 1_562_353_200_000  # Friday 2019-07-05 19:00 UTC
    data = governed(n_min=2 * 60 + 48 * 60 + 2 * 60, seed=5, start=fri_19h)
    closed = (data["ts"] >= fri_19h + 2 * 3_600_000) & (data["ts"] < fri_19h + 50 * 3_600_000)
    _, out = _trade(STAGE, [data.take(~closed)])
    assert out["control"].n == 0
    assert out["orders"].n > 0
    assert (out["orders"]["ts"] > fri_19h + 50 * 3_600_000).any()


def test_limits_reject_with_reasons_in_the_stage() -> None:
    cfg = TraderConfig(
        risk=RiskConfig(cov_min_obs=30, max_order_usd=5e6, max_position_usd=5e6, max_gross_usd=2.0e6)
    )
    _, out = _trade(TraderStage(cfg), [DATA])
    rej = out["fills"].take(out["fills"]["status"] == "REJECTED")
    assert rej.n >= 1
    assert all(r.startswith("max_gross") for r in rej["reason"])
    new = out["orders"].take((out["orders"]["reason"] != "") & (out["orders"]["action"] == "NEW"))
    assert set(new["client_order_id"]) == set(rej["client_order_id"])


def test_time_exit_after_half_lives_and_regime_exit() -> None:
    t = FULL["risk.targets"]
    entries = t.take(t["reason"] == "entry")
    exits = t.take(t["reason"] == "exit_time")
    assert exits.n > 0
    hl_ms = 2.0 * np.log(2) / 0.05 * 60_000  # exit_half_lives x half-life of the factory's OU
    for p, ts in zip(exits["pair"], exits["ts"], strict=True):
        prior = entries["ts"][(entries["pair"] == p) & (entries["ts"] < ts)]
        # exit due = entry decision time (bar close) + 2 half-lives; it fires on the first bar at/after
        assert prior.max() + 60_000 + round(hl_ms) <= ts < prior.max() + 60_000 + round(hl_ms) + 5 * 60_000
    out = t.take(np.isin(t["reason"], ["exit_time", "exit_regime", "exit_gov"]))
    assert out.n > 0
    assert (out["target_units"] == 0.0).all()


PAIRS4 = ("EURGBP", "EURUSD", "GBPUSD", "USDJPY")
EAGER = TraderStage(CFG, expected_pairs=PAIRS4)


# one record of a later minute (one pair: an incomplete minute, pending for both rules) so that the
# stage that always waits for a later minute also decides DATA's last minute
_LAST = DATA.take(slice(DATA.n - 1, DATA.n))
SENTINEL = concat([DATA, _LAST.with_columns(ts=_LAST["ts"] + 60_000)])
_, WAITING = _trade(STAGE, [SENTINEL])


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(1, SENTINEL.n - 1), min_size=1, max_size=30, unique=True))
def test_complete_minutes_decided_eagerly_give_the_same_outputs_under_any_split(cuts: list[int]) -> None:
    # the reference is the stage that always waits for a later minute: deciding a complete minute on its
    # last bar changes when the outputs leave, never what they are
    edges = [0, *sorted(cuts), SENTINEL.n]
    _, got = _trade(EAGER, [SENTINEL.take(slice(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    assert WAITING["orders"].n > 20
    for k, v in WAITING.items():
        assert v.equals(got[k]), k


def test_a_complete_minute_is_decided_on_its_last_bar_and_a_gappy_one_on_the_next_minute() -> None:
    state = EAGER.initial_state()
    decided_at: dict[int, int] = {}  # decided minute -> index of the record whose arrival decided it
    for i in range(DATA.n):
        before = state.last_ts
        state, _ = EAGER.process(state, "signals.governed", DATA.take(slice(i, i + 1)))
        if state.last_ts != before:
            decided_at[int(state.last_ts)] = i
    ts, pair = DATA["ts"], DATA["pair"]
    minutes = np.unique(ts)[:-1]
    complete = [m for m in minutes if set(pair[ts == m]) == set(PAIRS4)]
    gappy = [m for m in minutes if set(pair[ts == m]) != set(PAIRS4)]
    assert len(complete) > 300
    assert len(gappy) > 10
    for m in complete:  # decided by its own last record
        assert decided_at[m] == int(np.flatnonzero(ts == m)[-1]), m
    for m in gappy:  # a pair is missing: decided when the first record of a later minute arrives
        assert decided_at[m] == int(np.flatnonzero(ts > m)[0]), m


def test_a_watermark_decides_a_gappy_minute_at_its_close_with_the_same_outputs() -> None:
    state, parts = EAGER.initial_state(), {}
    ts = SENTINEL["ts"]
    decided_by_watermark = 0
    for m in np.unique(ts):  # a live gateway: each minute's bars, then its watermark
        state, out = EAGER.process(state, "signals.governed", SENTINEL.take(ts == m))
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
        if m == ts[-1]:
            break  # the sentinel minute stays pending, as in the reference
        before = state.last_ts
        state, out = EAGER.on_watermark(state, int(m))
        decided_by_watermark += state.last_ts != before
        assert state.last_ts == m  # every minute is decided at its own close
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
    assert decided_by_watermark > 10  # the gappy minutes (the factory drops 2% of the bars)
    for k, v in WAITING.items():
        assert v.equals(concat(parts[k])), k
    assert EAGER.on_watermark(state, int(ts[-1]) - 1) == (state, {})  # nothing that old is pending


def _one(action: str, ts: int, pair: str = "", issuer: str = "operator", sign: bool = True) -> Batch:
    rec = {
        "command_id": f"{issuer}:{action}:{pair or 'ALL'}:{ts}:{ts}",
        "ts": ts,
        "action": action,
        "scale": 1.0,
    }
    rec = {**rec, "pair": pair, "issuer": issuer, "reason": "test", "signature": ""}
    rec = signed({k: v for k, v in rec.items() if k != "signature"}) if sign else rec
    return Batch.from_records([rec], list(rec))


def test_forged_or_unsigned_resume_is_rejected_with_a_reason() -> None:
    # issue 11 #4: the kill switch trusted a free-text issuer == "operator" that any producer can write.
    from streams.core.control_auth import ControlRejected

    s, _ = STAGE.process(STAGE.initial_state(), "control", _one("KILL", START, issuer="watchdog"))
    for bad in (
        _one("RESUME", START + 1, sign=False),
        _one("RESUME", START + 1, issuer="governance-ish", sign=False),
    ):
        with pytest.raises(ControlRejected, match="not authenticated"):
            STAGE.process(s, "control", bad)
    keyless = TraderStage(CFG)  # no key configured: nothing can clear a KILL
    with pytest.raises(ControlRejected, match="no control key configured"):
        keyless.process(s, "control", _one("RESUME", START + 1))
    s2, _ = STAGE.process(s, "control", _one("RESUME", START + 1))
    assert s2.control.queue[-1].authenticated


def test_a_signed_resume_replayed_after_a_thousand_commands_does_not_clear_a_later_kill() -> None:
    # issue 11: replay protection held only the last 1,000 applied ids; a captured signed RESUME written
    # back after them cleared whatever KILL was active. The signing time's high-water is checkpointed.
    from streams.core.control_auth import ControlRejected, operator_command

    resume = operator_command("RESUME", "", START + 1, "ok", 1, CONTROL_KEY)
    halts = [operator_command("HALT", "GBPUSD", START + 2, "x", 1 + i, CONTROL_KEY) for i in range(1, 1002)]
    s, _ = STAGE.process(STAGE.initial_state(), "control", Batch.from_records([resume, *halts], list(resume)))
    s, _ = STAGE.process(s, "signals.governed", DATA.take(slice(0, 40)))  # all applied: 1,002 ids
    assert resume["command_id"] not in s.control.seen
    s, _ = STAGE.process(s, "control", _one("KILL", START + 50 * 60_000, issuer="watchdog"))
    s = state_codec.loads(state_codec.dumps(s))  # a restart between capture and replay
    with pytest.raises(ControlRejected, match="replay ignored"):
        STAGE.process(s, "control", Batch.from_records([resume], list(resume)))
    later = operator_command("RESUME", "", START + 60 * 60_000, "ok", 2_000, CONTROL_KEY)
    s2, _ = STAGE.process(s, "control", Batch.from_records([later], list(later)))  # a fresh one is taken
    assert s2.control.high_water == (("operator", 2_000),)


def test_a_signed_command_due_long_before_the_stream_is_refused() -> None:
    from streams.core.control_auth import ControlRejected

    s, _ = STAGE.process(STAGE.initial_state(), "signals.governed", DATA.take(slice(0, 2 * 200)))
    assert s.last_ts > START + 61 * 60_000
    with pytest.raises(ControlRejected, match="stale or replayed"):
        STAGE.process(s, "control", _one("RESUME", START))


@pytest.mark.parametrize("spelling", ["eurusd", "EUR/USD", "eur_usd", " EURUSD "])
def test_halt_pair_spellings_are_normalised(spelling: str) -> None:
    # issue 11 #3: `hslr halt --pair eurusd` / "EUR/USD" published a HALT that matched nothing.
    s, _ = STAGE.process(STAGE.initial_state(), "control", _one("HALT", START, pair=spelling))
    s, _ = STAGE.process(s, "signals.governed", DATA.take(slice(0, 40)))
    assert s.control.halted == frozenset({"EURUSD"})


def test_unknown_pair_in_a_command_is_rejected() -> None:
    from streams.core.control_auth import ControlRejected

    with pytest.raises(ControlRejected, match="unknown pair 'XXXYYY'"):
        STAGE.process(STAGE.initial_state(), "control", _one("HALT", START, pair="XXXYYY"))


def test_a_next_event_command_applies_at_the_next_decision_of_a_replay() -> None:
    # issue 11 #3: a wall-clock HALT never became due in a replay's event time; ts 0 means "next event".
    s, _ = STAGE.process(STAGE.initial_state(), "control", _one("HALT", 0))
    s, _ = STAGE.process(s, "signals.governed", DATA.take(slice(0, 40)))
    assert s.control.halted == frozenset({""})


def test_order_rate_and_collar_reject_in_the_order_path_with_reasons() -> None:
    base = STAGE.process(STAGE.initial_state(), "signals.governed", DATA)[1]
    sent_per_min = np.unique(base["orders"]["ts"][base["orders"]["action"] == "NEW"], return_counts=True)[1]
    assert sent_per_min.max() >= 2  # the fixture sends several orders in some minute
    cfg = CFG.model_copy(update={"risk": CFG.risk.model_copy(update={"max_orders_per_min": 1})})
    _, out = TraderStage(cfg).process(TraderStage(cfg).initial_state(), "signals.governed", DATA)
    rej = out["fills"].take(out["fills"]["status"] == "REJECTED")
    assert rej.n > 0
    assert all(r.startswith("max_order_rate: ") for r in rej["reason"])
    accepted = out["fills"].take(out["fills"]["status"] == "NEW")
    per_min = np.unique(accepted["ts"], return_counts=True)[1]
    assert per_min.max() == 1


def test_an_operator_halt_survives_the_feeds_own_resume() -> None:
    from streams.core.control_auth import ControlRejected, operator_command

    m = 60_000
    feed_halt = operator_command("HALT", "", START + 5 * m, "silent", START + 5 * m, None, "live-feed")
    feed_resume = operator_command(
        "RESUME", "", START + 9 * m, "flowing", START + 9 * m, CONTROL_KEY, "live-feed"
    )
    op_halt = operator_command("HALT", "", START + 7 * m, "hands off", START + 7 * m, None)

    def orders_after(*recs: dict[str, object]) -> tuple[bool, int]:
        s, _ = STAGE.process(STAGE.initial_state(), "control", Batch.from_records(list(recs), list(recs[0])))
        s, out = STAGE.process(s, "signals.governed", DATA)
        new = out["orders"].take(out["orders"]["action"] == "NEW") if "orders" in out else None
        return s.control.blocks_all("GBPUSD"), 0 if new is None else int((new["ts"] > START + 9 * m).sum())

    assert orders_after(feed_halt)[0]  # the feed's halt alone blocks
    resumed, n_resumed = orders_after(feed_halt, feed_resume)
    held, n_held = orders_after(feed_halt, op_halt, feed_resume)
    assert (resumed, held) == (False, True)
    assert n_held == 0 < n_resumed  # the operator's halt still stops new orders after the feed resumed
    with pytest.raises(ControlRejected, match="not authenticated"):  # an unsigned feed resume is refused
        STAGE.process(STAGE.initial_state(), "control", _one("RESUME", START, issuer="live-feed", sign=False))

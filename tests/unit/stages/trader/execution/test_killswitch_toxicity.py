from __future__ import annotations

import pytest

from streams.stages.trader.execution.config import ExecutionConfig
from streams.stages.trader.execution.killswitch import (
    Command,
    ControlState,
    apply,
    apply_due,
    enqueue,
    stale_gap,
)
from streams.stages.trader.execution.toxicity import is_toxic, markout_bps, push, schedule

MON = 1_704_672_000_000  # Monday 2024-01-08 00:00 UTC
FRI_21H = MON + 4 * 86_400_000 + 21 * 3_600_000


def _cmd(action: str, issuer: str = "operator", ts: int = 0, pair: str = "", scale: float = 1.0) -> Command:
    cid = f"{issuer}:{action}:{ts}:{pair}"
    return Command(cid, ts, action, scale, pair, issuer, "test", authenticated=issuer == "operator")


def test_kill_cleared_only_by_operator_resume() -> None:
    cs = apply(ControlState(), _cmd("KILL", "execution"))
    assert cs.killed
    assert cs.blocks_all("EURUSD")
    cs = apply(cs, _cmd("RESUME", "governance", ts=1))
    assert cs.killed
    cs = apply(cs, _cmd("RESUME", "operator", ts=2))
    assert not cs.killed
    assert not cs.blocks_all("EURUSD")


def test_commands_scope_and_idempotence() -> None:
    cs = apply(ControlState(), _cmd("SUSPEND", "governance", pair="EURUSD"))
    assert cs.blocks_entries("EURUSD")
    assert not cs.blocks_entries("GBPUSD")
    assert not cs.blocks_all("EURUSD")
    cs = apply(cs, _cmd("REDUCE", "governance", ts=1, scale=0.5))
    assert cs.alloc("GBPUSD") == 0.5
    again = apply(cs, _cmd("REDUCE", "governance", ts=1, scale=0.5))
    assert again == cs  # same command id: applied once
    cs = apply(cs, _cmd("RESUME", "governance", ts=3))  # not authenticated: nothing cleared
    assert cs.alloc("GBPUSD") == 0.5
    assert cs.blocks_entries("EURUSD")
    cs = apply(cs, _cmd("RESUME", "operator", ts=3))
    assert cs.alloc("GBPUSD") == 1.0
    assert not cs.blocks_entries("EURUSD")


def test_pair_resume_never_clears_the_kill_switch_or_a_global_halt() -> None:
    # issue 11 #4: KILL, then RESUME with pair=GBPUSD made every pair trade again.
    cs = apply(ControlState(), _cmd("KILL", "watchdog"))
    cs = apply(cs, _cmd("HALT", "binding:edge", ts=1))
    cs = apply(cs, _cmd("HALT", "operator", ts=2, pair="EURUSD"))
    cs = apply(cs, _cmd("HALT", "operator", ts=2, pair="GBPUSD"))
    cs = apply(cs, _cmd("RESUME", "operator", ts=3, pair="GBPUSD"))
    assert cs.killed
    assert cs.halted == frozenset({"", "EURUSD"})
    assert cs.blocks_all("GBPUSD")
    assert cs.blocks_all("USDJPY")
    cs = apply(cs, _cmd("RESUME", "operator", ts=4))
    assert not cs.killed
    assert cs.halted == frozenset()


def test_unauthenticated_resume_clears_nothing() -> None:
    cs = apply(ControlState(), _cmd("HALT", "operator", pair="EURUSD"))
    forged = Command("x:RESUME:1", 1, "RESUME", 1.0, "EURUSD", "operator", "forged", authenticated=False)
    assert apply(cs, forged).halted == frozenset({"EURUSD"})


def test_queue_applies_by_event_time() -> None:
    cs = enqueue(ControlState(), [_cmd("HALT", "governance", ts=500), _cmd("KILL", "operator", ts=100)])
    cs = apply_due(cs, 100)
    assert cs.killed
    assert not cs.halted
    assert len(cs.queue) == 1
    assert apply_due(cs, 500).halted == frozenset({""})


def test_stale_gap_counts_only_open_market_minutes() -> None:
    assert not stale_gap(MON + 3_600_000, MON + 3_600_000 + 31 * 60_000, 30)  # 30 missing minutes
    assert stale_gap(MON + 3_600_000, MON + 3_600_000 + 32 * 60_000, 30)  # 31 missing
    # Friday 21:00 -> Sunday 22:10: only 59 + 10 open minutes are missing (< 100)
    assert not stale_gap(FRI_21H, FRI_21H + 49 * 3_600_000 + 10 * 60_000, 100)
    assert not stale_gap(-1, MON, 30)


def test_stale_gap_follows_new_york_hours() -> None:
    # summer: last bar Friday 2019-07-05 20:59 UTC, next Sunday 21:00 UTC (17:00 New York): no gap
    fri, sun = 1_562_360_340_000, 1_562_533_200_000
    assert not stale_gap(fri, sun, 30)
    # winter: Friday 2024-01-12 21:00 UTC is 16:00 New York, so 21:00-22:00 UTC is open
    assert stale_gap(FRI_21H, FRI_21H + 49 * 3_600_000, 30)


def test_markouts_and_toxicity_window() -> None:
    cfg = ExecutionConfig(toxicity_window=3, toxicity_threshold_bps=-2.0)
    assert [m.due_ts for m in schedule(0, 0, 1, 1.25, cfg)] == [60_000, 300_000, 900_000]
    # buy at 1.25, mid 1.2496875 one minute later: (1.2496875 - 1.25) / 1.25 * 1e4 = -2.5 bps
    assert markout_bps(1, 1.25, 1.2496875) == pytest.approx(-2.5, abs=1e-9)
    assert markout_bps(-1, 1.25, 1.2496875) == pytest.approx(2.5, abs=1e-9)
    w: tuple[float, ...] = ()
    for v in (-2.5, -2.5):
        w = push(w, v, 3)
        assert not is_toxic(w, cfg)  # window not yet full
    w = push(w, -2.5, 3)
    assert is_toxic(w, cfg)
    w = push(w, 4.0, 3)  # mean (-2.5 - 2.5 + 4) / 3 = -0.33 > -2
    assert not is_toxic(w, cfg)
    assert not is_toxic((-2.0, -2.0, -2.0), cfg)  # strictly below the threshold


def test_the_feed_resumes_its_own_halt_only() -> None:
    feed_halt, feed_resume = _cmd("HALT", "live-feed", ts=1), _cmd("RESUME", "live-feed", ts=5)
    feed_resume = Command(
        feed_resume.command_id, 5, "RESUME", 1.0, "", "live-feed", "flowing", authenticated=True
    )
    cs = apply(ControlState(), feed_halt)
    assert (cs.halted, cs.halted_by) == (frozenset(), frozenset({("live-feed", "")}))
    assert cs.blocks_all("GBPUSD")
    assert not apply(cs, feed_resume).blocks_all("GBPUSD")  # its own halt alone: trading again
    # an operator's, reconcile's and execution's halts and the kill switch all survive the feed's resume
    for other in (
        _cmd("HALT", "operator", ts=2),
        _cmd("HALT", "reconcile", ts=2),
        _cmd("HALT", "execution", ts=2, pair="GBPUSD"),
        _cmd("KILL", "watchdog", ts=2),
    ):
        after = apply(apply(cs, other), feed_resume)
        assert after.blocks_all("GBPUSD"), other.issuer
        assert after.halted_by == frozenset()
    unsigned = Command(
        "live-feed:RESUME:ALL:6:6", 6, "RESUME", 1.0, "", "live-feed", "forged", authenticated=False
    )
    assert apply(cs, unsigned).blocks_all("GBPUSD")
    assert not apply(cs, _cmd("RESUME", "operator", ts=7)).blocks_all("GBPUSD")  # the operator clears it too
    pair_only = apply(cs, _cmd("RESUME", "operator", ts=7, pair="GBPUSD"))
    assert pair_only.blocks_all("GBPUSD")  # a pair resume never clears a global halt

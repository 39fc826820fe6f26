"""Watchdog decision rules (pure): fail-safe KILL, HALT on errors/dead letters/lag, market hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.binding.health import HealthConfig, HealthInputs, decide
from streams.fx.hours import is_open_at

WED = datetime(2020, 3, 18, 12, 0, tzinfo=UTC).timestamp()
SAT = datetime(2020, 3, 21, 12, 0, tzinfo=UTC).timestamp()


def fresh(now: float, **kw) -> HealthInputs:
    return HealthInputs(now, True, "", {"edge": now - 10}, {"edge": now - 3}, **kw)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2020, 3, 22, 20, 59, tzinfo=UTC), False),
        (datetime(2020, 3, 22, 22, 0, tzinfo=UTC), True),
        (datetime(2020, 3, 20, 20, 59, tzinfo=UTC), True),
        (datetime(2020, 3, 20, 21, 0, tzinfo=UTC), False),  # US summer time since 8 March
        (datetime(2020, 3, 6, 21, 30, tzinfo=UTC), True),  # winter: open until 22:00 UTC
        (datetime(2020, 3, 22, 21, 30, tzinfo=UTC), True),  # summer Sunday: open from 21:00 UTC
        (datetime(2020, 3, 21, 12, 0, tzinfo=UTC), False),
        (datetime(2020, 3, 18, 3, 0, tzinfo=UTC), True),
    ],
)
def test_market_hours(when: datetime, expected: bool) -> None:
    assert is_open_at(when.timestamp()) is expected


def test_unreachable_or_empty_prometheus_kills() -> None:
    assert decide(HealthInputs(WED, reachable=False, error="connection refused")).action == "KILL"
    assert decide(HealthInputs(WED)).action == "KILL"  # reachable but no stage metrics
    assert decide(HealthInputs(SAT)).action == "KILL"  # blind is blind, market open or not


def test_healthy_is_none_and_stale_scrapes_kill() -> None:
    assert decide(fresh(WED)).action == "NONE"
    stale = HealthInputs(WED, True, "", {"edge": WED - 10}, {"edge": WED - 61})
    assert decide(stale).action == "KILL"
    assert decide(stale, HealthConfig(max_data_age_s=120)).action == "NONE"


def test_stale_last_event_kills_only_while_market_open() -> None:
    old = {"edge": WED - 301}
    assert decide(HealthInputs(WED, True, "", old, {"edge": WED - 2})).action == "KILL"
    assert decide(HealthInputs(SAT, True, "", {"edge": SAT - 301}, {"edge": SAT - 2})).action == "NONE"
    assert decide(HealthInputs(WED, True, "", {"edge": WED - 299}, {"edge": WED - 2})).action == "NONE"


def test_errors_dead_letters_and_lag_halt() -> None:
    assert decide(fresh(WED, errors={"edge": 0.0})).action == "NONE"
    d = decide(fresh(WED, errors={"edge": 2.0}, dead_letters={"market": 1.0}))
    assert d.action == "HALT"
    assert len(d.reasons) == 2
    assert decide(fresh(WED, lag={"edge": 10_001.0})).action == "HALT"
    assert decide(fresh(WED, lag={"edge": 10_000.0})).action == "NONE"
    # KILL outranks HALT
    assert (
        decide(HealthInputs(WED, True, "", {"edge": WED - 999}, {"edge": WED}, {"edge": 5.0})).action
        == "KILL"
    )


@pytest.mark.parametrize("now", [WED, SAT])
def test_last_event_in_the_future_kills(now: float) -> None:
    # issue 11 #1: stages whose last event was in year 2999 were never called stale.
    year_2999 = datetime(2999, 12, 31, 22, 0, tzinfo=UTC).timestamp()
    obs = HealthInputs(now, True, "", {"edge": year_2999}, {"edge": now - 3})
    d = decide(obs)
    assert d.action == "KILL"
    assert d.reasons[0].startswith("stage edge: last event ")
    assert d.reasons[0].endswith("s in the future")
    # within the clock skew tolerance it is healthy
    assert decide(HealthInputs(now, True, "", {"edge": now + 60}, {"edge": now - 3})).action == "NONE"


def test_latch_rearms_after_a_resume_while_still_blind() -> None:
    # issue 11 #5: after KILL + operator RESUME, the watchdog never published again while still blind.
    from streams.binding.health import HealthDecision, latch

    cfg = HealthConfig(rearm_s=30)
    kill, ok = HealthDecision("KILL", ("prometheus unreachable",)), HealthDecision("NONE")
    assert latch("NONE", float("-inf"), kill, 100.0, cfg) == (True, "KILL")
    assert latch("KILL", 100.0, kill, 110.0, cfg) == (False, "KILL")  # not on every poll
    assert latch("KILL", 100.0, kill, 130.0, cfg) == (True, "KILL")  # re-armed: overrides a RESUME
    assert latch("KILL", 130.0, ok, 140.0, cfg) == (False, "NONE")  # healthy: de-escalates
    assert latch("NONE", 130.0, kill, 141.0, cfg) == (True, "KILL")  # the next failure at once
    assert latch("HALT", 0.0, kill, 1.0, cfg) == (True, "KILL")  # escalation is immediate


def test_queries_are_scoped_to_the_namespace() -> None:
    # issue 11 #5: the watchdog killed an empty namespace because of another namespace's stale stages.
    from streams.binding.health import queries

    scoped = queries(HealthConfig(), "bt_1")
    assert all('{namespace="bt_1"}' in q for q in scoped.values())
    assert scoped["errors"] == 'sum by (stage) (increase(hslr_errors_total{namespace="bt_1"}[5m]))'
    assert all("namespace" not in q for q in queries(HealthConfig()).values())

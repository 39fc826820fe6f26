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

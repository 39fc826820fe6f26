"""Stream health (silent vs stalled with heartbeats) and connection pacing, with explicit times."""

from __future__ import annotations

import pytest

from streams.live.health import FeedState, StreamHealth
from streams.live.pacing import Backoff, RateLimit


def test_heartbeats_do_not_mask_a_stalled_price_flow() -> None:
    h = StreamHealth(silent_after_s=15, stall_after_s=60)
    h.reset(0.0)
    h.on_price(1.0, "GBPUSD")
    for t in range(5, 100, 5):
        h.on_heartbeat(float(t))
    assert h.state(61.0) is FeedState.OK
    assert h.state(61.5) is FeedState.STALLED
    assert "while heartbeats arrive" in h.reason(61.5)
    assert h.state(61.5, market_open=False) is FeedState.OK  # a closed market sends no prices


def test_silence_is_stale_even_when_the_market_is_closed() -> None:
    h = StreamHealth(silent_after_s=15, stall_after_s=60)
    h.reset(0.0)
    h.on_heartbeat(5.0)
    assert h.state(20.0, market_open=False) is FeedState.OK
    assert h.state(20.5, market_open=False) is FeedState.SILENT
    assert "no price or heartbeat for 15.5 s" in h.reason(20.5)


def test_a_quiet_instrument_is_not_stale() -> None:
    h = StreamHealth(silent_after_s=15, stall_after_s=60)
    h.reset(0.0)
    for t in range(1, 100):
        h.on_price(float(t), "GBPUSD")
    assert h.state(100.0) is FeedState.OK
    assert h.quiet(100.0, ["GBPUSD", "EURCHF"], after_s=60) == ["EURCHF"]


def test_rate_limit_two_new_connections_per_second() -> None:
    r = RateLimit(per_s=2)
    assert r.delay(10.0) == 0.0
    r.record(10.0)
    r.record(10.2)
    assert r.delay(10.3) == pytest.approx(0.7)  # the third start waits until the first leaves the window
    assert r.delay(11.0) == 0.0


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    b = Backoff(initial_s=0.5, cap_s=4.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5

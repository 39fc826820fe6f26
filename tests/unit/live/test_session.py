"""Feed session: bars + watermark at each close, quarantine records with reasons, one HALT per stale
episode (silent or stalled), re-armed by a reconnect."""

from __future__ import annotations

from streams.live.feed import FeedStatus
from streams.live.quotes import BadLine, Heartbeat, Quote
from streams.live.session import FeedSession

M = 1_551_765_600 * 10**9
S = 10**9


def test_quotes_and_heartbeats_close_minutes() -> None:
    s = FeedSession(("GBPUSD",), grace_ms=500)
    assert s.handle(Quote("GBPUSD", M + S, 1.3, 1.3002), 0).bars == []
    pub = s.handle(Heartbeat(M + 61 * S), 0)
    assert [(b.pair, b.ts) for b in pub.bars] == [("GBPUSD", M // 10**6)]
    assert pub.watermark == M // 10**6


def test_bad_lines_and_foreign_pairs_are_quarantined() -> None:
    s = FeedSession(("GBPUSD",))
    q = s.handle(BadLine(b"{oops", "not JSON: x"), 123).quarantine
    assert q == [{"stage": "live-feed", "pair": "", "ts": 123, "reason": "not JSON: x", "payload": "{oops"}]
    q = s.handle(Quote("USDJPY", M, 111.0, 111.02), 5).quarantine
    assert q[0]["reason"] == "pair not subscribed"


def test_one_halt_per_stale_episode() -> None:
    s = FeedSession(("GBPUSD",))
    first = s.handle(FeedStatus("stalled", "no price for 61.0 s while heartbeats arrive", 1.0), 1000).control
    assert [(c["action"], c["issuer"], c["pair"], c["ts"]) for c in first] == [
        ("HALT", "live-feed", "", 1000)
    ]
    assert "stalled: no price" in first[0]["reason"]
    assert s.handle(FeedStatus("silent", "x", 2.0), 2000).control == []  # still the same episode
    assert s.handle(FeedStatus("disconnected", "x", 3.0), 3000).control == []
    s.handle(FeedStatus("connected", "connection 2", 4.0), 4000)
    again = s.handle(FeedStatus("silent", "no price or heartbeat", 5.0), 5000).control
    assert len(again) == 1
    assert again[0]["command_id"] == "live-feed:HALT:ALL:5000"


KEY = b"k" * 32


def test_own_halt_resumed_after_prices_flow_for_the_configured_time() -> None:
    from streams.core.control_auth import verify

    s = FeedSession(("GBPUSD",), resume_after_ms=60_000, key=KEY)
    assert s.handle(FeedStatus("silent", "no price or heartbeat", 1.0), 1_000).control[0]["action"] == "HALT"
    assert s.handle(Quote("GBPUSD", M, 1.3, 1.3002), 2_000).control == []  # still stale: no flow counted
    s.handle(FeedStatus("connected", "connection 2", 3.0), 3_000)
    assert s.handle(Quote("GBPUSD", M + S, 1.3, 1.3002), 10_000).control == []  # flowing from 10 s
    assert s.handle(Heartbeat(M + 2 * S), 80_000).control == []  # a heartbeat is no price
    s.handle(FeedStatus("disconnected", "reset", 4.0), 80_500)  # the flow must be unbroken: starts over
    s.handle(FeedStatus("connected", "connection 3", 5.0), 81_000)
    assert s.handle(Quote("GBPUSD", M + 3 * S, 1.3, 1.3002), 90_000).control == []  # flowing from 90 s
    assert s.handle(Quote("GBPUSD", M + 4 * S, 1.3, 1.3002), 149_999).control == []  # 59.999 s
    resume = s.handle(Quote("GBPUSD", M + 5 * S, 1.3, 1.3002), 150_000).control
    assert [(c["action"], c["issuer"], c["pair"], c["ts"], c["command_id"]) for c in resume] == [
        ("RESUME", "live-feed", "", 150_000, "live-feed:RESUME:ALL:150000:150000")
    ]
    assert resume[0]["reason"] == "prices flowing again for 60.0 s"
    assert verify(resume[0], KEY)
    assert s.handle(Quote("GBPUSD", M + 6 * S, 1.3, 1.3002), 900_000).control == []  # once per halt


def test_no_resume_by_default_or_without_a_key_or_without_a_halt() -> None:
    for s in (FeedSession(("GBPUSD",)), FeedSession(("GBPUSD",), resume_after_ms=1, key=None)):
        s.handle(FeedStatus("stalled", "x", 1.0), 1_000)
        s.handle(FeedStatus("connected", "c", 2.0), 2_000)
        assert [
            s.handle(Quote("GBPUSD", M + i * S, 1.3, 1.3002), 10**7 * i).control for i in range(1, 4)
        ] == [[]] * 3
    fresh = FeedSession(("GBPUSD",), resume_after_ms=1, key=KEY)  # nothing halted: nothing to resume
    assert [
        fresh.handle(Quote("GBPUSD", M + i * S, 1.3, 1.3002), 10**7 * i).control for i in range(1, 4)
    ] == [[]] * 3

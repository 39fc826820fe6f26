"""The OANDA v20 price stream against the local v20 server (loopback HTTP only, no other service):
chunked lines split anywhere, malformed lines, a disconnect mid-line, a silent stream, a stalled price
flow with live heartbeats, and the 2-new-connections-per-second limit."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from streams.live.endpoint import V20Endpoint
from streams.live.feed import FeedStatus
from streams.live.health import StreamHealth
from streams.live.oanda_stream import FeedRejected, OandaPriceStream
from streams.live.pacing import Backoff
from streams.live.quotes import BadLine, Heartbeat, Quote
from tests.kit.v20_server import CUT, V20Server, heartbeat_line, price_line

T = 1_551_765_600 * 10**9
PAIRS = ("GBPUSD", "USDJPY")


def _collect(stream: OandaPriceStream, until: int, timeout: float = 10.0) -> list[object]:
    """Events until ``until`` FeedStatus records other than ``connected`` (or the timeout)."""
    out: list[object] = []
    ends = 0
    deadline = time.monotonic() + timeout
    for ev in stream.events():
        out.append(ev)
        if isinstance(ev, FeedStatus) and ev.state != "connected":
            ends += 1
        if ends >= until or time.monotonic() > deadline:
            break
    stream.close()
    return out


def _stream(server: V20Server, **health: float) -> OandaPriceStream:
    return OandaPriceStream(
        V20Endpoint.local(server.url),
        PAIRS,
        health=StreamHealth(**health) if health else None,
        backoff=Backoff(initial_s=0.05, cap_s=0.2),
    )


def test_lines_split_across_chunks_untyped_prices_and_a_cut_mid_line() -> None:
    a = price_line("GBPUSD", T, 1.3, 1.3002)
    b = price_line("USDJPY", T + 5, 111.5, 111.52, typed=False, digits=3)
    with V20Server() as server:
        server.scripts.append(
            [a[:17], a[17:] + b[:9], b[9:], heartbeat_line(T + 10), b"{not json\n", b[:30], CUT]
        )
        server.scripts.append([price_line("GBPUSD", T + 20, 1.31, 1.3102)])
        events = _collect(_stream(server), until=2)
        assert [q.pair for q in events if isinstance(q, Quote)] == ["GBPUSD", "USDJPY", "GBPUSD"]
        assert events[2] == Quote("USDJPY", T + 5, 111.5, 111.52, True)
        assert Heartbeat(T + 10) in events
        bad = [e for e in events if isinstance(e, BadLine)]
        assert len(bad) == 1
        assert "not JSON" in bad[0].reason
        cut = [e for e in events if isinstance(e, FeedStatus) and e.state == "disconnected"][0]
        assert "30 bytes of an unfinished line dropped" in cut.reason
        assert len(server.connection_times) == 2
        assert "instruments=GBP_USD%2CUSD_JPY" in server.stream_queries[0]


def test_silent_stream_is_stale_and_reconnects() -> None:
    with V20Server() as server:
        server.scripts.append([price_line("GBPUSD", T, 1.3, 1.3002), 2.0])
        server.scripts.append([price_line("GBPUSD", T + 10, 1.3, 1.3002)])
        events = _collect(_stream(server, silent_after_s=0.5, stall_after_s=60), until=1)
        status = [e for e in events if isinstance(e, FeedStatus)]
        assert [s.state for s in status] == ["connected", "silent"]
        assert status[1].stale
        assert "no price or heartbeat" in status[1].reason


def _heartbeats_only(n: int, every: float) -> Iterator[object]:
    yield price_line("GBPUSD", T, 1.3, 1.3002)
    for i in range(n):
        yield every
        yield heartbeat_line(T + (i + 1) * 10**8)


def test_stalled_prices_with_live_heartbeats_are_stale() -> None:
    with V20Server() as server:
        server.scripts.append(_heartbeats_only(40, 0.05))
        events = _collect(_stream(server, silent_after_s=1.0, stall_after_s=0.6), until=1)
        status = [e for e in events if isinstance(e, FeedStatus)]
        assert [s.state for s in status] == ["connected", "stalled"]
        assert "while heartbeats arrive" in status[1].reason
        beats = [e for e in events if isinstance(e, Heartbeat)]
        assert 8 <= len(beats) <= 14  # stale after ~0.6 s of 0.05 s heartbeats, not at the silent timeout


def test_the_calendar_is_asked_only_once_prices_are_old() -> None:
    # issue 12 latency: is_open_at on every line took 40 % of the live process's CPU
    asked: list[float] = []

    def market_open() -> bool:
        asked.append(time.monotonic())
        return True

    with V20Server() as server:
        server.scripts.append([price_line("GBPUSD", T + i, 1.3, 1.3002) for i in range(200)])
        server.scripts.append(_heartbeats_only(40, 0.05))
        stream = OandaPriceStream(
            V20Endpoint.local(server.url),
            PAIRS,
            health=StreamHealth(silent_after_s=1.0, stall_after_s=0.6),
            backoff=Backoff(initial_s=0.05, cap_s=0.2),
            market_open=market_open,
        )
        events = _collect(stream, until=2)
    status = [e.state for e in events if isinstance(e, FeedStatus)]
    assert status[-1] == "stalled"  # the second connection's heartbeats without prices
    assert sum(isinstance(e, Quote) for e in events) >= 200
    assert 1 <= len(asked) <= 3  # once the price flow is 0.6 s old, not once per line


def test_reconnects_never_exceed_two_per_second() -> None:
    with V20Server() as server:
        for _ in range(6):
            server.scripts.append([CUT])  # every connection dies at once
        stream = OandaPriceStream(
            V20Endpoint.local(server.url), PAIRS, backoff=Backoff(initial_s=0.0, cap_s=0.0)
        )
        _collect(stream, until=6)
        t = server.connection_times
        assert len(t) >= 6
        assert all(t[i + 2] - t[i] >= 0.95 for i in range(len(t) - 2))


def test_bad_credentials_are_not_retried_and_the_token_is_not_shown() -> None:
    with V20Server() as server:
        ep = V20Endpoint.local(server.url)
        stream = OandaPriceStream(ep.__class__(ep.rest_url, ep.stream_url, "", ep.token), PAIRS)
        with pytest.raises(FeedRejected, match="HTTP 401"):
            list(stream.events())
        assert "local-test-token" not in repr(ep)


def test_a_quiet_instrument_is_not_stale_and_out_of_order_times_pass_through() -> None:
    steps: list[object] = []
    for i in range(30):  # GBPUSD every 0.05 s for 1.5 s, USDJPY never
        steps += [price_line("GBPUSD", T + (30 - i if i == 29 else i) * 10**8, 1.3, 1.3002), 0.05]
    with V20Server() as server:
        server.scripts.append(steps)
        stream = _stream(server, silent_after_s=1.0, stall_after_s=0.6)
        events = _collect(stream, until=1)
        status = [e.state for e in events if isinstance(e, FeedStatus)]
        assert status == ["connected", "disconnected"]  # the script ended; never stale
        times = [q.ts_ns for q in events if isinstance(q, Quote)]
        assert len(times) == 30
        assert times[-1] < times[-2]  # delivered as sent: the aggregator orders by quote time
        assert stream.health.quiet(time.monotonic(), list(PAIRS), after_s=0.5) == ["USDJPY"]

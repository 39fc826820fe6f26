"""The feed gateway resumes its own stale HALT once prices flow again (``--resume-after-s``), through
the local v20 server and Kafka: one HALT for the silent stream, one signed RESUME (issuer ``live-feed``)
after the configured time of unbroken prices on the new connection, nothing more."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from streams.binding.kafka_io import Out, ensure_topics, read_to_end
from streams.binding.live import FeedGateway
from streams.binding.workers import fresh_namespace
from streams.core.control_auth import verify
from streams.infra import bootstrap_servers
from streams.live.endpoint import V20Endpoint
from streams.live.health import StreamHealth
from streams.live.oanda_stream import OandaPriceStream
from streams.live.pacing import Backoff
from streams.live.session import FeedSession
from tests.kit.control import CONTROL_KEY
from tests.kit.v20_server import V20Server, price_line

pytestmark = pytest.mark.integration

T = 1_551_765_600 * 10**9


def _prices(n: int, every: float) -> Iterator[object]:
    for i in range(n):
        yield price_line("GBPUSD", T + (i + 1) * 10**8, 1.3, 1.3002)
        yield every


def test_the_feed_resumes_its_own_halt_after_prices_flow_again(services: dict[str, str]) -> None:
    ns, boot = fresh_namespace("resume"), bootstrap_servers()
    ensure_topics(boot, ns)
    with V20Server(heartbeat_s=0.05) as server:
        server.scripts.append([price_line("GBPUSD", T, 1.3, 1.3002), 1.5])  # then silent: stale at 0.4 s
        server.scripts.append(_prices(40, 0.025))  # ~1 s of prices, then heartbeats
        feed = OandaPriceStream(
            V20Endpoint.local(server.url),
            ("GBPUSD",),
            health=StreamHealth(silent_after_s=0.4, stall_after_s=60),
            backoff=Backoff(initial_s=0.05, cap_s=0.1),
        )
        session = FeedSession(("GBPUSD",), resume_after_ms=300, key=CONTROL_KEY)
        stop = threading.Event()
        gw = threading.Thread(target=FeedGateway(Out(boot), ns, session, "live:oanda").run, args=(feed, stop))
        gw.start()
        deadline = time.monotonic() + 10
        while not (
            session.stale is False and session.counts.get("FeedStatus", 0) >= 2 and not session.halted
        ):
            assert time.monotonic() < deadline, "no resume"
            time.sleep(0.02)
        time.sleep(0.3)  # more prices and heartbeats: no second RESUME
        stop.set()
        gw.join(5)
    control = read_to_end(boot, "control", ns).to_records()
    assert [(r["action"], r["issuer"], r["pair"]) for r in control] == [
        ("HALT", "live-feed", ""),
        ("RESUME", "live-feed", ""),
    ]
    assert control[0]["reason"].startswith("silent: price stream silent")
    halt_ts, resume = control[0]["ts"], control[1]
    assert verify(resume, CONTROL_KEY)
    assert resume["command_id"] == f"live-feed:RESUME:ALL:{resume['ts']}:{resume['ts']}"
    assert re.fullmatch(r"prices flowing again for 0\.[3-9] s", resume["reason"])  # 300 ms and the next price
    assert resume["ts"] - halt_ts >= 300

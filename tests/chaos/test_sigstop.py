"""Chaos: a worker frozen (SIGSTOP) past its consumer session timeout (10 s) while input keeps
arriving. While frozen its metrics endpoint does not answer (Prometheus records ``up == 0``: alert
HslrWorkerDown); after SIGCONT it rejoins its group, exports the backlog as ``hslr_consumer_lag``
(alert HslrConsumerLagHigh above 1,000) and works it off, and its decisions equal an undisturbed run:
nothing decided twice, nothing decided on a stale state."""

from __future__ import annotations

import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from streams.binding.kafka_io import Out, collect, ensure_topics, publish, publish_marker
from streams.binding.workers import fresh_namespace, worker
from streams.stages.trader.stage import TraderStage
from tests.chaos.conftest import PrivateBroker, free_port
from tests.chaos.test_kills import Watermarks
from tests.kit.governed import governed
from tests.kit.replays import complete, distinct_in_order

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

FROZEN_S = 14.0  # past broker_session_timeout (10 s, streams/binding/faust_app.py)


def _lag(port: int) -> float | None:
    """The trader's exported consumer lag, None when the endpoint does not answer within 1 s."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:  # noqa: S310 - loopback
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r'^hslr_consumer_lag\{[^}]*stage="trader"[^}]*\} (\S+)', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_frozen_worker_rejoins_without_stale_decisions_and_its_lag_is_exported(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    data = complete(governed(n_min=500, seed=3), "governed_signal")
    _, expected = TraderStage().process(TraderStage().initial_state(), "signals.governed", data)
    assert expected["orders"].n > 0
    third = data.n // 3
    ns = fresh_namespace("stop")
    ensure_topics(broker.bootstrap, ns)
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HSLR_METRICS_PORT": str(port),
        "HSLR_BATCH_MAX": "20",
        "HSLR_BATCH_WITHIN_S": "0.01",
    }
    out = Out(broker.bootstrap)
    probe = Watermarks(broker.bootstrap, ns)
    with worker(["trader"], ns, None, tmp_path / "w.log", env=env) as w:
        publish(out, "signals.governed", data.take(slice(0, third)), ns, max_records=1)
        out.flush()
        assert probe.wait_above("portfolio", 0, timeout=120), "the trader produced nothing before the stop"
        assert _lag(port) is not None
        w.send_signal(signal.SIGSTOP)
        try:
            publish(out, "signals.governed", data.take(slice(third, data.n)), ns, max_records=1)
            publish_marker(out, "signals.governed", "stop", ns)
            out.flush()
            frozen_scrape = _lag(port)
            time.sleep(FROZEN_S)
        finally:
            w.send_signal(signal.SIGCONT)
        lags = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(x and x > 0 for x in lags):
            lags.append(_lag(port))
            time.sleep(0.05)
        got = collect(
            broker.bootstrap, ["orders", "portfolio"], "stop", ns, timeout=180, alive=lambda: w.poll() is None
        )
    probe.consumer.close()
    assert frozen_scrape is None  # a frozen worker is not scraped: up == 0, HslrWorkerDown
    assert max(x or 0 for x in lags) > 0  # the backlog is exported as lag once it runs again
    for key in ("orders", "portfolio"):
        assert distinct_in_order(got[key]).equals(expected[key]), key
    print(
        f"sigstop figures: frozen {FROZEN_S}s, backlog {data.n - third} records, max lag seen {max(x or 0 for x in lags)}"
    )

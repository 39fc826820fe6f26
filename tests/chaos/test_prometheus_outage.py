"""Chaos: Prometheus cut off from the watchdog mid-run (a TCP forwarder the test cuts; the shared
Prometheus is never touched). Trading blind is not allowed: the watchdog publishes KILL on control with
the reason and exports ``hslr_kill_switch_active``; the trader then opens nothing. Prometheus coming
back re-arms the watchdog but does not clear the trader's kill switch (the one outage that does not
recover by itself): only a signed operator RESUME does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from streams.binding.kafka_io import ensure_topics, read_to_end
from streams.binding.watchdog import Watchdog, kafka_publisher, query
from streams.binding.workers import fresh_namespace
from streams.core.batch import Batch
from streams.core.control_auth import operator_command
from streams.infra import register_scrape_target, unregister_scrape_target
from streams.settings import settings
from streams.stages.trader.stage import TraderStage
from tests.chaos.conftest import PrivateBroker, free_port
from tests.chaos.proxy import Cuttable
from tests.kit.control import CONTROL_KEY
from tests.kit.governed import START, governed

pytestmark = [pytest.mark.chaos, pytest.mark.integration]
WEEK = 7 * 86_400_000


@contextmanager
def _monitored_stage(ns: str) -> Iterator[None]:
    """An exporter of ``hslr_last_event_ts_seconds`` (now) registered as a scrape target of ``ns``."""
    reg = CollectorRegistry()
    Gauge("hslr_last_event_ts_seconds", "Event time", ["stage"], registry=reg).labels("chaos").set(
        time.time()
    )
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=reg)
    name = f"chaos-{ns}"
    register_scrape_target(name, port, namespace=ns)
    try:
        deadline = time.monotonic() + 90
        while not query(settings().prometheus_url, f'hslr_last_event_ts_seconds{{namespace="{ns}"}}'):
            assert time.monotonic() < deadline, "Prometheus never scraped the test's exporter"
            time.sleep(1.0)
        yield
    finally:
        unregister_scrape_target(name)
        server.shutdown()
        thread.join(5)


def test_prometheus_cut_kills_through_the_watchdog_and_only_an_operator_clears_it(
    services: dict[str, str], broker: PrivateBroker
) -> None:
    u = urlparse(settings().prometheus_url)
    prom = Cuttable((u.hostname or "127.0.0.1", u.port or 9090))
    ns = fresh_namespace("promcut")
    ensure_topics(broker.bootstrap, ns)
    dog = Watchdog(
        f"http://127.0.0.1:{prom.port}", kafka_publisher(broker.bootstrap, ns), timeout=2.0, namespace=ns
    )
    with _monitored_stage(ns):  # a live stage of this namespace, so that the watchdog has something to see
        try:
            assert dog.poll().action != "KILL"  # Prometheus answers; nothing of this namespace is stale
            prom.cut()
            cut = dog.poll()
            gauge_while_cut = dog.registry.get_sample_value("hslr_kill_switch_active")
            prom.restore()
            after = dog.poll()
        finally:
            prom.cut()
    assert cut.action == "KILL"
    assert "unreachable" in cut.reasons[0]
    assert gauge_while_cut == 1.0
    assert after.action != "KILL"  # Prometheus answers again: the watchdog re-arms for the next outage,
    # but the KILL it published stays in force in the trader (below) until a signed operator RESUME
    control = read_to_end(broker.bootstrap, "control", ns)
    assert list(control["action"]) == ["KILL"]
    assert "unreachable" in control["reason"][0]

    # the trader, fed that KILL and signals after it (whole weeks later, so the market hours match)
    kill_ts = int(control["ts"][0])
    data = governed(n_min=500, seed=3)
    data = data.with_columns(ts=data["ts"] + -(-(kill_ts - START) // WEEK) * WEEK)
    stage = TraderStage(control_key=CONTROL_KEY)
    state, _ = stage.process(stage.initial_state(), "control", control)
    half = data.n // 2
    state, blind = stage.process(state, "signals.governed", data.take(np.arange(half)))
    assert not (blind["orders"]["action"] == "NEW").any()  # no position opened while killed
    resume = operator_command("RESUME", "", 0, "prometheus back", kill_ts + 1, CONTROL_KEY)
    state, _ = stage.process(state, "control", Batch.from_records([resume], list(resume)))
    _, later = stage.process(state, "signals.governed", data.take(np.arange(half, data.n)))
    assert (later["orders"]["action"] == "NEW").any()  # the signed RESUME cleared it

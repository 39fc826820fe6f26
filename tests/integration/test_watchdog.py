"""The watchdog against the REAL Prometheus: a test process's metric travels scrape -> query -> decision."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from streams.binding.health import HealthConfig
from streams.binding.watchdog import Watchdog, query, read_inputs
from streams.infra import infra_up, register_scrape_target, unregister_scrape_target

pytestmark = pytest.mark.integration
PROM = "http://127.0.0.1:9090"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(pred, timeout: float = 45.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(1.0)
    return False


@pytest.fixture(scope="module")
def exporter() -> Iterator[tuple[str, Gauge, Counter]]:
    """A process-local exporter with a unique stage label, registered as a Prometheus scrape target."""
    infra_up(services=("prometheus",))
    stage = f"itest_{uuid.uuid4().hex[:8]}"
    reg = CollectorRegistry()
    last = Gauge("hslr_last_event_ts_seconds", "Event time of the last record", ["stage"], registry=reg)
    errors = Counter("hslr_errors", "Stage processing errors", ["stage"], registry=reg)
    last.labels(stage).set(time.time())
    errors.labels(stage).inc(0)
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=reg)
    register_scrape_target(stage, port)
    try:
        assert _wait(lambda: query(PROM, f'hslr_last_event_ts_seconds{{stage="{stage}"}}')), "never scraped"
        yield stage, last, errors
    finally:
        unregister_scrape_target(stage)
        server.shutdown()
        thread.join(5)


def test_watchdog_reads_real_metric_through_prometheus(exporter) -> None:
    stage, last, _ = exporter
    t = time.time()
    last.labels(stage).set(t)
    published: list[dict] = []
    dog = Watchdog(PROM, published.append, config=HealthConfig(max_data_age_s=60))
    assert _wait(lambda: abs(query(PROM, f'hslr_last_event_ts_seconds{{stage="{stage}"}}')[0][2] - t) < 1e-3)
    rows = query(PROM, f'hslr_last_event_ts_seconds{{stage="{stage}"}}')
    assert rows[0][2] == pytest.approx(t)
    assert rows[0][0]["worker"] == stage
    decision = dog.poll()
    # other stages of a developer's live pipeline may be scraped too: ours must not be blamed
    assert not any(stage in r for r in decision.reasons), decision
    dog.observe_governance({"state": "REDUCED", "ic": 0.011, "kl_divergence": 0.05, "entropy_avg": 0.6})
    assert dog.registry.get_sample_value("hslr_ic_30d") == pytest.approx(0.011)
    assert dog.registry.get_sample_value("hslr_governance_state") == 1.0


def test_rising_errors_halt(exporter) -> None:
    stage, last, errors = exporter
    published: list[dict] = []
    dog = Watchdog(PROM, published.append)
    errors.labels(stage).inc(3)
    last.labels(stage).set(time.time())
    expr = f'sum by (stage) (increase(hslr_errors_total{{stage="{stage}"}}[5m]))'
    assert _wait(lambda: (r := query(PROM, expr)) and r[0][2] > 0), "increase never visible"
    assert read_inputs(PROM, HealthConfig(), time.time()).errors[stage] > 0
    decision = dog.poll()
    assert decision.action in {"HALT", "KILL"}  # KILL only if another live worker is stale meanwhile
    assert any(stage in r and "errors" in r for r in decision.reasons) or decision.action == "KILL"
    assert published
    assert published[0]["action"] == decision.action
    assert published[0]["issuer"] == "watchdog"


def test_unreachable_prometheus_kills() -> None:
    published: list[dict] = []
    dog = Watchdog(f"http://127.0.0.1:{_free_port()}", published.append, timeout=1.0)
    decision = dog.poll()
    assert decision.action == "KILL"
    assert "unreachable" in decision.reasons[0]
    assert [p["action"] for p in published] == ["KILL"]
    assert dog.registry.get_sample_value("hslr_kill_switch_active") == 1.0
    dog.poll()
    assert len(published) == 1  # latched: published once, not on every poll

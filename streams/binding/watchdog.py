"""Live drift/health watchdog: reads the stage metrics from the real Prometheus, publishes control commands.

Thin I/O around :mod:`streams.binding.health`: each :meth:`Watchdog.poll` runs a few PromQL
instant queries (``/api/v1/query``), turns them into :class:`HealthInputs`, lets :func:`decide` choose
KILL / HALT / NONE, and publishes a control record when the decision escalates (it never clears a
KILL itself: RESUME after a kill is an operator's). It also exports the governance gauges
(``hslr_governance_state``, ``hslr_ic_30d``, ``hslr_kl_divergence``, ``hslr_regime_entropy_avg``,
``hslr_kill_switch_active``) through its own prometheus_client registry; governance values come from
the ``governance`` topic records passed to :meth:`Watchdog.observe_governance`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Gauge

from streams.binding.health import (
    HealthConfig,
    HealthDecision,
    HealthInputs,
    decide,
    latch,
    queries,
)
from streams.stages.governance.triggers import SEVERITY

Publish = Callable[[dict[str, Any]], None]
log = logging.getLogger("hslr.watchdog")


class PrometheusError(RuntimeError):
    """Prometheus did not answer a query with data."""


def query(base_url: str, expr: str, timeout: float = 3.0) -> list[tuple[dict[str, str], float, float]]:
    """Run one PromQL instant query; return ``(labels, sample time s, value)`` per series."""
    try:
        resp = requests.get(f"{base_url.rstrip('/')}/api/v1/query", params={"query": expr}, timeout=timeout)
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise PrometheusError(f"{type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200 or body.get("status") != "success":
        raise PrometheusError(f"HTTP {resp.status_code}: {body.get('error', body)}")
    return [(r["metric"], float(r["value"][0]), float(r["value"][1])) for r in body["data"]["result"]]


def _by_stage(rows: list[tuple[dict[str, str], float, float]]) -> dict[str, float]:
    return {r[0].get("stage", ""): r[2] for r in rows if math.isfinite(r[2])}


def read_inputs(
    base_url: str, cfg: HealthConfig, now_s: float, timeout: float = 3.0, namespace: str | None = None
) -> HealthInputs:
    """Query Prometheus for everything :func:`decide` needs (only ``namespace``'s workers when given:
    another namespace's stale stages must not kill this one); unreachable -> ``reachable=False``."""
    try:
        got = {k: _by_stage(query(base_url, q, timeout)) for k, q in queries(cfg, namespace).items()}
    except PrometheusError as exc:
        return HealthInputs(now_s, reachable=False, error=str(exc))
    return HealthInputs(now_s, True, "", got["last"], got["sampled"], got["errors"], got["dead"], got["lag"])


class Watchdog:
    """Polls Prometheus, publishes KILL/HALT control records on escalation, exports governance gauges."""

    def __init__(
        self,
        prometheus_url: str,
        publish: Publish,
        *,
        config: HealthConfig | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 3.0,
        namespace: str | None = None,
    ) -> None:
        self.url, self.publish, self.cfg = prometheus_url, publish, config or HealthConfig()
        self.clock, self.timeout, self.namespace = clock, timeout, namespace
        self.registry = registry or CollectorRegistry()
        g = {
            n: Gauge(n, d, registry=self.registry)
            for n, d in (
                (
                    "hslr_governance_state",
                    "Governance state: 0 NORMAL, 1 REDUCED, 2 SUSPENDED, 3 HALTED, 4 DECOMMISSIONED",
                ),
                ("hslr_ic_30d", "Rolling 30-day information coefficient"),
                ("hslr_kl_divergence", "KL divergence of live features from training, nats"),
                ("hslr_regime_entropy_avg", "Rolling average regime entropy, nats"),
                ("hslr_kill_switch_active", "1 while the watchdog's kill switch is active"),
                ("hslr_watchdog_heartbeat_ts_seconds", "Wall time of the watchdog's last completed poll"),
                ("hslr_watchdog_publish_failing", "1 while the watchdog cannot publish its command"),
            )
        }
        self.gauges = g
        self.active = "NONE"
        self.last_publish_s = float("-inf")
        self.last: HealthDecision = HealthDecision("NONE")

    def poll(self) -> HealthDecision:
        """One cycle: read Prometheus, decide, publish on escalation; return the decision."""
        now = self.clock()
        decision = decide(read_inputs(self.url, self.cfg, now, self.timeout, self.namespace), self.cfg)
        publish, active = latch(self.active, self.last_publish_s, decision, now, self.cfg)
        if publish:
            try:
                self.publish(
                    {
                        "command_id": f"watchdog:{decision.action}:{int(now * 1000)}",
                        "ts": int(now * 1000),
                        "action": decision.action,
                        "scale": 0.0,
                        "pair": "",
                        "issuer": "watchdog",
                        "reason": "; ".join(decision.reasons),
                    }
                )
            except Exception as exc:  # noqa: BLE001 - keep watching; retried on the next poll
                log.error("watchdog: cannot publish %s: %s", decision.action, exc)
                self.gauges["hslr_watchdog_publish_failing"].set(1.0)
                publish = False
                active = self.active  # not latched: the next poll tries again
            else:
                self.gauges["hslr_watchdog_publish_failing"].set(0.0)
                self.last_publish_s = now
        self.active = active
        self.gauges["hslr_kill_switch_active"].set(1.0 if self.active == "KILL" else 0.0)
        self.gauges["hslr_watchdog_heartbeat_ts_seconds"].set(now)
        self.last = decision
        return decision

    def operator_resume(self) -> None:
        """Clear the latched KILL/HALT (an operator published RESUME)."""
        self.active = "NONE"
        self.gauges["hslr_kill_switch_active"].set(0.0)

    def observe_governance(self, record: Mapping[str, Any]) -> None:
        """Export the governance stage's latest record (schemas/governance.avsc) as gauges."""
        self.gauges["hslr_governance_state"].set(float(SEVERITY.index(str(record["state"]))))
        for name, key in (
            ("hslr_ic_30d", "ic"),
            ("hslr_kl_divergence", "kl_divergence"),
            ("hslr_regime_entropy_avg", "entropy_avg"),
        ):
            self.gauges[name].set(float(record[key]))


def kafka_publisher(bootstrap: str, namespace: str) -> Publish:
    """A :data:`Publish` that writes Avro control records to ``<namespace>.control`` and flushes each."""
    from streams.binding.kafka_io import Out
    from streams.core.topics import TOPICS
    from streams.runner.runtime import Outgoing
    from streams.serde.avro import AvroCodec

    out, codec, topic = Out(bootstrap), AvroCodec("control"), TOPICS["control"].name(namespace)

    def publish(record: dict[str, Any]) -> None:
        out.send([Outgoing(topic, None, codec.encode(record))])
        out.flush(10.0)

    return publish


def run(
    prometheus_url: str,
    publish: Publish,
    interval_s: float = 5.0,
    port: int | None = None,
    stop: Callable[[], bool] = lambda: False,
    namespace: str | None = None,
) -> None:
    """Poll forever (until ``stop()``), scoped to ``namespace``; serve the gauges (heartbeat included)
    on ``port`` (at ``HSLR_METRICS_ADDR``, loopback by default) and announce them to Prometheus, so ``HslrWatchdogDown`` sees it die."""
    from prometheus_client import start_http_server

    dog = Watchdog(prometheus_url, publish, namespace=namespace)
    if port is not None:
        import atexit
        import os

        from streams.infra import register_scrape_target, unregister_scrape_target
        from streams.settings import settings

        start_http_server(port, addr=settings().hslr_metrics_addr, registry=dog.registry)
        name = f"{namespace or 'all'}-watchdog-{os.getpid()}"
        register_scrape_target(name, port, namespace=namespace or "")
        atexit.register(unregister_scrape_target, name)
    while not stop():
        dog.poll()
        time.sleep(interval_s)

"""The integration suite's services in containers (HSLR_TEST_SERVICES=containers): Kafka, PostgreSQL,
Redis and Prometheus from the offline images (infra/docker/build.sh), started with testcontainers.

They use the host's network namespace on free loopback ports (every listener bound to 127.0.0.1), so
the services already running on the standard ports are untouched, the host-side workers the tests
start reach them as they reach the host services, and the containerised Prometheus scrapes those
workers through the same file_sd folder. The environment variables every client reads (settings) are
pointed at them for the session and restored afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from tests.deploy.stack import ROOT, docker_script, free_ports, wait_until

CLUSTER_ID = "r-HyU5zZRRGMbKbW4OdkHA"
ENV_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "HSLR_PG_DSN", "REDIS_URL", "PROMETHEUS_URL")


def _kafka_env(port: int, controller: int) -> dict[str, str]:
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@127.0.0.1:{controller}",
        "KAFKA_NUM_PARTITIONS": "1",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        "KAFKA_CLUSTER_ID": CLUSTER_ID,
    }


def _answers(probe: Callable[[], Any]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            probe()
            return True
        except Exception:  # noqa: BLE001 - not up yet, whatever the client raises
            return False

    return check


@contextmanager
def container_services() -> Iterator[dict[str, str]]:
    """Start the four services in containers; yield their status; stop and remove them afterwards."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image is on a public registry
    import psycopg
    import redis
    import requests
    from confluent_kafka.admin import AdminClient
    from testcontainers.core.container import DockerContainer

    from streams.infra import scrape_targets_dir
    from streams.settings import settings

    docker_script("engine.sh", "up")
    docker_script("build.sh", "kafka", "postgres", "redis", "prometheus")
    kafka, controller, pg, rds, prom = free_ports(5)
    password = settings().redis_password.get_secret_value()
    targets = scrape_targets_dir()
    targets.mkdir(parents=True, exist_ok=True)

    def container(image: str) -> Any:
        return DockerContainer(f"hslr-offline/{image}:latest").with_kwargs(network_mode="host")

    started = {
        "kafka": container("kafka").with_envs(**_kafka_env(kafka, controller)),
        "postgres": container("postgres")
        .with_envs(POSTGRES_USER="hslr", POSTGRES_PASSWORD="hslr", POSTGRES_DB="hslr")  # noqa: S106 - test db
        .with_command(f"-c port={pg} -c listen_addresses=127.0.0.1"),
        "redis": container("redis").with_command(
            f"redis-server --bind 127.0.0.1 --port {rds} --save '' --appendonly no"
            + (f" --requirepass {password}" if password else "")
        ),
        "prometheus": container("prometheus")
        .with_volume_mapping(str(ROOT / "infra" / "prometheus"), "/hslr/infra/prometheus", "ro")
        .with_volume_mapping(str(targets), "/hslr/.cache/prometheus/targets", "ro")
        .with_command(
            "--config.file=/hslr/infra/prometheus/prometheus.yml --storage.tsdb.path=/prometheus"
            f" --web.listen-address=127.0.0.1:{prom} --web.enable-lifecycle"
        ),
    }
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "HSLR_PG_DSN": f"postgresql://hslr:hslr@127.0.0.1:{pg}/hslr",
        "REDIS_URL": f"redis://127.0.0.1:{rds}/0",
        "PROMETHEUS_URL": f"http://127.0.0.1:{prom}",
    }
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    with ExitStack() as stack:
        t0 = time.monotonic()
        for c in started.values():
            stack.enter_context(c)  # started now, stopped and removed on exit
        admin = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"], "log_level": 0})
        wait_until("kafka container", _answers(lambda: admin.list_topics(timeout=2)), 180)
        wait_until("postgres container", _answers(lambda: psycopg.connect(env["HSLR_PG_DSN"]).close()), 60)
        r = redis.Redis.from_url(env["REDIS_URL"], password=password or None)
        wait_until("redis container", _answers(r.ping), 30)
        ready = f"{env['PROMETHEUS_URL']}/-/ready"
        wait_until(
            "prometheus container", _answers(lambda: requests.get(ready, timeout=2).raise_for_status()), 60
        )
        print(f"container services up in {time.monotonic() - t0:.1f} s: {env}")
        os.environ.update(env)
        settings.cache_clear()
        try:
            yield dict.fromkeys(started, "container")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            settings.cache_clear()

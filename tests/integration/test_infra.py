"""Integration tests of the local infrastructure: real Kafka, PostgreSQL, Redis and Prometheus."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from streams.infra import (
    bootstrap_servers,
    infra_status,
    infra_up,
    register_scrape_target,
    repo_root,
    scrape_targets_dir,
    unregister_scrape_target,
)
from streams.storage.db import connect
from streams.storage.migrate import MigrationError, discover, migrate

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("services")]

ROOT = repo_root()
PROM = "http://127.0.0.1:9090"
SEED_TABLES = {
    "price_data",
    "spread_data",
    "features",
    "regime_output",
    "signals",
    "positions",
    "governance_metrics",
    "orders",
    "fills",
    "equity",
    "risk_state",
    "model_registry",
    "calendar_events",
    "quarantine",
    "backtest_runs",
    "walkforward_folds",
    "schema_migrations",
}


def _pids(pattern: str, exact: bool = False) -> list[int]:
    args = ["pgrep", "-x" if exact else "-f", pattern]
    out = subprocess.run(args, capture_output=True, text=True, check=False).stdout  # noqa: S603
    return [int(p) for p in out.split()]


def _get_json(path: str, **params: str) -> dict:
    url = f"{PROM}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local Prometheus
        return json.load(resp)


@pytest.fixture
def scratch_schema() -> Iterator[psycopg.Connection]:
    """A connection whose search_path is a fresh schema, so migrations run against an empty database."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with connect(autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        try:
            yield conn
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_up_twice_is_idempotent() -> None:
    t0 = time.monotonic()
    infra_up()
    assert time.monotonic() - t0 < 30, "a second `up` must find everything running, not restart it"
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        # this checkout's broker only: the chaos suite runs a private one (its own cache dir) beside it
        # for the whole session (regression: CI counted 2 brokers and failed)
        ours = (
            Path(os.environ.get("HSLR_KAFKA_CACHE") or repo_root() / ".cache" / "kafka") / "server.properties"
        )
        assert len(_pids(rf"java .*kafka\.Kafka {re.escape(str(ours))}")) == 1
    assert len(_pids("redis-server", exact=True)) == 1
    assert len(_pids("prometheus", exact=True)) == 1
    status = infra_status()
    assert status["postgres"] == status["redis"] == status["prometheus"] == "running"
    assert status["kafka"] in {"running", "external"}


def test_kafka_answers_metadata() -> None:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": bootstrap_servers()}).list_topics(timeout=10)
    assert len(meta.brokers) == 1


def test_migrate_applies_all_then_nothing(scratch_schema: psycopg.Connection) -> None:
    versions = [m.version for m in discover()]
    assert versions[0] == "0001_init"
    assert migrate(scratch_schema) == versions
    assert migrate(scratch_schema) == []
    applied = scratch_schema.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [v for (v,) in applied] == versions


SINK_KEYS = {  # 0005: every sink key starts with the topic namespace and keeps its ts column
    "features": "PRIMARY KEY (namespace, pair, ts)",
    "regime_output": "PRIMARY KEY (namespace, pair, ts)",
    "signals": "PRIMARY KEY (namespace, pair, ts)",
    "positions": "PRIMARY KEY (namespace, pair, ts)",
    "equity": "PRIMARY KEY (namespace, ts)",
    "governance_metrics": "PRIMARY KEY (namespace, ts)",
    "orders": "PRIMARY KEY (namespace, client_order_id)",
    "fills": "PRIMARY KEY (namespace, fill_id)",
}


def test_sink_tables_are_keyed_by_namespace(scratch_schema: psycopg.Connection) -> None:
    migrate(scratch_schema)
    keys = dict(
        scratch_schema.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'p' AND connamespace = current_schema()::regnamespace"
        ).fetchall()
    )
    assert {t: keys[t] for t in SINK_KEYS} == SINK_KEYS
    (fk,) = scratch_schema.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fills_client_order_id_fkey'"
        " AND connamespace = current_schema()::regnamespace"
    ).fetchone() or (None,)
    assert fk == "FOREIGN KEY (namespace, client_order_id) REFERENCES orders(namespace, client_order_id)"
    defaults = scratch_schema.execute(
        "SELECT table_name, column_default, is_nullable FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND column_name = 'namespace' ORDER BY table_name"
    ).fetchall()
    assert defaults == [(t, "'hslr'::text", "NO") for t in sorted([*SINK_KEYS, "quarantine"])]


def test_migrate_refuses_changed_file(scratch_schema: psycopg.Connection, tmp_path: Path) -> None:
    for m in discover():
        shutil.copy(m.path, tmp_path / m.path.name)
    migrate(scratch_schema, tmp_path)
    first = sorted(tmp_path.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(scratch_schema, tmp_path)


def test_every_seed_table_exists() -> None:
    with connect() as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert {r[0] for r in rows} >= SEED_TABLES


def test_price_data_upsert_is_idempotent() -> None:
    pair = f"T{uuid.uuid4().hex[:6]}"
    upsert = (
        "INSERT INTO price_data (pair, ts, open, high, low, close, volume, source)"
        " VALUES (%s, '2024-01-02T10:00:00Z', 1.1, 1.2, 1.0, %s, 10, 'test')"
        " ON CONFLICT (pair, ts) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,"
        " low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source"
    )
    with connect() as conn:
        try:
            conn.execute(upsert, (pair, 1.15))
            conn.execute(upsert, (pair, 1.16))
            rows = conn.execute("SELECT close FROM price_data WHERE pair = %s", (pair,)).fetchall()
            assert rows == [(1.16,)]
        finally:
            conn.rollback()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "infra/prometheus/prometheus.yml"],
        ["check", "rules", "infra/prometheus/alerts.yml"],
        ["test", "rules", "infra/prometheus/alerts_test.yml", "infra/prometheus/alerts_long_test.yml"],
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: list[str]) -> None:
    proc = subprocess.run(["promtool", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603,S607
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_ready_and_discovers_registered_target() -> None:
    with urllib.request.urlopen(f"{PROM}/-/ready", timeout=5) as resp:  # noqa: S310
        assert resp.status == 200
    name = f"itest-{uuid.uuid4().hex[:8]}"
    register_scrape_target(name, 18999)
    try:
        assert (scrape_targets_dir() / f"{name}.json").exists()
        deadline, found = time.monotonic() + 15, False
        while not found and time.monotonic() < deadline:
            targets = _get_json("/api/v1/targets")["data"]["activeTargets"]
            found = any(
                t["labels"].get("worker") == name and t["labels"]["job"] == "hslr-workers" for t in targets
            )
            time.sleep(0.5)
        assert found, f"Prometheus did not discover {name} within 15 s"
    finally:
        unregister_scrape_target(name)
    assert not (scrape_targets_dir() / f"{name}.json").exists()


def test_prometheus_loaded_alert_rules() -> None:
    groups = _get_json("/api/v1/rules")["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"HslrKillSwitchActive", "HslrDrawdownAbove5Pct", "HslrLastEventStale"} <= names


def test_dashboard_queries_parse() -> None:
    exprs = []
    for path in (ROOT / "infra/grafana/dashboards").glob("*.json"):
        dash = json.loads(path.read_text())
        exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        scoped = expr.replace("$stage", ".*").replace("$pair", ".*").replace("$namespace", "hslr")
        result = _get_json("/api/v1/query", query=scoped)
        assert result["status"] == "success", expr


def test_redis_ping() -> None:
    import redis

    from streams.settings import settings
    from streams.storage.redis_cache import LatestCache

    assert LatestCache.connect(None, "ping").client.ping()  # authenticated from the settings
    if settings().redis_password.get_secret_value():
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5).ping()


def test_compose_matches_pinned_kafka() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    pinned = re.search(r"<kafka.version>(.+?)</kafka.version>", (ROOT / "infra/kafka/pom.xml").read_text())
    assert pinned
    assert re.search(rf"^\s+image: apache/kafka:{re.escape(pinned.group(1))}\b", text, re.M)
    try:
        import yaml
    except ImportError:  # PyYAML is not a project dependency; the structural check is a bonus
        return
    services = yaml.safe_load(text)["services"]
    assert {"kafka", "timescaledb", "redis", "prometheus", "grafana", "migrate", "worker"} <= set(services)


def test_services_script_applies_the_redis_password(tmp_path: Path) -> None:
    # issue 11 #4: Redis had no password. A second Redis on a spare port, never the shared one.
    import subprocess

    import redis

    env = {
        **os.environ,
        "HSLR_CACHE_DIR": str(tmp_path),
        "HSLR_REDIS_PORT": "6391",
        "HSLR_ENV_FILE": str(tmp_path / "hslr.env"),
    }
    env.pop("REDIS_PASSWORD", None)
    (tmp_path / "hslr.env").write_text("REDIS_PASSWORD=from-the-env-file-123\n")
    script = str(ROOT / "infra/services.sh")
    subprocess.run(["bash", script, "up", "redis"], env=env, check=True, capture_output=True)  # noqa: S603, S607
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=6391, socket_timeout=5).ping()
        throwaway = "from-the-env-file-123"  # the test's own Redis on a spare port
        assert redis.Redis(port=6391, password=throwaway, socket_timeout=5).ping()
        pid = (tmp_path / "redis" / "redis.pid").read_text().strip()
        assert "from-the-env-file" not in Path(f"/proc/{pid}/cmdline").read_text()
    finally:
        subprocess.run(["bash", script, "down", "redis"], env=env, check=True, capture_output=True)  # noqa: S603, S607


def test_first_setup_generates_the_postgres_password_and_never_overwrites_a_role(
    services: dict[str, str], tmp_path: Path
) -> None:
    # issue 11: PostgreSQL had the built-in password hslr/hslr. On a first setup (no secret anywhere)
    # `up postgres` generates one into the user's secrets file (mode 600); a role that already exists
    # with another password is never altered (other checkouts use it): the script says what to do.
    import subprocess

    if (ROOT / "infra" / "hslr.env").exists() and "HSLR_PG_PASSWORD=" in (
        ROOT / "infra/hslr.env"
    ).read_text():
        pytest.skip("this checkout's infra/hslr.env names the password: nothing to generate")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("HSLR_PG_PASSWORD", None)
    script = str(ROOT / "infra/services.sh")
    cmd = ["bash", script, "up", "postgres"]  # noqa: S607 - bash on PATH
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    secrets = tmp_path / "hslr" / "hslr.env"
    assert secrets.stat().st_mode & 0o777 == 0o600
    generated = re.fullmatch(r"HSLR_PG_PASSWORD=([A-Za-z0-9_-]{24})\n", secrets.read_text())
    assert generated, secrets.read_text()
    assert proc.returncode == 1  # the shared role exists with the password of the real setup
    assert "exists with another password than HSLR_PG_PASSWORD" in proc.stderr

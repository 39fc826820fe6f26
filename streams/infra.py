"""Local infrastructure: start/stop Kafka and the services, migrate the database, register scrape targets.

Thin wrappers around ``infra/kafka.sh`` and ``infra/services.sh`` for the ``hslr infra`` and ``hslr db``
commands and the integration tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from streams.settings import settings

ALL_SERVICES = ("kafka", "postgres", "redis", "prometheus")
_SHELL_SERVICES = ("postgres", "redis", "prometheus")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def repo_root() -> Path:
    """Return the repository root (the folder holding ``infra/``)."""
    return Path(__file__).resolve().parents[1]


def bootstrap_servers() -> str:
    """Return the Kafka bootstrap servers (``Settings.kafka_bootstrap_servers``)."""
    return settings().kafka_bootstrap_servers


def _run(script: str, *args: str, timeout: float = 600, stdin: str | None = None) -> str:
    path = repo_root() / "infra" / script
    try:
        proc = subprocess.run(  # noqa: S603 - fixed script path, arguments from a closed set
            ["bash", str(path), *args],  # noqa: S607 - the tool is found on PATH on purpose (bash, git, chromium)
            cwd=repo_root(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"infra/{script} {' '.join(args)} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise RuntimeError(f"infra/{script} {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _check(services: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(services)
    unknown = sorted(set(chosen) - set(ALL_SERVICES))
    if unknown:
        raise ValueError(f"unknown services {unknown}; choose from {ALL_SERVICES}")
    return chosen


def infra_up(services: Iterable[str] = ALL_SERVICES) -> None:
    """Start the given services (idempotent: running ones are left alone).

    Raises
    ------
    RuntimeError
        With the script's stderr tail when a service fails to start.
    """
    chosen = _check(services)
    for svc in _SHELL_SERVICES:
        if svc in chosen:
            _run("services.sh", "up", svc)
    if "kafka" in chosen:
        _run("kafka.sh", "up")


def infra_down(services: Iterable[str] = ALL_SERVICES) -> None:
    """Stop the given services; stopping a stopped service is a no-op."""
    chosen = _check(services)
    if "kafka" in chosen:
        _run("kafka.sh", "down")
    for svc in _SHELL_SERVICES:
        if svc in chosen:
            _run("services.sh", "down", svc)


def infra_status() -> dict[str, str]:
    """Return ``{service: "running" | "stopped" | "external"}`` for Kafka, Postgres, Redis, Prometheus."""
    status = {"kafka": _run("kafka.sh", "status").strip()}
    for line in _run("services.sh", "status", "all").splitlines():
        name, _, state = line.partition(":")
        if state:
            status[name.strip()] = state.strip()
    return status


def ensure_reader_role(user: str, password: str) -> None:
    """Create (or re-password) the login role ``user`` in the read-only group ``hslr_reader`` and grant
    the group SELECT on every table (``infra/services.sh reader``; needs the local PostgreSQL cluster's
    superuser, as ``hslr infra up`` does). The password travels on stdin, never in argv."""
    _run("services.sh", "reader", user, stdin=password + "\n", timeout=60)


def db_migrate() -> list[str]:
    """Apply pending database migrations; return the versions applied (empty when up to date)."""
    from streams.storage.db import connect
    from streams.storage.migrate import migrate

    with connect() as conn:
        return migrate(conn)


def scrape_targets_dir() -> Path:
    """Return the folder Prometheus' file_sd watches (``Settings.hslr_scrape_targets_dir`` overrides)."""
    override = settings().hslr_scrape_targets_dir
    return Path(override) if override else repo_root() / ".cache" / "prometheus" / "targets"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_dead_targets(host: str, port: int) -> list[str]:
    """Remove the scrape-target files of dead processes on ``host``; return the names removed.

    A file is dead when its ``pid`` label names a process that no longer runs on this host, or when it
    points at ``host:port`` (the port this process now owns). Files of other hosts (other containers,
    other PID namespaces) are left alone. Workers killed by SIGKILL never unregister; without this
    their names kept being scraped from a reused port, so a live worker's metrics showed dead names.
    """
    removed = []
    for path in sorted(scrape_targets_dir().glob("*.json")):
        try:
            entry = json.loads(path.read_text())[0]
            target, labels = str(entry["targets"][0]), dict(entry.get("labels", {}))
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        if target.rsplit(":", 1)[0] != host:
            continue
        pid = labels.get("pid", "")
        dead = (pid.isdigit() and not _pid_alive(int(pid))) or target == f"{host}:{port}"
        if dead:
            path.unlink(missing_ok=True)
            removed.append(path.stem)
    return removed


def register_scrape_target(name: str, port: int, namespace: str = "", role: str = "") -> None:
    """Announce a worker's metrics endpoint to Prometheus.

    Writes ``<name>.json`` atomically (temporary file + rename) so Prometheus never reads half a file.
    The host is ``Settings.hslr_scrape_host`` (a container name under docker-compose; ``127.0.0.1``).
    Target labels: ``worker`` (the name), ``pid`` and, when given, ``namespace`` (the watchdog scopes its
    queries by it). Dead processes' files on this host are removed first (:func:`clean_dead_targets`).

    Parameters
    ----------
    name
        Worker name, unique per process (letters, digits, ``_.-``); becomes the ``worker`` target label.
    port
        TCP port of the worker's ``/metrics`` endpoint.
    namespace
        Topic namespace of the worker.
    role
        ``live`` or ``replay`` (a worker on another namespace than the configured one: a backtest or a
        test); the trading and governance alerts ignore ``replay`` targets.
    """
    if not _NAME.match(name):
        raise ValueError(f"scrape target name {name!r} must match {_NAME.pattern}")
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    host = settings().hslr_scrape_host
    # `worker`, not `stage`: a target label named like the metrics' own `stage` label would rename theirs.
    labels = {
        "worker": name,
        "pid": str(os.getpid()),
        **({"namespace": namespace} if namespace else {}),
        **({"role": role} if role else {}),
    }
    body = json.dumps([{"targets": [f"{host}:{port}"], "labels": labels}], indent=2)
    directory = scrape_targets_dir()
    directory.mkdir(parents=True, exist_ok=True)
    clean_dead_targets(host, port)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, directory / f"{name}.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unregister_scrape_target(name: str) -> None:
    """Remove a worker's scrape target; a missing one is ignored."""
    if not _NAME.match(name):
        raise ValueError(f"scrape target name {name!r} must match {_NAME.pattern}")
    (scrape_targets_dir() / f"{name}.json").unlink(missing_ok=True)

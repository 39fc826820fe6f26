"""The offline compose stack as a test sees it: engine, cached build, compose on free loopback ports,
health waits, a SIGKILL of a service's main process, and a `down` that must leave nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.offline.yml")
PORT_VARS = ("HSLR_KAFKA_PORT", "HSLR_PG_PORT", "HSLR_REDIS_PORT", "HSLR_PROM_PORT", "HSLR_GRAFANA_PORT")


ENGINE_REFUSED = 3  # engine.sh's exit code when this machine refuses a Docker engine


class EngineRefused(AssertionError):
    """dockerd would not start on this machine under any storage driver; the message has its reasons."""


def docker_script(name: str, *args: str) -> None:
    """Run ``infra/docker/<name>`` (engine.sh, build.sh); an AssertionError with its stderr if it fails
    (EngineRefused when engine.sh says the machine refuses a Docker engine).
    The wheelhouse build.sh makes pins this interpreter's package versions."""
    bash = shutil.which("bash") or "/bin/bash"
    p = subprocess.run(  # noqa: S603 - fixed argv
        [bash, str(ROOT / "infra" / "docker" / name), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, HSLR_PYTHON=sys.executable),
    )
    if p.returncode:
        kind = EngineRefused if p.returncode == ENGINE_REFUSED else AssertionError
        raise kind(f"infra/docker/{name} {' '.join(args)} failed:\n{p.stderr[-3000:]}")


def compose_command() -> list[str]:
    """Compose v1 (Debian's docker-compose) or the v2 plugin, whichever is installed; [] if none."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and _ok(["docker", "compose", "version"]):
        return ["docker", "compose"]
    return []


def _ok(cmd: Sequence[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0  # noqa: S603


def run(cmd: Sequence[str], timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; its stdout, or an AssertionError with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)  # noqa: S603
    if p.returncode:
        raise AssertionError(
            f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        )
    return p.stdout


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports nobody listens on now (the host's own services keep theirs)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> float:
    """Poll ``check`` until true; the seconds it took, or an AssertionError naming ``what``."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - t0


@dataclass
class Stack:
    """One compose project of the offline stack (a unique project name, free ports, extra files)."""

    extra_files: Sequence[Path] = ()
    env_file: Path | None = None
    project: str = field(default_factory=lambda: f"hslrdeploy{uuid.uuid4().hex[:8]}")
    ports: dict[str, int] = field(default_factory=dict)
    pg_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Compose interpolates the passwords (none is built in): a fresh one per stack."""

    def __post_init__(self) -> None:
        if not self.ports:
            self.ports = dict(zip(PORT_VARS, free_ports(len(PORT_VARS)), strict=True))

    def env(self) -> dict[str, str]:
        import os

        env = dict(os.environ, **{k: str(v) for k, v in self.ports.items()})
        env["HSLR_ENV_FILE"] = str(self.env_file or ROOT / "infra" / "hslr.env.example")
        env["HSLR_PG_PASSWORD"] = self.pg_password
        env["GRAFANA_ADMIN_PASSWORD"] = self.pg_password
        return env

    def compose(self, *args: str, timeout: float = 600) -> str:
        files = [str(ROOT / f) for f in COMPOSE_FILES] + [str(f) for f in self.extra_files]
        cmd = [*compose_command(), "-p", self.project, "--project-directory", str(ROOT)]
        cmd += [x for f in files for x in ("-f", f)]
        return run([*cmd, *args], timeout=timeout, env=self.env())

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def inspect(self, service: str) -> dict:
        return json.loads(run(["docker", "inspect", self.container(service)]))[0]

    def healthy(self, service: str) -> bool:
        state = self.inspect(service)["State"]
        return state.get("Health", {}).get("Status") == "healthy"

    def kill9(self, service: str) -> tuple[int, str]:
        """SIGKILL the service's main process from the host (a crash, not `docker stop`/`docker kill`,
        which mark the container as stopped by hand and bypass the restart policy). Returns its pid and
        the container's start time before the kill."""
        state = self.inspect(service)["State"]
        run(["kill", "-9", str(state["Pid"])])
        return state["Pid"], state["StartedAt"]

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {
            "containers": run(["docker", "ps", "-aq", "--filter", label]).split(),
            "networks": run(["docker", "network", "ls", "-q", "--filter", label]).split(),
            "volumes": run(["docker", "volume", "ls", "-q", "--filter", label]).split(),
        }
        return {k: v for k, v in found.items() if v}

    def down(self) -> None:
        profiles = ("--profile", "grafana", "--profile", "live")
        self.compose(*profiles, "down", "-v", "--remove-orphans", "-t", "5", timeout=180)

"""Fixtures of the chaos suite: a private Kafka broker the tests may stop and restart (the shared one is
never touched); the trained pipeline and its undisturbed in-process result are the integration suite's
(``trained``: three pairs, two weeks replayed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.infra import repo_root
from tests.integration.conftest import services, trained

__all__ = ["services", "trained"]  # the integration suite's fixtures (session scope: computed once per run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateBroker:
    """A single-node KRaft broker of this test run, started by ``infra/kafka.sh`` with its own port, data
    directory, pid and log (``HSLR_KAFKA_CACHE``), sharing the jars of the project's broker."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        libs = os.environ.get("HSLR_KAFKA_LIBS") or str(repo_root() / ".cache" / "kafka" / "libs")
        self.env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"} | {
            "HSLR_KAFKA_CACHE": str(cache),
            "HSLR_KAFKA_LIBS": libs,
            "HSLR_KAFKA_PORT": str(self.port),
            "HSLR_KAFKA_CONTROLLER_PORT": str(free_port()),
            "HSLR_KAFKA_UP_TIMEOUT_S": "90",
            "HSLR_PYTHON": sys.executable,
        }

    def _script(self, action: str) -> None:
        proc = subprocess.run(  # noqa: S603 - fixed script, fixed arguments
            ["bash", str(repo_root() / "infra" / "kafka.sh"), action],  # noqa: S607 - bash on PATH
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"private broker {action} failed: {proc.stderr.strip()[-2000:]}")

    def start(self) -> None:
        self._script("up")

    def stop(self) -> None:
        self._script("down")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    b = PrivateBroker(tmp_path_factory.mktemp("kafka"))
    b.start()
    try:
        yield b
    finally:
        b.stop()

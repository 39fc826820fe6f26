"""Fixtures of the deployment test: the engine, the cached offline build, and the models it deploys."""

from __future__ import annotations

import os
import time

import pytest

from tests.deploy.stack import compose_command, docker_script
from tests.integration.conftest import trained  # noqa: F401 - the in-process reference and its models


@pytest.fixture(scope="session")
def engine() -> None:
    """A Docker engine (installed and started as root when none answers). HSLR_DEPLOY_TEST=0 skips the
    deployment tests on machines that must not run one; anywhere else an engine that cannot start fails."""
    if os.environ.get("HSLR_DEPLOY_TEST", "1") == "0":
        pytest.skip("HSLR_DEPLOY_TEST=0: deployment tests switched off")
    docker_script("engine.sh", "up")
    assert compose_command(), "neither docker-compose nor the compose plugin is installed"


@pytest.fixture(scope="session")
def images(engine: None) -> float:
    """The offline images (infra/docker/build.sh, cached by content hash); the seconds the build took."""
    t0 = time.monotonic()
    docker_script("build.sh")
    return time.monotonic() - t0

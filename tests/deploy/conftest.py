"""Fixtures of the deployment test: the engine, the cached offline build, and the models it deploys."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.deploy.stack import ROOT, compose_command
from tests.integration.conftest import trained  # noqa: F401 - the in-process reference and its models


@pytest.fixture(scope="session")
def engine() -> None:
    """A Docker engine (installed and started as root when none answers). HSLR_DEPLOY_TEST=0 skips the
    deployment tests on machines that must not run one; anywhere else an engine that cannot start fails."""
    if os.environ.get("HSLR_DEPLOY_TEST", "1") == "0":
        pytest.skip("HSLR_DEPLOY_TEST=0: deployment tests switched off")
    p = subprocess.run(  # noqa: S603
        ["bash", str(ROOT / "infra" / "docker" / "engine.sh"), "up"], capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, f"no Docker engine: {p.stderr[-2000:]}"
    assert compose_command(), "neither docker-compose nor the compose plugin is installed"


@pytest.fixture(scope="session")
def images(engine: None) -> float:
    """The offline images (infra/docker/build.sh, cached by content hash); the seconds the build took."""
    t0 = time.monotonic()
    p = subprocess.run(  # noqa: S603 - the wheelhouse pins the versions of this interpreter's environment
        ["bash", str(ROOT / "infra" / "docker" / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, HSLR_PYTHON=sys.executable),
    )
    assert p.returncode == 0, f"offline image build failed: {p.stderr[-3000:]}"
    return time.monotonic() - t0

"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest

from tests.kit.runner import RUN_MODES, Runner


@pytest.fixture(params=RUN_MODES)
def runner(request: pytest.FixtureRequest) -> Runner:
    """Run a stage under each run mode (one batch, random splits, per record, fused, runtime with Avro)."""
    return Runner(request.param)

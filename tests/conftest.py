"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.runner import RUN_MODES, Runner


@pytest.fixture(params=RUN_MODES)
def runner(request: pytest.FixtureRequest) -> Runner:
    """Run a stage under each run mode (one batch, random splits, per record, fused, runtime with Avro)."""
    return Runner(request.param)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; a test that sets an environment variable must see it."""
    from streams.settings import settings

    settings.cache_clear()
    yield
    settings.cache_clear()

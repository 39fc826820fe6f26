"""Shared fixtures for integration tests: the real services the project starts (no mocks)."""

from __future__ import annotations

import pytest

from streams.infra import db_migrate, infra_status, infra_up


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """Start Kafka, Postgres, Redis and Prometheus once and migrate the database.

    Nothing is torn down afterwards: other integration modules reuse the services, and the CI script
    stops them (``hslr infra down``).
    """
    infra_up()
    db_migrate()
    return infra_status()

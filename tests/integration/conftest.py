"""Shared fixtures for integration tests: the real services the project starts (no mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from streams.core.batch import Batch
from streams.infra import db_migrate, infra_status, infra_up

SPLIT = int(datetime(2020, 2, 3, tzinfo=UTC).timestamp() * 1000)
PAIRS = ["EURUSD", "GBPUSD", "USDJPY"]


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """Start Kafka, Postgres, Redis and Prometheus once and migrate the database.

    HSLR_TEST_SERVICES=containers: the four run in containers of the offline images, started with
    testcontainers on free loopback ports for this session and removed afterwards
    (``tests/integration/containers.py``). Otherwise (default, ``host``) the host-installed services:
    nothing is torn down afterwards, other integration modules reuse them, and the CI script stops them
    (``hslr infra down``).
    """
    if os.environ.get("HSLR_TEST_SERVICES", "host") == "containers":
        from tests.integration.containers import container_services

        with container_services() as status:
            db_migrate()
            yield status
        return
    infra_up()
    db_migrate()
    yield infra_status()


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, object, dict[str, Batch]]:
    """Test bars (3 pairs, 2 weeks after 2020-02-03, with the real calendar's shocks when the shared data is
    there), a config with regime and edge models trained on the 4 weeks before them, and the in-process
    result on the test bars: the reference the Kafka deployments are compared with."""
    from backtest.engine import run_inprocess_engine
    from streams.config import build_config
    from streams.data.synth import generate_market
    from streams.services.features import compute_features
    from streams.services.runs import default_calendar_path, with_models
    from streams.training.artifacts import train_edge_artifact, train_regime_artifact

    root = tmp_path_factory.mktemp("models")
    calendar = default_calendar_path("")
    cal = None
    if calendar:
        from streams.data.calendar import read_calendar_file

        cal = dict(read_calendar_file(calendar))
    market = Batch(generate_market(PAIRS, "2020-01-06", "2020-02-15", 5, calendar=cal).bars)
    train, test = market.take(market["ts"] < SPLIT), market.take(market["ts"] >= SPLIT)
    base = build_config({"market": {"pairs": PAIRS}})  # the pairs that make a minute complete
    features = compute_features(train, base)
    now = datetime(2020, 2, 3, tzinfo=UTC)
    regime = train_regime_artifact(
        features, base.regime, created_at=now, code_version="test", params={}, root=root / "regime"
    )
    # The parity test compares engines on orders and fills, so it needs a model that trades on this short
    # synthetic window: the mid-to-mid model. The execution-priced default finds no skill in 4 weeks of
    # filled passive trades here and refuses to trade (no_skill), which would make the comparison vacuous.
    ecfg = base.edge.model_copy(update={"execution_priced": False})
    edge = train_edge_artifact(
        features, ecfg, created_at=now, code_version="test", params={}, root=root / "edge"
    )
    config = with_models(base, str(regime.path), str(edge.path), calendar)
    return test, config, run_inprocess_engine(test, config)


@pytest.fixture
def scratch_db(services: dict[str, str]) -> Iterator[str]:
    """The DSN of a fresh, migrated database on the shared server, dropped afterwards."""
    import uuid

    from streams.storage.db import connect, default_dsn
    from streams.storage.migrate import migrate

    name = f"hslr_t_{uuid.uuid4().hex[:10]}"
    with connect(autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    dsn = dsn_for(default_dsn(), name)
    try:
        with connect(dsn) as conn:
            migrate(conn)
        yield dsn
    finally:
        with connect(autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def dsn_for(dsn: str, database: str) -> str:
    """``dsn`` with its database replaced by ``database``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(dsn), "dbname": database})

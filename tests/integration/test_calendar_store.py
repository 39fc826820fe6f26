"""calendar_events upsert against the real PostgreSQL: idempotent, updates by event_id, round trip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from streams.data.calendar import import_calendar
from streams.storage.calendar_store import load_events, upsert_events
from streams.storage.db import connect

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calendar" / "forexfactory_calendar_sample.csv"


@pytest.fixture
def conn(services: dict[str, str]) -> Iterator[psycopg.Connection]:
    with connect() as c:
        yield c


def test_upsert_is_idempotent_and_updates(conn: psycopg.Connection) -> None:
    tag = f"test-{uuid.uuid4().hex[:8]}-"
    batch = import_calendar([FIXTURE])
    batch = batch.with_columns(event_id=np.char.add(tag, batch["event_id"]))
    try:
        assert upsert_events(conn, batch) == batch.n
        assert upsert_events(conn, batch) == 0  # same rows again: nothing written
        fed = batch["event_id"] == tag + "101945"
        revised = batch.with_columns(
            actual=np.where(fed, "<2.00%", batch["actual"]),
            actual_value=np.where(fed, 2.0, batch["actual_value"]),
        )
        assert upsert_events(conn, revised) == 1
        lo, hi = datetime(2019, 11, 1, tzinfo=UTC), datetime(2020, 4, 1, tzinfo=UTC)
        stored = load_events(conn, lo, hi)
        mine = stored.take(np.char.startswith(stored["event_id"], tag))
        assert mine.n == batch.n
        order = np.argsort(revised["event_id"])
        back = mine.take(np.argsort(mine["event_id"]))
        for k in ("ts", "currency", "impact", "title", "actual", "forecast", "previous", "source"):
            np.testing.assert_array_equal(back[k], revised[k][order])
        np.testing.assert_array_equal(back["actual_value"], revised["actual_value"][order])
    finally:
        conn.execute("DELETE FROM calendar_events WHERE event_id LIKE %s", (tag + "%",))
        conn.commit()

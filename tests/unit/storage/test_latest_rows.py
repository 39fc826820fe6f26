"""The Redis cache's choice of the latest record per pair (pure part of streams/storage/redis_cache.py)."""

from __future__ import annotations

from streams.core.batch import Batch
from streams.storage.redis_cache import latest_rows


def test_latest_per_pair_last_on_ties() -> None:
    b = Batch({"pair": ["A", "B", "A", "A", "B"], "ts": [3, 1, 5, 5, 0], "v": [1, 2, 3, 4, 5]})
    rows = {r["pair"]: r["v"] for r in latest_rows(b)}
    assert rows == {"A": 4, "B": 2}


def test_records_without_a_pair_are_one_group() -> None:
    # governance records have no pair: before the API they could not be cached (KeyError 'pair')
    b = Batch({"ts": [10, 30, 20], "state": ["NORMAL", "HALTED", "REDUCED"]})
    assert [(r["ts"], r["state"]) for r in latest_rows(b)] == [(30, "HALTED")]

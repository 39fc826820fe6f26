"""Latest record per pair in Redis, for the live path (dashboards, operators, the API).

One hash per topic and pair, ``hslr:<namespace>:latest:<topic>:<pair>``, with fields ``ts`` (event time,
ms UTC) and ``record`` (the record's fields as JSON, NaN as null). A Lua script compares and sets in one
step, so the cache only ever moves forward in event time: a replay or a redelivery of older records
leaves it untouched.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import redis

from streams.core.batch import Batch

CACHED_TOPICS = ("bars.clean", "features")
"""Topics whose latest record per pair the live path caches."""

_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 'ts')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'record', ARGV[2])
return 1
"""


def cache_key(namespace: str, topic: str, pair: str) -> str:
    """Redis key of the latest ``topic`` record of ``pair``."""
    return f"hslr:{namespace}:latest:{topic}:{pair}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes | bytearray):
        return v.hex()
    return v


def latest_rows(batch: Batch) -> list[dict[str, Any]]:
    """The record with the largest ``ts`` of each pair in ``batch`` (the last one on ties), as dicts."""
    if not batch.n:
        return []
    pairs, ts = np.asarray(batch["pair"]).astype(str), np.asarray(batch["ts"], dtype=np.int64)
    order = np.lexsort((np.arange(batch.n), ts, pairs))  # by pair, then ts, then arrival
    last = order[np.r_[pairs[order][1:] != pairs[order][:-1], True]]
    return batch.take(np.sort(last)).to_records()


class LatestCache:
    """Compare-and-set cache of the latest record per (topic, pair).

    Parameters
    ----------
    client
        A ``redis.Redis`` client (``LatestCache.connect(url)`` makes one).
    namespace
        Topic namespace: keeps backtest runs apart from the live cache.
    """

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client, self.namespace = client, namespace
        self._script = client.register_script(_SET_IF_NEWER)

    @classmethod
    def connect(cls, url: str | None, namespace: str) -> LatestCache:
        """Open a client on ``url`` (``None``: the ``redis_url`` setting), authenticated with the
        ``REDIS_PASSWORD`` setting when one is set and the URL carries none."""
        from streams.settings import settings

        s = settings()
        url = s.redis_url if url is None else url
        password = s.redis_password.get_secret_value() or None
        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        if password and not client.connection_pool.connection_kwargs.get("password"):
            client = redis.Redis.from_url(
                url, password=password, socket_timeout=10, socket_connect_timeout=10
            )
        return cls(client, namespace)

    def update(self, topic: str, batch: Batch) -> int:
        """Store each pair's latest record of ``batch`` where it is newer than the cached one.

        Returns the number of pairs whose entry moved forward.
        """
        rows = latest_rows(batch)
        if not rows:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for r in rows:
            record = json.dumps({k: _jsonable(v) for k, v in r.items()})
            self._script(
                keys=[cache_key(self.namespace, topic, str(r["pair"]))],
                args=[int(r["ts"]), record],
                client=pipe,
            )
        return int(sum(pipe.execute()))

    def get(self, topic: str, pair: str) -> dict[str, Any] | None:
        """The cached latest ``topic`` record of ``pair`` (``None`` when none)."""
        raw = self.client.hget(cache_key(self.namespace, topic, pair), "record")
        return None if raw is None else json.loads(raw)

    def get_ts(self, topic: str, pair: str) -> int | None:
        """Event time (ms UTC) of the cached latest ``topic`` record of ``pair``."""
        raw = self.client.hget(cache_key(self.namespace, topic, pair), "ts")
        return None if raw is None else int(raw)

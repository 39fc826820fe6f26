"""Latest record per pair in Redis, for the live path (dashboards, operators, the API).

One hash per topic and pair, ``hslr:<namespace>:latest:<topic>:<pair>``, with fields ``ts`` (event time,
ms UTC) and ``record`` (the record's fields as JSON, NaN as null). A Lua script compares and sets in one
step, so the cache only ever moves forward in event time: a replay or a redelivery of older records
leaves it untouched. The same script adds the hash's key to the namespace's index set
``hslr:<namespace>:latest``, so a reader (``hslr api``) finds every cached (topic, pair) without a SCAN.
Records without a pair (``governance``) are cached under the pair ``""``, as are the portfolio's
account rows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import redis

from streams.core.batch import Batch

CACHED_TOPICS = (
    "bars.clean",
    "features",
    "regime.adjusted",
    "signals.governed",
    "orders",
    "fills",
    "portfolio",
    "governance",
)
"""Topics whose latest record per pair the live path caches."""

_SET_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], 'ts')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'record', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""


def cache_key(namespace: str, topic: str, pair: str) -> str:
    """Redis key of the latest ``topic`` record of ``pair``."""
    return f"hslr:{namespace}:latest:{topic}:{pair}"


def index_key(namespace: str) -> str:
    """Redis key of the set of ``namespace``'s cache keys."""
    return f"hslr:{namespace}:latest"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes | bytearray):
        return v.hex()
    return v


def latest_rows(batch: Batch) -> list[dict[str, Any]]:
    """The record with the largest ``ts`` of each pair in ``batch`` (the last one on ties), as dicts.

    A batch without a ``pair`` column (``governance``) has one pair, ``""``.
    """
    if not batch.n:
        return []
    pairs = np.asarray(batch["pair"]).astype(str) if "pair" in batch else np.full(batch.n, "")
    ts = np.asarray(batch["ts"], dtype=np.int64)
    order = np.lexsort((np.arange(batch.n), ts, pairs))  # by pair, then ts, then arrival
    last = order[np.r_[pairs[order][1:] != pairs[order][:-1], True]]
    return batch.take(np.sort(last)).to_records()


class CacheUnavailable(RuntimeError):
    """Redis does not answer (reads of :meth:`LatestCache.versions` and :meth:`LatestCache.records`)."""


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
                keys=[cache_key(self.namespace, topic, str(r.get("pair", ""))), index_key(self.namespace)],
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

    def versions(self) -> dict[tuple[str, str], int]:
        """Event time (ms UTC) of every cached (topic, pair) of the namespace, from its index set.

        Raises
        ------
        CacheUnavailable
            Redis does not answer.
        """
        try:
            keys = sorted(
                k.decode() if isinstance(k, bytes) else k
                for k in self.client.smembers(index_key(self.namespace))
            )
            pipe = self.client.pipeline(transaction=False)
            for k in keys:
                pipe.hget(k, "ts")
            found = pipe.execute() if keys else []
        except redis.RedisError as exc:
            raise CacheUnavailable(f"Redis unavailable ({type(exc).__name__})") from exc
        prefix = index_key(self.namespace) + ":"
        out: dict[tuple[str, str], int] = {}
        for k, ts in zip(keys, found, strict=True):
            topic, _, pair = k[len(prefix) :].rpartition(":")
            if ts is not None:
                out[(topic, pair)] = int(ts)
        return out

    def records(self, wanted: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """The cached records of ``wanted`` (topic, pair) in one round trip (``None`` where gone).

        Raises
        ------
        CacheUnavailable
            Redis does not answer.
        """
        pipe = self.client.pipeline(transaction=False)
        for topic, pair in wanted:
            pipe.hget(cache_key(self.namespace, topic, pair), "record")
        try:
            raws = pipe.execute()
        except redis.RedisError as exc:
            raise CacheUnavailable(f"Redis unavailable ({type(exc).__name__})") from exc
        return [None if raw is None else json.loads(raw) for raw in raws]

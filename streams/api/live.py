"""Server-Sent Events of the latest records per pair, read from the Redis cache the sink workers keep.

A stream first sends every cached record that matches its filter (a snapshot), then, every ``poll_s``,
each (topic, pair) whose cached event time moved forward. One event per record::

    id: 7
    event: portfolio
    data: {"topic": "portfolio", "pair": "GBPUSD", "ts": 1577836800000, "record": {...}}

``event: status`` says when the cache stops or starts answering again (the stream stays open), and a
comment line every ``heartbeat_s`` keeps proxies from closing an idle stream. Polling the cache's index
(one SMEMBERS and one pipelined HGET of the event times) costs two round trips per stream and poll,
whatever the traffic; records are fetched only when they changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from streams.storage.redis_cache import CACHED_TOPICS, CacheUnavailable, LatestCache

Key = tuple[str, str]


@dataclass(frozen=True)
class StreamFilter:
    """Which cached records a stream sends: ``topics`` and ``pairs`` (``None``: all pairs). Records
    without a pair (``governance``, the portfolio's account row) pass any pair filter."""

    topics: frozenset[str] = frozenset(CACHED_TOPICS)
    pairs: frozenset[str] | None = None

    def wants(self, topic: str, pair: str) -> bool:
        return topic in self.topics and (self.pairs is None or pair == "" or pair in self.pairs)


def changed(seen: dict[Key, int], versions: dict[Key, int], flt: StreamFilter) -> list[Key]:
    """Keys of ``versions`` the filter wants whose event time is newer than ``seen``'s, oldest first."""
    keys = [k for k, ts in versions.items() if flt.wants(*k) and ts > seen.get(k, -1)]
    return sorted(keys, key=lambda k: (versions[k], k))


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One Server-Sent Event (``data`` as one JSON line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass
class _Poll:
    cache: LatestCache
    flt: StreamFilter
    seen: dict[Key, int]

    def __call__(self) -> list[tuple[Key, int, dict[str, Any]]]:
        versions = self.cache.versions()
        keys = changed(self.seen, versions, self.flt)
        out = []
        for k, rec in zip(keys, self.cache.records(keys) if keys else [], strict=True):
            self.seen[k] = versions[k]
            if rec is not None:
                out.append((k, versions[k], rec))
        return out


async def events(
    cache: LatestCache,
    flt: StreamFilter,
    *,
    poll_s: float,
    disconnected: Callable[[], Awaitable[bool]],
    max_events: int | None = None,
    heartbeat_s: float = 15.0,
) -> AsyncIterator[str]:
    """The stream's text: a snapshot, then the changes; ends when the client goes or after
    ``max_events`` record events."""
    poll = _Poll(cache, flt, {})
    sent, healthy, beat = 0, True, time.monotonic()
    yield "retry: 2000\n\n"
    while not await disconnected():
        try:
            found = await anyio.to_thread.run_sync(poll)
        except CacheUnavailable as exc:
            if healthy:
                yield sse("status", {"cache": "unavailable", "reason": str(exc)})
            healthy, found = False, []
        else:
            if not healthy:
                yield sse("status", {"cache": "ok"})
            healthy = True
        for (topic, pair), ts, rec in found:
            sent += 1
            yield sse(topic, {"topic": topic, "pair": pair, "ts": ts, "record": rec}, sent)
            if max_events is not None and sent >= max_events:
                return
        if time.monotonic() - beat >= heartbeat_s:
            beat = time.monotonic()
            yield ": keep-alive\n\n"
        await anyio.sleep(poll_s)

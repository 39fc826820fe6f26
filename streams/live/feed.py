"""What a live market-data feed provides (the adapter interface) and the events it yields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from streams.live.quotes import BadLine, Heartbeat, Quote


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A change of the feed's health: ``state`` is ``connected``, ``silent``, ``stalled``,
    ``disconnected`` or ``rejected`` (HTTP error); ``at_s`` monotonic seconds."""

    state: str
    reason: str
    at_s: float

    @property
    def stale(self) -> bool:
        """Stale states halt new entries and raise an alert."""
        return self.state in ("silent", "stalled")


FeedEvent = Quote | Heartbeat | BadLine | FeedStatus


class MarketFeed(Protocol):
    """A live source of top-of-book quotes for a fixed set of pairs.

    ``events()`` yields quotes and heartbeats in arrival order, malformed lines as :class:`BadLine`
    (quarantine, never an exception) and :class:`FeedStatus` whenever the connection changes state; it
    reconnects by itself and ends only after ``close()``.
    """

    pairs: tuple[str, ...]

    def events(self) -> Iterator[FeedEvent]: ...

    def close(self) -> None: ...

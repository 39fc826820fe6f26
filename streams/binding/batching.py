"""Event-driven batches for the stage agents: a batch is handed over as soon as it is complete.

Faust's ``stream.take_events(max_, within)`` re-arms a ``within`` timer in a loop: a batch is handed
over at the next tick after its records arrived, and an idle worker wakes ``1/within`` times a second
(500 wake-ups/s at 2 ms), on a machine where the feed, the broker and the order gateway share two
cores. :func:`take_ready` waits without a timer while nothing is buffered, and hands a batch over

- when it holds ``max_`` events (as Faust does),
- at once when a marker (watermark, end of replay) was buffered with nothing else waiting in the
  stream's queue: a live minute ends with the feed's watermark, so the minute's bars and its
  watermark go out together without waiting for a timer,
- else ``within`` seconds after its first event (a replay's batches fill as before); with
  ``within = 0`` at once, with whatever has arrived (``hslr live`` runs its worker so: a live
  minute's bars are decided without waiting for their watermark).

It keeps what ``take_events`` guarantees: at most ``max_`` events a batch, events acknowledged only
after the agent body handled the batch, no event added while a batch is being handled. Each batch
comes with the wall time each event reached the stream (see :class:`Ready`), so the binding can tell
Kafka and Faust's delivery from the time a batch waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from streams.runner.runtime import MARKER_HEADER


@dataclass(frozen=True)
class Ready:
    """One batch: the Faust events and the wall time (s) each reached the stream, in order."""

    events: list[Any]
    arrived: list[float]


def is_marker(event: Any) -> bool:
    """Whether a Faust event is an HSLR marker (an empty message with the marker header)."""
    msg = event.message
    if msg.value:
        return False
    headers = msg.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    return any(k == MARKER_HEADER for k, _ in items)


class _Buffer:
    """The events of the batch being gathered; :meth:`add` is the stream processor that fills it."""

    def __init__(self, stream: Any, max_: int) -> None:
        self.stream, self.max_ = stream, max_
        self.queue = stream.channel.queue  # what the stream's background drainer reads from
        self.events: list[Any] = []
        self.arrived: list[float] = []
        self.got, self.ready, self.consumed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.consuming: asyncio.Future[None] | None = None

    async def add(self, value: Any) -> Any:
        event, now = self.stream.current_event, time.time()  # Faust handed it over now
        if event is None:
            raise RuntimeError("take_ready: an event without current_event")
        if self.consuming is not None:  # a batch is being handled: hold this event until it is done
            try:
                await self.consuming
            finally:
                self.consuming = None
        self.events.append(event)
        self.arrived.append(now)
        self.got.set()
        full = len(self.events) >= self.max_
        if full or (is_marker(event) and self.queue.empty()):
            self.ready.set()
        if full:  # never more than max_ a batch: wait until this one is consumed
            self.consumed.clear()
            await self.stream.wait(self.consumed)
        return value

    def take(self) -> Ready:
        """The gathered batch; events added from now on wait until :meth:`done`."""
        self.consuming = asyncio.get_running_loop().create_future()
        batch = Ready(list(self.events), list(self.arrived))
        self.events.clear()
        self.arrived.clear()
        return batch

    def done(self) -> None:
        if self.consuming is not None and not self.consuming.done():
            self.consuming.set_result(None)
        self.got.clear()
        self.ready.clear()
        self.consumed.set()


async def take_ready(stream: Any, max_: int, within: float) -> AsyncIterator[Ready]:
    """Batches of ``stream``'s events; see the module docstring."""
    buf = _Buffer(stream, max_)
    acks = stream.enable_acks
    stream.enable_acks = False  # acknowledged below, after the agent body handled the batch
    stream.add_processor(buf.add)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            if (await stream.wait(buf.got)).stopped:
                continue
            if not buf.ready.is_set() and within > 0:
                await stream.wait(buf.ready, timeout=within)
            if not buf.events:
                continue
            batch = buf.take()
            try:
                yield batch
            finally:
                for e in batch.events:
                    await stream.ack(e)
                buf.done()
    finally:
        stream.enable_acks = acks
        stream._processors.remove(buf.add)

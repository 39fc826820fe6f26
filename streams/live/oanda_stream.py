"""The OANDA v20 pricing stream as a :class:`~streams.live.feed.MarketFeed` (I/O shell), on
:class:`V20LineStream`, the line splitting, pacing and silence detection it shares with the transaction
stream (:mod:`streams.live.oanda_transactions`).

``GET {stream}/v3/accounts/{id}/pricing/stream?instruments=EUR_USD,...`` answers with chunked JSON
lines (:mod:`streams.live.quotes`). The socket read timeout is the silent-stream timeout; a stalled
price flow is detected from the lines themselves (:mod:`streams.live.health`). Either way the
connection is dropped and re-opened with backoff, never more than 2 new connections per second
(:mod:`streams.live.pacing`). 401/403/404 are not retried: a wrong token or account needs a person.

HTTP client: ``requests`` (already a dependency; its ``Session`` keeps connections alive and
``iter_content(chunk_size=None)`` hands over each chunk as it arrives, so the latency is the
network's). Lines are split here, so a line cut by a disconnect is reported, not half-parsed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Generic, TypeVar

import requests

from streams.live.endpoint import V20Endpoint
from streams.live.feed import FeedStatus
from streams.live.health import FeedState, StreamHealth
from streams.live.pacing import Backoff, RateLimit
from streams.live.quotes import BadLine, Heartbeat, Quote, instrument, parse_line

E = TypeVar("E")


class FeedRejected(RuntimeError):
    """The server refuses us for good (bad token, unknown account or instrument)."""


class V20LineStream(Generic[E]):
    """Chunked JSON lines of one v20 streaming endpoint, reconnecting for ever (the shared shell of the
    pricing and transaction streams). A subclass opens the connection (:meth:`_open`), turns a line into
    events (:meth:`_handle`) and may yield events once connected (:meth:`_after_connect`)."""

    def __init__(
        self,
        endpoint: V20Endpoint,
        health: StreamHealth | None = None,
        backoff: Backoff | None = None,
        limit: RateLimit | None = None,
        market_open: Callable[[], bool] = lambda: True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.health = health or StreamHealth()
        self.backoff, self.limit = backoff or Backoff(), limit or RateLimit()
        self.market_open, self.monotonic = market_open, monotonic
        self.session = requests.Session()
        self.connections = 0
        self._stop = threading.Event()
        self._resp: requests.Response | None = None
        self._buf = b""  # the unfinished line of the current connection

    def _open(self) -> requests.Response:
        raise NotImplementedError

    def _handle(self, line: bytes) -> Iterator[E]:
        raise NotImplementedError

    def _after_connect(self) -> Iterator[E]:
        return iter(())

    def _silent_reason(self, now_s: float) -> str:
        return self.health.reason(now_s, self.market_open())

    def close(self) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            resp.close()

    def events(self) -> Iterator[E | FeedStatus]:
        while not self._stop.is_set():
            self._pace()
            if self._stop.is_set():
                return
            status = yield from self._one_connection()
            yield status
            if status.state == "rejected":
                raise FeedRejected(status.reason)
            if not self._stop.is_set():
                self._stop.wait(self.backoff.next_delay())

    def _pace(self) -> None:
        wait = self.limit.delay(self.monotonic())
        while wait > 0 and not self._stop.wait(wait):
            wait = self.limit.delay(self.monotonic())
        self.limit.record(self.monotonic())

    def _one_connection(self) -> Generator[E | FeedStatus, None, FeedStatus]:
        """Yield the events of one connection; return the status that ended it."""
        self.connections += 1
        try:
            resp = self._open()
        except requests.RequestException as exc:
            return FeedStatus("disconnected", f"connect failed: {type(exc).__name__}", self.monotonic())
        self._resp = resp
        try:
            if resp.status_code != 200:
                state = "rejected" if resp.status_code in (401, 403, 404) else "disconnected"
                return FeedStatus(state, f"HTTP {resp.status_code}", self.monotonic())
            self.health.reset(self.monotonic())
            yield FeedStatus("connected", f"connection {self.connections}", self.monotonic())
            try:
                yield from self._after_connect()
            except requests.RequestException as exc:
                return FeedStatus("disconnected", f"catch-up failed: {type(exc).__name__}", self.monotonic())
            return (yield from self._lines(resp))
        finally:
            resp.close()
            self._resp = None

    def _lines(self, resp: requests.Response) -> Generator[E | FeedStatus, None, FeedStatus]:
        self._buf = b""
        try:
            for chunk in resp.iter_content(chunk_size=None):
                yield from self._parse(chunk)
                # prices old: only then ask the calendar (is_open_at costs more than parsing a line)
                if self.health.state(self.monotonic()) is FeedState.STALLED and self.market_open():
                    return FeedStatus("stalled", self.health.reason(self.monotonic()), self.monotonic())
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower() and not self._stop.is_set():
                return FeedStatus("silent", self._silent_reason(self.monotonic()), self.monotonic())
            return self._cut(f"connection lost: {type(exc).__name__}")
        except (requests.RequestException, OSError) as exc:
            return self._cut(f"connection lost: {type(exc).__name__}")
        except (AttributeError, ValueError):  # http.client once close() took the socket from under a read
            if self._stop.is_set():
                return self._cut("closed")
            raise
        return self._cut("server ended the stream")

    def _parse(self, chunk: bytes) -> Iterator[E]:
        *lines, self._buf = (self._buf + chunk).split(b"\n")
        for line in lines:
            yield from self._handle(line)

    def _cut(self, reason: str) -> FeedStatus:
        if self._stop.is_set():
            reason = "closed"
        elif self._buf.strip():
            reason += f"; {len(self._buf)} bytes of an unfinished line dropped"
        return FeedStatus("disconnected", reason, self.monotonic())


class OandaPriceStream(V20LineStream[Quote | Heartbeat | BadLine]):
    """The pricing stream of ``pairs`` (a :class:`~streams.live.feed.MarketFeed`)."""

    def __init__(
        self,
        endpoint: V20Endpoint,
        pairs: tuple[str, ...],
        health: StreamHealth | None = None,
        backoff: Backoff | None = None,
        limit: RateLimit | None = None,
        market_open: Callable[[], bool] = lambda: True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(endpoint, health, backoff, limit, market_open, monotonic)
        self.pairs = tuple(pairs)

    def _open(self) -> requests.Response:
        url = f"{self.endpoint.stream_url}/v3/accounts/{self.endpoint.account_id}/pricing/stream"
        return self.session.get(
            url,
            params={"instruments": ",".join(instrument(p) for p in self.pairs)},
            headers=self.endpoint.headers(),
            stream=True,
            timeout=(5.0, self.health.silent_after_s),
        )

    def _handle(self, line: bytes) -> Iterator[Quote | Heartbeat | BadLine]:
        ev = parse_line(line)
        if ev is None:
            return
        now = self.monotonic()
        if isinstance(ev, Quote):
            self.health.on_price(now, ev.pair)
            self.backoff.reset()
        elif isinstance(ev, Heartbeat):
            self.health.on_heartbeat(now)
        yield ev

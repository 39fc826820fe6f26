"""The OANDA v20 pricing stream as a :class:`~streams.live.feed.MarketFeed` (I/O shell).

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

import requests

from streams.live.endpoint import V20Endpoint
from streams.live.feed import FeedEvent, FeedStatus
from streams.live.health import FeedState, StreamHealth
from streams.live.pacing import Backoff, RateLimit
from streams.live.quotes import BadLine, Heartbeat, Quote, instrument, parse_line


class FeedRejected(RuntimeError):
    """The server refuses us for good (bad token, unknown account or instrument)."""


class OandaPriceStream:
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
        self.endpoint, self.pairs = endpoint, tuple(pairs)
        self.health = health or StreamHealth()
        self.backoff, self.limit = backoff or Backoff(), limit or RateLimit()
        self.market_open, self.monotonic = market_open, monotonic
        self.session = requests.Session()
        self.connections = 0
        self._stop = threading.Event()
        self._resp: requests.Response | None = None
        self._buf = b""  # the unfinished line of the current connection

    def close(self) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            resp.close()

    def events(self) -> Iterator[FeedEvent]:
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

    def _open(self) -> requests.Response:
        url = f"{self.endpoint.stream_url}/v3/accounts/{self.endpoint.account_id}/pricing/stream"
        return self.session.get(
            url,
            params={"instruments": ",".join(instrument(p) for p in self.pairs)},
            headers=self.endpoint.headers(),
            stream=True,
            timeout=(5.0, self.health.silent_after_s),
        )

    def _one_connection(self) -> Generator[FeedEvent, None, FeedStatus]:
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
            return (yield from self._lines(resp))
        finally:
            resp.close()
            self._resp = None

    def _lines(self, resp: requests.Response) -> Generator[FeedEvent, None, FeedStatus]:
        self._buf = b""
        try:
            for chunk in resp.iter_content(chunk_size=None):
                yield from self._parse(chunk)
                if self.health.state(self.monotonic(), self.market_open()) is FeedState.STALLED:
                    return FeedStatus("stalled", self.health.reason(self.monotonic()), self.monotonic())
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower() and not self._stop.is_set():
                return FeedStatus("silent", self.health.reason(self.monotonic()), self.monotonic())
            return self._cut(f"connection lost: {type(exc).__name__}")
        except (requests.RequestException, OSError) as exc:
            return self._cut(f"connection lost: {type(exc).__name__}")
        except (AttributeError, ValueError):  # http.client once close() took the socket from under a read
            if self._stop.is_set():
                return self._cut("closed")
            raise
        return self._cut("server ended the stream")

    def _parse(self, chunk: bytes) -> Iterator[Quote | Heartbeat | BadLine]:
        *lines, self._buf = (self._buf + chunk).split(b"\n")
        for line in lines:
            ev = parse_line(line)
            if ev is not None:
                self._observe(ev)
                yield ev

    def _cut(self, reason: str) -> FeedStatus:
        if self._stop.is_set():
            reason = "closed"
        elif self._buf.strip():
            reason += f"; {len(self._buf)} bytes of an unfinished line dropped"
        return FeedStatus("disconnected", reason, self.monotonic())

    def _observe(self, ev: Quote | Heartbeat | BadLine) -> None:
        now = self.monotonic()
        if isinstance(ev, Quote):
            self.health.on_price(now, ev.pair)
            self.backoff.reset()
        elif isinstance(ev, Heartbeat):
            self.health.on_heartbeat(now)

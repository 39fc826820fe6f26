"""The OANDA v20 transaction stream, gap-free across reconnects (I/O shell).

``GET {stream}/v3/accounts/{id}/transactions/stream`` sends each new transaction of the account as a
JSON line and a heartbeat (with ``lastTransactionID``) every 5 s; it never replays older ones. So the
stream remembers the id of the last transaction it handed over, and

* on every connection, once the stream is open, fetches ``GET {rest}/transactions/sinceid?id=<last>``
  (everything after it, paged until ``lastTransactionID``) before streaming on: what happened while it
  was away, or before it first connected, is delivered first;
* on a heartbeat whose ``lastTransactionID`` is past the last one seen, fetches the gap the same way;
* drops any transaction whose id is not past the last one (the overlap of a catch-up and the stream).

Silence (no transaction and no heartbeat for ``silent_after_s``), a cut, a reconnect backoff and the
2-new-connections-per-second limit are those of the pricing stream (:class:`V20LineStream`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import requests

from streams.live.endpoint import V20Endpoint
from streams.live.health import StreamHealth
from streams.live.oanda_stream import V20LineStream
from streams.live.pacing import Backoff, RateLimit
from streams.live.quotes import BadLine
from streams.live.v20_transactions import (
    Transaction,
    TxnEvent,
    TxnHeartbeat,
    parse_transaction,
    parse_transaction_line,
)

_MAX_PAGES = 100


class OandaTransactionStream(V20LineStream[TxnEvent]):
    """Transactions after ``since_id`` (the account's ``lastTransactionID`` when the book was read)."""

    def __init__(
        self,
        endpoint: V20Endpoint,
        since_id: int,
        health: StreamHealth | None = None,
        backoff: Backoff | None = None,
        limit: RateLimit | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(endpoint, health, backoff, limit, lambda: False, monotonic)
        self.last_id = since_id
        self.duplicates = 0
        self.catch_ups = 0
        self.timeout_s = timeout_s
        self.rest = requests.Session()
        self.rest.headers.update(endpoint.headers())

    def _open(self) -> requests.Response:
        url = f"{self.endpoint.stream_url}/v3/accounts/{self.endpoint.account_id}/transactions/stream"
        return self.session.get(
            url, headers=self.endpoint.headers(), stream=True, timeout=(5.0, self.health.silent_after_s)
        )

    def _silent_reason(self, now_s: float) -> str:
        quiet = now_s - self.health.last_any_s
        return f"transaction stream silent: no transaction or heartbeat for {quiet:.1f} s"

    def _after_connect(self) -> Iterator[TxnEvent]:
        return self._catch_up()

    def _handle(self, line: bytes) -> Iterator[TxnEvent]:
        ev = parse_transaction_line(line)
        if ev is None:
            return
        self.health.on_heartbeat(self.monotonic())
        self.backoff.reset()
        if isinstance(ev, TxnHeartbeat):
            if ev.last_id > self.last_id:  # the stream skipped something: fetch it
                yield from self._catch_up()
            yield ev
        else:
            yield from self._pass(ev)

    def _pass(self, ev: Transaction | BadLine) -> Iterator[TxnEvent]:
        if isinstance(ev, Transaction):
            if ev.id <= self.last_id:
                self.duplicates += 1
                return
            self.last_id = ev.id
        yield ev

    def _catch_up(self) -> Iterator[TxnEvent]:
        """Every transaction after ``last_id`` by ``/transactions/sinceid`` (raises RequestException)."""
        self.catch_ups += 1
        url = f"{self.endpoint.rest_url}/v3/accounts/{self.endpoint.account_id}/transactions/sinceid"
        for _ in range(_MAX_PAGES):
            resp = self.rest.get(url, params={"id": str(self.last_id)}, timeout=self.timeout_s)
            if resp.status_code != 200:
                raise requests.HTTPError(f"sinceid HTTP {resp.status_code}", response=resp)
            try:
                body = resp.json()
                txns = list(body["transactions"])
                last = int(body.get("lastTransactionID", 0))
            except (ValueError, KeyError, TypeError) as exc:  # a broken answer: retried with the connection
                raise requests.HTTPError(f"sinceid answer unreadable: {exc!r}", response=resp) from None
            before = self.last_id
            for obj in txns:
                ev = parse_transaction(obj)
                if not isinstance(ev, TxnHeartbeat):
                    yield from self._pass(ev)
            if self.last_id == before or self.last_id >= last:
                return

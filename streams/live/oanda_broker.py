"""The broker adapter interface and its OANDA v20 implementation (I/O shell over ``requests``).

Idempotent retries: a request that got no answer (timeout, dropped connection, 5xx, 429) may still
have reached the broker, so before resending, the order is looked up by its client id
(``GET /orders/@<id>``); it is resent only when the broker does not know it. v20 refuses a duplicate
client id only while the first order is pending, so a retry after a fill is caught by this lookup,
never by the broker. One kept-alive session; at most ``per_s`` (100) requests per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import requests

from streams.live.endpoint import V20Endpoint
from streams.live.pacing import Backoff, RateLimit
from streams.live.reconcile import Book
from streams.live.v20_orders import (
    Ack,
    net_positions,
    open_trades,
    order_request,
    parse_create,
    parse_order,
    working_orders,
)

_RETRY = {429, 500, 502, 503, 504}


class LiveBroker(Protocol):
    """What the order gateway needs from a venue."""

    def submit(self, rec: dict[str, Any], lookup_first: bool = False) -> Ack: ...

    def cancel(self, client_id: str) -> Ack: ...

    def book(self) -> Book: ...


class OandaBroker:
    def __init__(
        self,
        endpoint: V20Endpoint,
        gtd_min: int = 0,
        attempts: int = 3,
        timeout_s: float = 5.0,
        per_s: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint, self.gtd_min, self.attempts, self.timeout_s = endpoint, gtd_min, attempts, timeout_s
        self.session = requests.Session()
        self.session.headers.update(endpoint.headers())
        self.limit = RateLimit(per_s=per_s)
        self.sleep = sleep
        self.requests = 0
        self.last_transaction_id = 0
        """The account's last transaction when :meth:`book` read it (where the transaction stream starts)."""

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        wait = self.limit.delay(time.monotonic())
        if wait > 0:
            self.sleep(wait)
        self.limit.record(time.monotonic())
        self.requests += 1
        url = f"{self.endpoint.rest_url}/v3/accounts/{self.endpoint.account_id}{path}"
        resp = self.session.request(method, url, json=body, timeout=self.timeout_s)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        return resp.status_code, data if isinstance(data, dict) else {}

    def lookup(self, client_id: str) -> Ack:
        """The broker's view of our order ``client_id`` (NOT_FOUND when it never arrived)."""
        status, body = self._call("GET", f"/orders/@{client_id}")
        if status not in (200, 404):
            return Ack(client_id, "UNKNOWN", "", f"lookup HTTP {status}")
        return parse_order(client_id, status, body)

    def submit(self, rec: dict[str, Any], lookup_first: bool = False) -> Ack:
        """Send a NEW instruction at most once (see the module docstring); ``lookup_first`` for a
        redelivered instruction that may have been sent before a restart."""
        cid = rec["client_order_id"]
        body = order_request(rec, self.gtd_min)
        backoff = Backoff(initial_s=0.05, cap_s=1.0)
        reason = ""
        for attempt in range(self.attempts):
            if lookup_first or attempt > 0:
                known = self._lookup_quietly(cid)
                if known.state not in ("NOT_FOUND", "UNKNOWN"):
                    return known
                if known.state == "UNKNOWN":  # cannot tell: resending could duplicate
                    reason = known.reason
                    self.sleep(backoff.next_delay())
                    continue
            try:
                status, resp = self._call("POST", "/orders", body)
            except requests.RequestException as exc:
                reason = f"no answer: {type(exc).__name__}"
                continue
            if status in _RETRY:
                reason = f"HTTP {status}"
                self.sleep(backoff.next_delay())
                continue
            ack = parse_create(cid, status, resp)
            if ack.state == "REJECTED" and ack.reason == "CLIENT_ORDER_ID_ALREADY_EXISTS":
                return self._lookup_quietly(cid)
            return ack
        return Ack(cid, "UNKNOWN", "", f"gave up after {self.attempts} attempts: {reason}")

    def _lookup_quietly(self, cid: str) -> Ack:
        try:
            return self.lookup(cid)
        except requests.RequestException as exc:
            return Ack(cid, "UNKNOWN", "", f"lookup failed: {type(exc).__name__}")

    def cancel(self, client_id: str) -> Ack:
        """Cancel our working order; when it is no longer working, say what became of it."""
        status, body = self._call("PUT", f"/orders/@{client_id}/cancel")
        if status == 200:
            return Ack(client_id, "CANCELLED", str(body.get("orderCancelTransaction", {}).get("orderID", "")))
        return self.lookup(client_id)

    def book(self) -> Book:
        """Working orders, net positions and open trades at the broker (for reconciliation).

        Raises
        ------
        RuntimeError
            An endpoint did not answer 200, or an open trade is unreadable.
        """
        s1, orders = self._call("GET", "/pendingOrders")
        s2, positions = self._call("GET", "/openPositions")
        s3, trades = self._call("GET", "/openTrades")
        if (s1, s2, s3) != (200, 200, 200):
            raise RuntimeError(
                f"broker book unavailable: pendingOrders HTTP {s1}, openPositions HTTP {s2}, openTrades HTTP {s3}"
            )
        # the earliest of the reads: a fill between them is streamed again rather than lost
        self.last_transaction_id = min(
            int(b.get("lastTransactionID", 0)) for b in (orders, positions, trades)
        )
        try:
            return Book(working_orders(orders), net_positions(positions), trades=open_trades(trades))
        except ValueError as exc:
            raise RuntimeError(f"broker book unreadable: {exc}") from None

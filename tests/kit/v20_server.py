"""A local HTTP server speaking the documented OANDA v20 formats (tests, soak test, benchmark).

Pricing stream: each connection to ``/v3/accounts/{id}/pricing/stream`` plays the next *script* from
``server.scripts`` (an iterable of steps), else heartbeats until the server stops. A step is ``bytes``
(written as one HTTP chunk: a line, several lines or part of one), a ``float`` (sleep that many
seconds), :data:`CUT` (drop the connection without ending the chunked body: a disconnect, possibly
mid-line) or ``("mark", key)`` (record ``time.time()`` in ``server.marks[key]`` before the next write:
benchmarks time a minute's close from there). Helpers build the documented objects: :func:`price_line`, :func:`heartbeat_line`.

Orders: ``POST /orders`` (LIMIT; 201 with ``orderCreateTransaction`` and, when ``fill_on_create``, an
``orderFillTransaction``; 400 with ``orderRejectTransaction`` and ``errorCode`` for a bad request, a
scheduled reject or a client id already pending), ``GET /orders/@{clientId}``, ``PUT
/orders/@{clientId}/cancel``, ``GET /pendingOrders``, ``/openTrades`` (a netting account: fills reduce
the other side's open trades first in first out), ``/openPositions``. Every order
request is logged with its arrival time (``time.time()``) in ``server.order_log``. ``drop_next``
responses are processed but never answered (a lost reply, for idempotent retries).

Transactions: every order created, rejected, filled (:meth:`V20Server.fill`, whole or ``units`` of it)
or cancelled (:meth:`V20Server.cancel`, with the broker's ``reason``), and each
:meth:`V20Server.daily_financing`, is recorded as the documented
v20 transaction (``LIMIT_ORDER``, ``LIMIT_ORDER_REJECT``, ``ORDER_FILL``, ``ORDER_CANCEL``,
``DAILY_FINANCING``; ``id``
increasing, ``time`` from ``server.clock()`` in RFC 3339 with ns, ``accountID``, ``batchID``,
``requestID``). ``/transactions/stream`` sends each transaction recorded after the connection opened
as a JSON line and ``{"type": "HEARTBEAT", "lastTransactionID", "time"}`` every ``heartbeat_s``;
``/transactions/sinceid?id=N`` answers every transaction after ``N``. Faults for tests:
:meth:`V20Server.inject_transaction_line` (a raw line, e.g. malformed, for the streams only),
``cut_transaction_lines`` (the next N lines a stream writes are cut mid-line and the connection
dropped), ``stall_transaction_streams`` (the next N connections send nothing at all),
``on_transaction_connect`` (called when a connection's first line is fixed: a transaction made there is
both streamed and in a later ``sinceid`` answer).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CUT = object()
ACCOUNT = "101-000-0000000-001"


def rfc3339(ts_ns: int) -> str:
    secs, ns = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def price_line(
    pair: str, ts_ns: int, bid: float, ask: float, typed: bool = True, tradeable: bool = True, digits: int = 5
) -> bytes:
    """A v20 ``ClientPrice`` stream line (``typed=False``: an older object without ``type``)."""
    obj: dict[str, Any] = {
        "instrument": f"{pair[:3]}_{pair[3:]}",
        "time": rfc3339(ts_ns),
        "bids": [
            {"price": f"{bid:.{digits}f}", "liquidity": 1000000},
            {"price": f"{bid - 0.0001:.{digits}f}", "liquidity": 5000000},
        ],
        "asks": [
            {"price": f"{ask:.{digits}f}", "liquidity": 1000000},
            {"price": f"{ask + 0.0001:.{digits}f}", "liquidity": 5000000},
        ],
        "closeoutBid": f"{bid:.{digits}f}",
        "closeoutAsk": f"{ask:.{digits}f}",
        "status": "tradeable" if tradeable else "non-tradeable",
        "tradeable": tradeable,
    }
    if typed:
        obj = {"type": "PRICE", **obj}
    return json.dumps(obj).encode() + b"\n"


def heartbeat_line(ts_ns: int) -> bytes:
    return json.dumps({"type": "HEARTBEAT", "time": rfc3339(ts_ns)}).encode() + b"\n"


class V20Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, heartbeat_s: float = 5.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.heartbeat_s = heartbeat_s
        self.scripts: deque[Iterable[Any]] = deque()
        self.connection_times: list[float] = []
        self.stream_queries: list[str] = []
        self.orders: dict[
            str, dict[str, Any]
        ] = {}  # clientExtensions.id -> order (state PENDING/FILLED/CANCELLED)
        self.trades: list[dict[str, Any]] = []
        self.positions: dict[str, float] = {}  # instrument -> net units
        self.order_log: list[tuple[float, dict[str, Any]]] = []  # POST bodies and {"cancel": id} of PUTs
        self.marks: dict[Any, float] = {}
        self.fill_on_create = False
        self.reject_next: deque[str] = deque()
        self.drop_next = 0
        self.lock = threading.RLock()
        self.txn_cond = threading.Condition(self.lock)
        self.clock = time.time_ns
        self.transactions: list[dict[str, Any]] = []
        self.transaction_lines: list[bytes] = []  # what the transaction streams send, in order
        self.txn_connection_times: list[float] = []
        self.cut_transaction_lines = 0
        self.stall_transaction_streams = 0
        self.on_transaction_connect: Callable[[], None] | None = None  # runs once a stream's start is fixed
        self.balance = 100000.0
        self.filled: dict[str, float] = {}  # client id -> units filled so far (partial fills)
        self._txn = 1000
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> V20Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        with self.txn_cond:
            self.txn_cond.notify_all()
        self.shutdown()
        self.server_close()

    def next_id(self) -> str:
        self._txn += 1
        return str(self._txn)

    def record(self, tid: str, batch: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Record transaction ``tid`` (from :meth:`next_id`, under ``lock``) and stream it."""
        txn = {"id": tid, "time": rfc3339(self.clock()), "userID": 1, "accountID": ACCOUNT, "batchID": batch,
               "requestID": f"6{int(tid):017d}", "type": kind, **fields}  # fmt: skip
        self.transactions.append(txn)
        self.transaction_lines.append(json.dumps(txn).encode() + b"\n")
        self.txn_cond.notify_all()
        return txn

    def inject_transaction_line(self, raw: bytes) -> None:
        """Send ``raw`` (one line, newline added) on the transaction streams, not in ``sinceid``."""
        with self.txn_cond:
            self.transaction_lines.append(raw.rstrip(b"\n") + b"\n")
            self.txn_cond.notify_all()

    # -- order book ---------------------------------------------------------------------------
    def create(self, req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        o = req.get("order")
        error = _invalid(o)
        cid = (o or {}).get("clientExtensions", {}).get("id", "") if isinstance(o, dict) else ""
        with self.lock:
            if error is None and self.reject_next:
                error = self.reject_next.popleft()
            if error is None and cid in self.orders and self.orders[cid]["state"] == "PENDING":
                error = "CLIENT_ORDER_ID_ALREADY_EXISTS"
            if error is not None:
                rid = self.next_id()
                fields = {k: v for k, v in (o or {}).items() if k != "type"} if isinstance(o, dict) else {}
                rej = self.record(rid, rid, "LIMIT_ORDER_REJECT", **fields, rejectReason=error)
                return 400, {
                    "orderRejectTransaction": rej,
                    "errorCode": error,
                    "errorMessage": error.replace("_", " ").lower(),
                    "lastTransactionID": rid,
                }
            assert isinstance(o, dict)  # noqa: S101 - _invalid checked it
            oid = self.next_id()
            order = {**o, "id": oid, "state": "PENDING", "createTime": rfc3339(self.clock())}
            self.orders[cid] = order
            fields = {k: v for k, v in o.items() if k != "type"}
            created = self.record(oid, oid, "LIMIT_ORDER", **fields, reason="CLIENT_ORDER")
            body: dict[str, Any] = {"orderCreateTransaction": created}
            if self.fill_on_create:
                body["orderFillTransaction"] = self.fill(cid, batch=oid)
            body["lastTransactionID"] = str(self._txn)
            return 201, body

    def fill(
        self, cid: str, units: str = "", pl: str = "0.0000", batch: str = "", **costs: str
    ) -> dict[str, Any]:
        """Fill a pending order at its price, whole or ``units`` of it (same sign; the order stays
        pending until its units are filled); ``pl`` is the realised PnL the fill reports, ``costs``
        its ``commission``, ``financing`` and ``halfSpreadCost`` (each "0.0000" unless given)."""
        cost = {"commission": "0.0000", "financing": "0.0000", "halfSpreadCost": "0.0000", **costs}
        with self.lock:
            order = self.orders[cid]
            left = float(order["units"]) - self.filled.get(cid, 0.0)
            fill_units = float(units) if units else left
            self.filled[cid] = self.filled.get(cid, 0.0) + fill_units
            if abs(left - fill_units) < 0.5:
                order["state"] = "FILLED"
            inst, text = order["instrument"], f"{fill_units:.0f}"
            tid = self.next_id()
            self._book_trade(tid, inst, fill_units, order)
            self.positions[inst] = self.positions.get(inst, 0.0) + fill_units
            self.balance += float(pl) - float(cost["commission"]) + float(cost["financing"])
            ext = order.get("clientExtensions", {})
            return self.record(tid, batch or tid, "ORDER_FILL", orderID=order["id"],
                               **({"clientOrderID": ext["id"]} if "id" in ext else {}),
                               instrument=inst, units=text, price=order["price"], fullVWAP=order["price"],
                               reason="LIMIT_ORDER", pl=pl, quotePL=pl, financing=cost["financing"],
                               baseFinancing="0.00000000000000", commission=cost["commission"],
                               guaranteedExecutionFee="0.0000", accountBalance=f"{self.balance:.4f}",
                               halfSpreadCost=cost["halfSpreadCost"],
                               tradeOpened={"tradeID": tid, "units": text, "price": order["price"]})  # fmt: skip

    def daily_financing(self, amounts: dict[str, str]) -> dict[str, Any]:
        """A ``DAILY_FINANCING`` transaction: ``amounts`` per instrument (account currency, signed)."""
        with self.lock:
            total = sum(float(a) for a in amounts.values())
            self.balance += total
            per = [{"instrument": i, "financing": a, "openTradeFinancings": []} for i, a in amounts.items()]
            tid = self.next_id()
            return self.record(tid, tid, "DAILY_FINANCING", financing=f"{total:.4f}",
                               accountBalance=f"{self.balance:.4f}", accountFinancingMode="DAILY",
                               positionFinancings=per)  # fmt: skip

    def _book_trade(self, tid: str, inst: str, units: float, order: dict[str, Any]) -> None:
        """A netting account (FIFO): a fill first reduces the pair's open trades of the other sign,
        oldest first; what is left opens a trade at the order's price."""
        for t in [t for t in self.trades if t["instrument"] == inst]:
            cur = float(t["currentUnits"])
            if not units or cur * units > 0:
                break
            closed = min(abs(cur), abs(units)) * (1 if units > 0 else -1)
            t["currentUnits"], units = f"{cur + closed:.0f}", units - closed
        self.trades = [t for t in self.trades if float(t["currentUnits"])]
        if units:
            self.trades.append({"id": tid, "instrument": inst, "currentUnits": f"{units:.0f}", "price": order["price"],
                                "initialUnits": f"{units:.0f}", "clientExtensions": order.get("clientExtensions", {})})  # fmt: skip

    def cancel(self, cid: str, reason: str = "CLIENT_REQUEST") -> tuple[int, dict[str, Any]]:
        """Cancel a pending order (a client request, or the broker's own ``reason``: expiry, margin)."""
        with self.lock:
            order = self.orders.get(cid)
            if order is None or order["state"] != "PENDING":
                return 404, {
                    "errorCode": "ORDER_DOESNT_EXIST",
                    "errorMessage": "The order specified does not exist",
                }
            order["state"] = "CANCELLED"
            tid = self.next_id()
            txn = self.record(tid, tid, "ORDER_CANCEL", orderID=order["id"], clientOrderID=cid, reason=reason)
            return 200, {
                "orderCancelTransaction": txn,
                "relatedTransactionIDs": [tid],
                "lastTransactionID": tid,
            }

    def positions_body(self) -> list[dict[str, Any]]:
        out = []
        for inst, u in sorted(self.positions.items()):
            if u:
                out.append(
                    {
                        "instrument": inst,
                        "long": {"units": f"{max(u, 0):.0f}"},
                        "short": {"units": f"{min(u, 0):.0f}"},
                    }
                )
        return out


def _invalid(o: Any) -> str | None:
    if not isinstance(o, dict):
        return "MISSING_ORDER"
    if o.get("type") != "LIMIT":
        return "INVALID_ORDER_TYPE"
    try:
        units, price = float(o["units"]), float(o["price"])
    except (KeyError, TypeError, ValueError):
        return "UNITS_INVALID" if "units" not in o or not _num(o.get("units")) else "PRICE_INVALID"
    if units == 0 or price <= 0:
        return "UNITS_INVALID" if units == 0 else "PRICE_INVALID"
    tif = o.get("timeInForce")
    if tif not in ("GTC", "GTD"):
        return "TIME_IN_FORCE_INVALID"
    if tif == "GTD" and "gtdTime" not in o:
        return "MISSING_GTD_TIME"
    if not re.fullmatch(r"[A-Z]{3}_[A-Z]{3}", str(o.get("instrument", ""))):
        return "INSTRUMENT_INVALID"
    return None


def _num(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


_ORDER = re.compile(r"^/v3/accounts/([^/]+)/orders/@([^/]+)(/cancel)?$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: with Nagle on, the body waited
    # for the client's delayed ACK of the headers (40 ms per answer, as no real v20 server behaves)
    server: V20Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _account(self) -> str | None:
        m = re.match(r"^/v3/accounts/([^/?]+)", self.path)
        if not m or self.headers.get("Authorization", "") == "":
            self._send(401, {"errorMessage": "Insufficient authorization to perform request."})
            return None
        return m.group(1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self._account() is None:
            return
        path = self.path.split("?")[0]
        if path.endswith("/pricing/stream"):
            self._stream()
            return
        if path.endswith("/transactions/stream"):
            self._txn_stream()
            return
        s = self.server
        with s.lock:
            m = _ORDER.match(path)
            if m:
                order = s.orders.get(m.group(2))
                if order is None:
                    self._send(
                        404,
                        {
                            "errorCode": "ORDER_DOESNT_EXIST",
                            "errorMessage": "The order specified does not exist",
                        },
                    )
                else:
                    self._send(200, {"order": order, "lastTransactionID": str(s._txn)})
            elif path.endswith("/pendingOrders"):
                self._send(
                    200,
                    {
                        "orders": [o for o in s.orders.values() if o["state"] == "PENDING"],
                        "lastTransactionID": str(s._txn),
                    },
                )
            elif path.endswith("/openTrades"):
                self._send(200, {"trades": list(s.trades), "lastTransactionID": str(s._txn)})
            elif path.endswith("/openPositions"):
                self._send(200, {"positions": s.positions_body(), "lastTransactionID": str(s._txn)})
            elif path.endswith("/transactions/sinceid"):
                self._since(s)
            else:
                self._send(404, {"errorMessage": f"no route {path}"})

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None

    def do_POST(self) -> None:  # noqa: N802
        if self._account() is None:
            return
        body = self._body()
        self.server.order_log.append((time.time(), body if isinstance(body, dict) else {}))
        code, resp = self.server.create(body if isinstance(body, dict) else {})
        if self.server.drop_next > 0:
            self.server.drop_next -= 1
            self.close_connection = True
            return
        self._send(code, resp)

    def do_PUT(self) -> None:  # noqa: N802
        if self._account() is None:
            return
        self._body()
        m = _ORDER.match(self.path.split("?")[0])
        if not m or not m.group(3):
            self._send(404, {"errorMessage": "no route"})
            return
        self.server.order_log.append((time.time(), {"cancel": m.group(2)}))
        self._send(*self.server.cancel(m.group(2)))

    def _stream(self) -> None:
        s = self.server
        s.connection_times.append(time.monotonic())
        s.stream_queries.append(self.path)
        script = s.scripts.popleft() if s.scripts else None
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if script is None:
                self._heartbeats()
            elif self._play(script):
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _play(self, script: Iterable[Any]) -> bool:
        """Play a script; False when it ended with a cut."""
        for step in script:
            if self.server._stopped.is_set():
                return False
            if step is CUT:
                return False
            if isinstance(step, bytes):
                self._chunk(step)
            elif isinstance(step, tuple):
                self.server.marks[step[1]] = time.time()
            else:
                time.sleep(float(step))
        return True

    def _since(self, s: V20Server) -> None:
        m = re.search(r"[?&]id=(\d+)", self.path)
        if not m:
            self._send(400, {"errorMessage": "Invalid value specified for 'id'"})
            return
        after = int(m.group(1))
        txns = [t for t in s.transactions if int(t["id"]) > after]
        self._send(200, {"transactions": txns, "lastTransactionID": str(s._txn)})

    def _txn_stream(self) -> None:
        s = self.server
        with s.lock:
            s.txn_connection_times.append(time.monotonic())
            pos = len(s.transaction_lines)
            stall = s.stall_transaction_streams > 0
            s.stall_transaction_streams -= stall
        if s.on_transaction_connect is not None:
            s.on_transaction_connect()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if stall:  # silent: no line, no heartbeat, the socket stays open
                s._stopped.wait()
            elif self._txn_lines(pos):
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _txn_lines(self, pos: int) -> bool:
        """Stream transactions from ``pos`` and heartbeats; False when a line was cut."""
        s = self.server
        beat = time.monotonic() + s.heartbeat_s
        while not s._stopped.is_set():
            with s.txn_cond:
                seen = pos
                s.txn_cond.wait_for(
                    lambda: len(s.transaction_lines) > seen or s._stopped.is_set(),  # noqa: B023 - called at once
                    timeout=max(0.0, beat - time.monotonic()),
                )
                lines, pos, last = s.transaction_lines[pos:], len(s.transaction_lines), str(s._txn)
                cut = s.cut_transaction_lines > 0 and bool(lines)
                s.cut_transaction_lines -= cut
            if cut:
                self._chunk(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
                return False
            if lines:
                self._chunk(b"".join(lines))
            if time.monotonic() >= beat:
                self._chunk(json.dumps({"type": "HEARTBEAT", "lastTransactionID": last,
                                        "time": rfc3339(s.clock())}).encode() + b"\n")  # fmt: skip
                beat = time.monotonic() + s.heartbeat_s
        return True

    def _heartbeats(self) -> None:
        while not self.server._stopped.wait(self.server.heartbeat_s):
            self._chunk(heartbeat_line(time.time_ns()))

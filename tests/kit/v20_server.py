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
/orders/@{clientId}/cancel``, ``GET /pendingOrders``, ``/openTrades``, ``/openPositions``. Every order
request is logged with its arrival time (``time.time()``) in ``server.order_log``. ``drop_next``
responses are processed but never answered (a lost reply, for idempotent retries).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
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
        self.lock = threading.Lock()
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
        self.shutdown()
        self.server_close()

    def next_id(self) -> str:
        self._txn += 1
        return str(self._txn)

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
                return 400, {
                    "orderRejectTransaction": {
                        "id": rid,
                        "type": "LIMIT_ORDER_REJECT",
                        "rejectReason": error,
                    },
                    "errorCode": error,
                    "errorMessage": error.replace("_", " ").lower(),
                    "lastTransactionID": rid,
                }
            assert isinstance(o, dict)  # noqa: S101 - _invalid checked it
            oid = self.next_id()
            order = {**o, "id": oid, "state": "PENDING", "createTime": rfc3339(time.time_ns())}
            self.orders[cid] = order
            body: dict[str, Any] = {"orderCreateTransaction": {"id": oid, "type": "LIMIT_ORDER", **o}}
            if self.fill_on_create:
                body["orderFillTransaction"] = self.fill(cid)
            body["lastTransactionID"] = str(self._txn)
            return 201, body

    def fill(self, cid: str) -> dict[str, Any]:
        """Fill a pending order whole at its price (callers hold ``lock`` or own the server)."""
        order = self.orders[cid]
        order["state"] = "FILLED"
        units = float(order["units"])
        inst = order["instrument"]
        tid = self.next_id()
        self.trades.append({"id": tid, "instrument": inst, "currentUnits": order["units"], "price": order["price"],
                            "clientExtensions": order.get("clientExtensions", {})})  # fmt: skip
        self.positions[inst] = self.positions.get(inst, 0.0) + units
        return {"id": tid, "type": "ORDER_FILL", "orderID": order["id"], "instrument": inst,
                "units": order["units"], "price": order["price"], "tradeOpened": {"tradeID": tid, "units": order["units"]}}  # fmt: skip

    def cancel(self, cid: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(cid)
            if order is None or order["state"] != "PENDING":
                return 404, {
                    "errorCode": "ORDER_DOESNT_EXIST",
                    "errorMessage": "The order specified does not exist",
                }
            order["state"] = "CANCELLED"
            tid = self.next_id()
            return 200, {
                "orderCancelTransaction": {"id": tid, "type": "ORDER_CANCEL", "orderID": order["id"],
                                           "clientOrderID": cid, "reason": "CLIENT_REQUEST"},
                "lastTransactionID": tid,
            }  # fmt: skip

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

    def _heartbeats(self) -> None:
        while not self.server._stopped.wait(self.server.heartbeat_s):
            self._chunk(heartbeat_line(time.time_ns()))

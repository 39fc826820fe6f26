"""The live calendar client against a real HTTP server on 127.0.0.1 (good, malformed, slow, failing)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from streams.binding.calendar_client import CalendarClient
from streams.serde.avro import AvroCodec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "calendar" / "2019-12-03.json"
GOOD = FIXTURE.read_bytes()


def _updated() -> bytes:
    doc = json.loads(GOOD)
    doc["events"][0]["actual"] = "99.9%"  # one release revised
    return json.dumps(doc).encode()


ROUTES: dict[str, tuple[int, bytes, float]] = {
    "/date/2019/12/2019-12-03.json": (200, GOOD, 0.0),
    "/updated.json": (200, _updated(), 0.0),
    "/malformed.json": (200, GOOD[: len(GOOD) // 2], 0.0),
    "/no-events.json": (200, b'{"timestamp": "x", "data": []}', 0.0),
    "/bad-event.json": (200, b'{"events": [{"event_id": "1", "currency": "USD"}]}', 0.0),
    "/slow.json": (200, GOOD, 3.0),
    "/error.json": (503, b"busy", 0.0),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        status, body, delay = ROUTES.get(self.path, (404, b"no such day", 0.0))
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_then_failures_keep_last_good_calendar(server: str) -> None:
    client = CalendarClient(server + "/date/{year}/{month}/{date}.json", timeout_s=1.0)
    first = client.poll_once(date(2019, 12, 3))
    expected = json.loads(GOOD)["events"]
    assert first is not None
    assert first.n == len(expected)
    assert sorted(first["event_id"].tolist()) == sorted(e["event_id"] for e in expected)
    assert set(first["source"]) == {f"live:{server}/date/2019/12/2019-12-03.json"}
    assert len(AvroCodec("calendar_event").encode_batch(first)) == first.n
    assert client.poll_once(date(2019, 12, 3)) is None  # nothing changed: nothing to publish

    for path in ("/malformed.json", "/no-events.json", "/bad-event.json", "/slow.json", "/error.json"):
        client.url = server + path
        started = time.monotonic()
        assert client.poll_once() is None
        assert time.monotonic() - started < 2.5  # the slow server is cut off by the 1 s timeout
    s = client.stats
    assert (s.ok, s.malformed, s.timeouts, s.http_errors, s.connection_errors) == (2, 3, 1, 1, 0)
    assert client.calendar.n == len(expected)  # last good calendar kept

    client.url = server + "/updated.json"
    changed = client.poll_once()
    assert changed is not None
    assert changed.n == 1
    assert changed["actual"][0] == "99.9%"
    assert changed["actual_value"][0] == pytest.approx(99.9)
    cal = client.calendar
    assert cal.n == len(expected)
    assert "99.9%" in cal["actual"].tolist()


def test_connection_refused_is_counted(server: str) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CalendarClient(f"http://127.0.0.1:{port}/x.json", timeout_s=1.0)
    assert list(client.poll(0.0, iterations=2, sleep=lambda _: None)) == []
    assert client.stats.connection_errors == 2
    assert client.calendar.n == 0


def test_poll_yields_only_changes(server: str) -> None:
    urls = iter(
        ["/date/2019/12/2019-12-03.json", "/error.json", "/date/2019/12/2019-12-03.json", "/updated.json"]
    )
    client = CalendarClient(server + "/date/2019/12/2019-12-03.json", timeout_s=1.0)

    def next_day() -> date:
        client.url = server + next(urls)
        return date(2019, 12, 3)

    sizes = [b.n for b in client.poll(0.0, iterations=4, day=next_day, sleep=lambda _: None)]
    assert sizes == [len(json.loads(GOOD)["events"]), 1]
    assert np.isin(["104424"], client.calendar["event_id"]).all()

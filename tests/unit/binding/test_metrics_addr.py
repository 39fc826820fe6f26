"""The metrics endpoint listens where HSLR_METRICS_ADDR says (issue 15): loopback on a host, every
interface of a container. Before, it was always 127.0.0.1, so the compose stack's Prometheus (another
container) could never scrape a worker."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from streams.binding.metrics import serve
from streams.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_listens_on_the_given_address_only() -> None:
    port = serve(_free_port(), addr="127.0.0.2")  # a second loopback address: not 127.0.0.1
    body = urllib.request.urlopen(f"http://127.0.0.2:{port}/metrics", timeout=5).read()  # noqa: S310
    assert b"# HELP" in body
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_the_default_address_is_loopback_and_the_variable_moves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HSLR_METRICS_ADDR", raising=False)
    assert Settings(_env_file=None).hslr_metrics_addr == "127.0.0.1"
    monkeypatch.setenv("HSLR_METRICS_ADDR", "0.0.0.0")  # noqa: S104 - what a container sets
    assert Settings(_env_file=None).hslr_metrics_addr == "0.0.0.0"  # noqa: S104

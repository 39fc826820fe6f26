"""A TCP forwarder the chaos tests cut and restore: a dependency (PostgreSQL, Redis, Prometheus) made
unreachable for the workers pointed at it, while the shared service itself is never touched."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.chaos.conftest import free_port


class Cuttable:
    """Forward ``127.0.0.1:<port>`` to ``target`` until :meth:`cut`; :meth:`restore` listens again on
    the same port. A cut closes the listener and every open connection (the peer sees a reset)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._server: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, set()
            srv, self._server = self._server, None
        for s in [srv, *socks]:
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not srv:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

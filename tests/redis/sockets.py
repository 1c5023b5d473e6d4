"""Stand-ins for a Redis that fails, on 127.0.0.1 only: a server that accepts connections and never answers,
and URLs pointing at another port (a cut `tests.support.tcp_proxy.TcpProxy` to the real Redis, or a port
where nothing listens).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit


def redis_url_at(redis_url: str, port: int) -> str:
    """`redis_url` (its credentials, database and options) pointed at 127.0.0.1:`port`."""
    parts = urlsplit(redis_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(("redis", netloc, parts.path, parts.query, ""))


def redis_port(redis_url: str) -> int:
    return urlsplit(redis_url).port or 6379


class SilentServer:
    """Accepts connections and never writes a byte, as a Redis that hangs."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    client.close()
                    return
                self._sockets.append(client)

    def close(self) -> None:
        """Stop listening and drop every connection: from now on connecting is refused."""
        with self._lock:
            self._open = False
            sockets, self._sockets = self._sockets, []
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close() alone would not
        self._server.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

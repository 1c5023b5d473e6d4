"""Stand-ins for a Redis that fails: a TCP proxy to the real one that can be cut, and a server that accepts
connections and never answers. Both listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit


class _Listener:
    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def url_for(self, redis_url: str) -> str:
        """`redis_url` (its database and options) pointed at this listener."""
        parts = urlsplit(redis_url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(("redis", netloc, parts.path, parts.query, ""))

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
            self._serve(client)

    def _serve(self, client: socket.socket) -> None:
        """Keep the connection open and silent (overridden by the proxy)."""

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

    def __enter__(self) -> _Listener:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class SilentServer(_Listener):
    """Accepts connections and never writes a byte, as a Redis that hangs."""


class RedisProxy(_Listener):
    """Forwards to the Redis at `redis_url` until `close()` cuts it."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._target, timeout=5)
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

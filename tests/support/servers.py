"""Real HTTP servers on 127.0.0.1 for tests: an ASGI app served by uvicorn in a background thread."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any, Literal

import uvicorn


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, below the kernel's ephemeral range.

    Asking the kernel for one (binding port 0) gives a port from the very range that outgoing connections
    (to PostgreSQL, Redis, the test's own clients) take theirs from, so by the time a server binds it, the
    client end of some connection may hold it (nginx: "bind() failed (98: Address already in use)").
    Below that range only another test's server can take it.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = _random.randrange(max(1024, low - 12_000), low)
        if port in _given:  # given to a caller of this process already, which may not have bound it yet
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.append(port)
        return port
    with socket.socket() as sock:  # a range used up: what the kernel gives
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_random = random.SystemRandom()
_given: deque[int] = deque(maxlen=2000)


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return max(13_000, int(ports.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; elsewhere a range commonly free


class ServerThread:
    """`with ServerThread(app) as server: server.url` — serves `app` until the block ends."""

    def __init__(self, app: Any, port: int | None = None, lifespan: Literal["auto", "on", "off"] = "on") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the test server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

"""A real HTTP/1.1 server on 127.0.0.1 for the transport tests: it parses requests and lets the test's
responder write any bytes back (or none, or close), and counts connections.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # 1 for the first connection the server accepted, 2 for the next…
    number: int  # this request's position on its connection, from 1


# Writes the answer (or misbehaves); returns False to close the connection afterwards.
Responder = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]


def response(
    status: int = 200, body: bytes = b"", headers: list[tuple[str, str]] | None = None, *, length: bool = True
) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def ok(request: Request, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(200, b'{"ok":true}', [("Content-Type", "application/json")]))
    return True


@dataclass
class RawServer:
    respond: Responder = ok
    tls: ssl.SSLContext | None = None
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[Request] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Close every open connection at once, as a server ending idle keep-alive connections does."""
        for writer in self.writers:
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self.writers.append(writer)
        try:
            for count in range(1, 10_000):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                try:
                    body = await reader.readexactly(int(headers.get("content-length", "0")))
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request = Request(method, target, headers, body, number, count)
                self.requests.append(request)
                try:  # a client that hangs up mid-answer is part of what these tests do
                    keep = await self.respond(request, writer)
                    await writer.drain()
                except ConnectionError:
                    return
                if not keep:
                    return
        finally:
            self.open_now -= 1
            self.writers.remove(writer)
            writer.transport.abort()

"""A TCP proxy on 127.0.0.1 for fault tests: forwards to a target until told to go down (every connection cut,
new ones refused), then up again on the same port. For PostgreSQL it reads the client's side of the wire
protocol (Frontend/Backend Protocol §55.7), so it can cut the one connection that is about to run a chosen
statement: the statement never reaches the server, and the server rolls back that connection's transaction.
"""

from __future__ import annotations

import asyncio
import re
import struct
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from tests.support.servers import free_port

T = TypeVar("T")
_CHUNK: Final = 65536
# The untyped first message of a connection (§55.7) that starts protocol 3.0; typed messages follow it.
_STARTUP: Final = 196608


class PgFrontend:
    """Reads the client side of one PostgreSQL connection and names the SQL each message would run: a simple
    Query, a Parse (remembered under its statement name) or a Bind of a parsed statement."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0  # stream offset of the buffer's first byte
        self._started = False
        self._statements: dict[str, str] = {}

    def feed(self, data: bytes) -> Iterator[tuple[int, str]]:
        """(stream offset where the message starts, its SQL) for each complete message in `data` that has SQL."""
        self._buffer += data
        while True:
            start = self._offset
            if not self._started:
                if len(self._buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self._buffer[:8])
                self._started = code == _STARTUP  # else an SSLRequest or GSSENCRequest, answered before it
                kind, body_at = None, 8
            else:
                if len(self._buffer) < 5:
                    return
                kind, length = chr(self._buffer[0]), struct.unpack("!i", self._buffer[1:5])[0]
                length, body_at = length + 1, 5
            if len(self._buffer) < length:
                return
            body = bytes(self._buffer[body_at:length])
            del self._buffer[:length]
            self._offset += length
            sql = self._sql(kind, body)
            if sql is not None:
                yield start, sql

    def _sql(self, kind: str | None, body: bytes) -> str | None:
        if kind == "Q":
            return body.split(b"\0", 1)[0].decode(errors="replace")
        if kind == "P":
            name, query = body.split(b"\0", 2)[:2]
            self._statements[name.decode()] = query.decode(errors="replace")
            return query.decode(errors="replace")
        if kind == "B":
            statement = body.split(b"\0", 2)[1].decode()
            return self._statements.get(statement)
        return None


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    frontend: PgFrontend | None
    forwarded: int = 0

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


@dataclass
class Cut:
    """A pending cut: the first connection to send SQL matching `pattern` is cut before it. `fired` is set then,
    with the SQL that was stopped."""

    pattern: re.Pattern[str]
    fired: threading.Event = field(default_factory=threading.Event)
    sql: str = ""


class TcpProxy:
    """`with TcpProxy(5432, postgres=True) as proxy:` — 127.0.0.1:`proxy.port` forwards to 127.0.0.1:`target_port`.

    `down()` cuts every connection and closes the port (connections are refused), `up()` listens again;
    `cut_before(pattern)` (postgres only) cuts the connection that sends the first statement matching it.
    Every method waits until the proxy's own loop has done it.
    """

    def __init__(self, target_port: int, *, postgres: bool = False) -> None:
        self.target_port, self.postgres = target_port, postgres
        self.port = free_port()
        self.accepted = 0
        self._links: set[_Link] = set()
        self._cuts: list[Cut] = []
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
        self._call(self._finish())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def up(self) -> None:
        self._call(self._listen())

    def down(self) -> None:
        self._call(self._close())

    def cut_before(self, pattern: str) -> Cut:
        assert self.postgres, "cut_before reads the PostgreSQL protocol"
        cut = Cut(re.compile(pattern, re.IGNORECASE))
        self._call(self._arm(cut))
        return cut

    @property
    def open_connections(self) -> int:
        return len(self._links)

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _finish(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _arm(self, cut: Cut) -> None:
        self._cuts.append(cut)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.abort()
        self._links.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server_reader, server = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client.transport.abort()
            return
        link = _Link(client, server, PgFrontend() if self.postgres else None)
        self._links.add(link)
        try:
            await asyncio.gather(self._forward(client_reader, link, outbound=True), self._forward(server_reader, link))
        finally:
            self._links.discard(link)
            link.abort()

    async def _forward(self, reader: asyncio.StreamReader, link: _Link, *, outbound: bool = False) -> None:
        writer = link.server if outbound else link.client
        while True:
            try:
                data = await reader.read(_CHUNK)
            except OSError:
                data = b""
            if not data:
                link.abort()
                return
            if outbound and link.frontend is not None:
                stop = self._stop_at(link, data)
                if stop is not None:
                    writer.write(data[: max(0, stop - link.forwarded)])
                    link.abort()
                    return
                link.forwarded += len(data)
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                link.abort()
                return

    def _stop_at(self, link: _Link, data: bytes) -> int | None:
        """The stream offset of the first message in `data` whose SQL a pending cut matches (that cut fires)."""
        assert link.frontend is not None
        for start, sql in link.frontend.feed(data):
            for cut in self._cuts:
                if cut.pattern.search(sql):
                    self._cuts.remove(cut)
                    cut.sql = sql
                    cut.fired.set()
                    return start
        return None

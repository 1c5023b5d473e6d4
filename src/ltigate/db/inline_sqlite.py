"""SQLite run inline, on the event loop: a synchronous engine beside the async one, used by `transaction()`.

A statement takes tens of microseconds in SQLite, while aiosqlite hands every driver call to its thread
and back (five to six hops of ~20 µs per one-statement transaction, plus the asyncio adaption: ~250–450 µs
of CPU per transaction instead of ~35–75 µs; bench/README.md). An inline transaction never yields to the
loop, so transactions of one process never interleave and never wait for each other; only another process
holding the write lock (a CLI command) makes the loop wait, for as long as it holds it (at most the
busy_timeout). The commit that crosses SQLite's WAL threshold (1000 pages) checkpoints, with two fsyncs,
and stalls the loop for that long: milliseconds, every few hundred launches (bench/README.md). A
checkpoint thread does not help: under a steady stream of commits its passive checkpoints never finish
and the WAL is never rewound.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ScalarResult
from sqlalchemy.sql.base import Executable

T = TypeVar("T")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class InlineConnection:
    """A synchronous connection behind the part of AsyncConnection's interface the stores use (execute,
    scalar, scalars, exec_driver_sql, run_sync, dialect); awaiting these never yields to the loop.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        return self._connection.scalar(statement, parameters)

    async def scalars(self, statement: Executable, parameters: Parameters = None) -> ScalarResult[Any]:
        return self._connection.scalars(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Parameters = None) -> CursorResult[Any]:
        return self._connection.exec_driver_sql(statement, parameters)

    async def run_sync(self, fn: Callable[[Connection], T]) -> T:
        return fn(self._connection)


class InlineDatabase:
    """The synchronous engine of one SQLite file, with one connection kept open per thread.

    Inline transactions of one thread never overlap, so a thread needs one connection only; keeping it
    skips the pool's checkout and reset (about a third of a small transaction's cost). Should a block
    ever yield to the loop mid-transaction and another start one, `begin()` raises instead of waiting.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._open: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()

    def connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self._local.connection = self.engine.connect()
            with self._lock:
                self._open.add(connection)
        return connection

    def dispose(self) -> None:
        with self._lock:
            for connection in list(self._open):
                connection.close()
            self._open.clear()
        self.engine.dispose()

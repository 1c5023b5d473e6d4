"""SQLite run inline, on the event loop: a synchronous engine beside the async one, used by `transaction()`.

A statement takes tens of microseconds in SQLite, while aiosqlite hands every driver call to its thread
and back (five to six hops of ~20 µs per one-statement transaction, plus the asyncio adaption: ~250–450 µs
of CPU per transaction instead of ~35–75 µs; bench/README.md). An inline transaction never yields to the
loop, so transactions of one process never interleave and never wait for each other; only another process
holding the write lock (a CLI command) makes the loop wait, for as long as it holds it (at most the
busy_timeout). Checkpoints run in a thread, with a short last pass on the loop between callbacks
(db/checkpoints.py), so no commit copies the WAL back.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import exc
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ScalarResult
from sqlalchemy.sql.base import Executable

from ltigate.db.checkpoints import Checkpointer
from ltigate.db.prepared import Prepared

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

    def begin_immediate(self) -> None:
        """Start the driver's transaction now, with the write lock (see engine.unit_of_work)."""
        self._connection.exec_driver_sql("BEGIN IMMEDIATE")

    def savepoint(self) -> AbstractContextManager[Any]:
        """A SAVEPOINT in this connection's transaction, released at the end of the block and rolled back
        to when the block raises."""
        return self._connection.begin_nested()

    def run_prepared(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
        """Run `prepared` on the DBAPI connection inside this connection's transaction; driver errors are
        raised as SQLAlchemy's (IntegrityError, OperationalError, ...), as `execute` raises them."""
        connection, compiled = self._connection, prepared.sqlite
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        parameters = compiled.parameters(values)
        if connection._has_events or connection.engine._has_events:  # statement tracing and counting still work
            connection.dispatch.before_cursor_execute(connection, cursor, compiled.sql, parameters, None, False)
        try:
            cursor.execute(compiled.sql, parameters)
            raw = cursor.fetchall()
            return compiled.rows((column[0] for column in cursor.description or ()), raw) if raw else []
        except sqlite3.Error as error:
            raise _wrapped(compiled.sql, error) from error
        finally:
            cursor.close()


class InlineDatabase:
    """The synchronous engine of one SQLite file, with one connection kept open per thread.

    Inline transactions of one thread never overlap, so a thread needs one connection only; keeping it
    skips the pool's checkout and reset (about a third of a small transaction's cost). Should a block
    ever yield to the loop mid-transaction and another start one, `begin()` raises instead of waiting.
    """

    def __init__(self, engine: Engine, path: str) -> None:
        self.engine = engine
        self.checkpoints = Checkpointer(path)
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
        self.checkpoints.close()
        with self._lock:
            for connection in list(self._open):
                connection.close()
            self._open.clear()
        self.engine.dispose()


def _wrapped(sql: str, error: sqlite3.Error) -> exc.DBAPIError:
    kind: type[exc.DBAPIError]
    if isinstance(error, sqlite3.IntegrityError):
        kind = exc.IntegrityError
    elif isinstance(error, sqlite3.OperationalError):
        kind = exc.OperationalError
    else:
        kind = exc.DatabaseError
    return kind(sql, None, error)

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

import sqlite3
import threading
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

from sqlalchemy import exc
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, ScalarResult
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from ltigate.db.checkpoints import Checkpointer

T = TypeVar("T")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


_SQLITE = SQLiteDialect_pysqlite()


class Prepared:
    """A hot-path statement compiled once for SQLite's driver (`?` parameters in a fixed order), so an
    inline connection runs it on the DBAPI cursor without SQLAlchemy's per-execution work (execution
    context, parameter processing, result metadata: ~50 µs a statement, more than SQLite takes to run it).

    Only for statements whose parameters and result columns need no type conversion (text, numbers,
    booleans, NULL). Other databases run `statement` through SQLAlchemy as usual.
    """

    __slots__ = ("_row", "names", "sql", "statement")

    def __init__(self, statement: Executable) -> None:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=_SQLITE))
        self.statement, self.sql = statement, compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._row: Any = None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)

    def rows(self, description: Sequence[Sequence[Any]] | None, raw: Sequence[Any]) -> list[Any]:
        """Rows with attribute access by column name, as SQLAlchemy's Row gives them."""
        if not raw:
            return []
        if self._row is None:
            assert description is not None
            self._row = namedtuple("Row", [column[0] for column in description], rename=True)  # type: ignore[misc]
        return [self._row._make(row) for row in raw]


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
        connection = self._connection
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        parameters = prepared.parameters(values)
        if connection._has_events or connection.engine._has_events:  # statement tracing and counting still work
            connection.dispatch.before_cursor_execute(connection, cursor, prepared.sql, parameters, None, False)
        try:
            cursor.execute(prepared.sql, parameters)
            return prepared.rows(cursor.description, cursor.fetchall())
        except sqlite3.Error as error:
            raise _wrapped(prepared.sql, error) from error
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

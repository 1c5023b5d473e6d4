"""The async engine for SQLite (WAL) or PostgreSQL, the migration check at start, and the one place where
connection failures become StoreUnavailable.

SQLite file databases run their transactions inline on the event loop (`inline_sqlite`); the async engine
stays for Alembic, tests and in-memory databases.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from ltigate.db import direct_asyncpg
from ltigate.db.checkpoints import BACKSTOP_PAGES
from ltigate.db.inline_sqlite import InlineConnection, InlineDatabase
from ltigate.db.migrate import head_revision
from ltigate.db.prepared import Prepared
from ltigate.services.errors import NotMigrated, StoreUnavailable

# A pooled PostgreSQL connection idle for longer than this is pinged before use.
PING_IDLE_AFTER_SECONDS: Final = 2.0

# Every SQLite connection: WAL so readers never block the writer, and a wait instead of "database is locked".
SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)

# The inline database beside each async SQLite engine made by create_engine.
_inline_engines: weakref.WeakKeyDictionary[AsyncEngine, InlineDatabase] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Unit:
    engine: AsyncEngine
    connection: AsyncConnection
    task: asyncio.Task[object] | None


# The unit of work open in the current task, if any (see unit_of_work).
_unit: ContextVar[_Unit | None] = ContextVar("ltigate_unit_of_work", default=None)


def create_engine(url: str) -> AsyncEngine:
    """An engine for `sqlite+aiosqlite://` (parent directory created) or `postgresql+asyncpg://` URLs.

    Nothing connects until the first use. Raises ValueError for any other scheme.
    """
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return _sqlite_engine(parsed)
    if parsed.drivername == "postgresql+asyncpg":
        # No overflow: under sustained load overflow connections are opened and closed again and again (a
        # new asyncpg connection costs milliseconds on both sides); waiting briefly for a pooled one is cheaper.
        engine = create_async_engine(parsed, pool_size=20, max_overflow=0, pool_timeout=10, pool_recycle=1800)
        event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
        event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
        return engine
    raise ValueError(
        f"unsupported database URL scheme '{parsed.drivername}://'; use sqlite+aiosqlite:// or postgresql+asyncpg://"
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _set_pragmas)
    if database and database != ":memory:" and "mode=memory" not in database:
        # check_same_thread off: the pool may hand a connection to another thread later (never to two at once).
        inline = create_sync_engine(url.set(drivername="sqlite+pysqlite"), connect_args={"check_same_thread": False})
        event.listen(inline, "connect", _set_inline_pragmas)
        _inline_engines[engine] = InlineDatabase(inline, database)
    return engine


def _note_checkin(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object) -> None:
    """Ping a pooled connection that sat idle, so a node outlives database restarts and idle-connection
    reapers without a failed request. Not SQLAlchemy's pool_pre_ping, which pings on every checkout: with
    asyncpg that is three round trips (BEGIN, `;`, ROLLBACK) before each transaction, under load on
    connections used a millisecond ago. A dead connection is replaced (DisconnectionError makes the pool
    retry with a fresh one)."""
    idle_since = record.info.get("checked_in_at")
    if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc


def _set_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _set_inline_pragmas(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    _set_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # a thread checkpoints (db/checkpoints.py)
    cursor.close()


def statement_engine(engine: AsyncEngine) -> Engine:
    """The synchronous Engine whose events see the statements `transaction()` runs on `engine`."""
    inline = _inline_engines.get(engine)
    return engine.sync_engine if inline is None else inline.engine


async def dispose(engine: AsyncEngine) -> None:
    """Close every pooled connection of `engine` (and of its inline SQLite engine)."""
    inline = _inline_engines.get(engine)
    if inline is not None:
        inline.dispose()
    await engine.dispose()


def display_url(engine: AsyncEngine) -> str:
    """The engine's URL without its password, for messages and logs."""
    url = engine.url
    bare = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False)


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of the connection or the server, as opposed to errors in a statement.

    SQLite reports a locked, unreadable or unopenable file (and a missing table) as OperationalError.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | PoolTimeout | OperationalError | InterfaceError)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The StoreUnavailable to raise for `exc`, quoting the driver's message (never the URL or password)."""
    detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return StoreUnavailable(f"the database is unavailable: {str(detail).strip() or type(detail).__name__}")


def _open_unit(engine: AsyncEngine) -> _Unit | None:
    unit = _unit.get()
    if unit is None or unit.engine is not engine or unit.task is not _current_task():
        return None
    return unit


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[None]:
    """One transaction for every `transaction()` and `autocommit()` block on `engine` that the current task
    runs inside this block: all of their writes are committed together when it ends without an exception,
    or none. An `autocommit()` block joins the transaction; a `transaction()` block runs in a SAVEPOINT, so
    an exception that leaves it undoes its own statements only (and may be handled inside the unit).

    On SQLite the unit takes the write lock at its start (BEGIN IMMEDIATE: it waits for another process's
    writer up to busy_timeout, and never fails later on upgrading a read). On an inline SQLite engine the
    block must not yield to the event loop: everything awaited inside must be the stores' own statements or
    in-memory work (a network call inside would hold the write lock and make the next transaction raise).
    Tasks started inside do not join the unit. Nested units of the same engine join the outer one.
    Raises as `transaction()` does.
    """
    if _open_unit(engine) is not None:
        yield
        return
    async with transaction(engine) as connection:
        if isinstance(connection, InlineConnection):
            connection.begin_immediate()
        token = _unit.set(_Unit(engine, connection, _current_task()))
        try:
            yield
        finally:
            _unit.reset(token)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed when the block ends without an exception.

    Raises StoreUnavailable when no connection can be had (server down, wrong credentials, unknown
    database, pool exhausted) or the connection breaks; every other error passes unchanged. On an inline
    SQLite engine the block must await nothing but the connection's own methods. Inside a `unit_of_work`
    of the same engine, a SAVEPOINT of the unit's transaction.
    """
    unit = _open_unit(engine)
    if unit is not None:
        async with _savepoint(unit.connection):
            yield unit.connection
        return
    inline = _inline_engines.get(engine)
    if inline is not None:
        with _inline_transaction(inline) as connection:
            yield connection
        return
    connection = engine.connect()
    try:
        await connection.start()
    except (DBAPIError, OSError, PoolTimeout) as exc:
        raise unavailable(exc) from exc
    try:
        # No explicit BEGIN through SQLAlchemy: a statement begins the transaction (SQLAlchemy's autobegin,
        # or db.direct_asyncpg for prepared statements), and closing the connection rolls back what is open.
        yield connection
        await _commit(connection)
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise
    finally:
        await connection.close()


async def _commit(connection: AsyncConnection) -> None:
    if connection.in_transaction():  # a statement went through SQLAlchemy, which began the transaction
        await connection.commit()
    elif connection.dialect.name == "postgresql":  # only prepared statements ran, directly on asyncpg
        await direct_asyncpg.commit(connection)


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for a single statement, which commits by itself. On PostgreSQL this saves the BEGIN and
    COMMIT round trips around it (a single statement is atomic); on SQLite it is `transaction()`.

    Only for blocks of one write, or of reads; raises as `transaction()` does. Inside a `unit_of_work` of
    the same engine, the block runs in the unit's transaction.
    """
    unit = _open_unit(engine)
    if unit is not None:
        try:
            yield unit.connection
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable(exc) from exc
            raise
        return
    if engine.dialect.name != "postgresql":
        async with transaction(engine) as connection:
            yield connection
        return
    connection = engine.connect()
    try:
        await connection.start()
    except (DBAPIError, OSError, PoolTimeout) as exc:
        raise unavailable(exc) from exc
    # The DBAPI connection's own autocommit switch, as SQLAlchemy's AUTOCOMMIT isolation level sets it, without
    # the two trips through SQLAlchemy's greenlet that setting and resetting that level costs.
    dbapi_connection: Any = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    dbapi_connection.autocommit = True
    try:
        yield connection
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise
    finally:
        dbapi_connection.autocommit = False
        await connection.close()


@asynccontextmanager
async def _savepoint(connection: AsyncConnection) -> AsyncIterator[None]:
    try:
        if isinstance(connection, InlineConnection):
            with connection.savepoint():
                yield
        else:
            async with connection.begin_nested():
                yield
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


@contextmanager
def _inline_transaction(database: InlineDatabase) -> Iterator[AsyncConnection]:
    try:
        connection = database.connection()
    except (DBAPIError, OSError, PoolTimeout) as exc:
        raise unavailable(exc) from exc
    try:
        with connection.begin():
            # Stands in for an AsyncConnection: the stores use only what InlineConnection offers.
            yield cast(AsyncConnection, InlineConnection(connection))
        database.checkpoints.committed()
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


async def run(connection: AsyncConnection, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
    """Execute a prepared hot-path statement in `connection`'s transaction; its rows (empty without
    RETURNING). Inline SQLite and asyncpg run the precompiled SQL on the driver (db/prepared.py); other
    engines, the Core statement."""
    if isinstance(connection, InlineConnection):
        return connection.run_prepared(prepared, values)
    if connection.dialect.name == "postgresql":
        rows = await direct_asyncpg.run(connection, prepared, values)
        if rows is not None:
            return rows
    result = await connection.execute(prepared.statement, values)
    return list(result.all()) if result.returns_rows else []


async def ping(engine: AsyncEngine) -> None:
    """Run `SELECT 1`; raises StoreUnavailable."""
    async with transaction(engine) as connection:
        await connection.execute(text("SELECT 1"))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def check_migrated(engine: AsyncEngine) -> None:
    """Raises NotMigrated unless the database is at the head revision; StoreUnavailable when unreachable."""
    async with transaction(engine) as connection:
        current = await connection.run_sync(_current_revision)
    expected = head_revision()
    if current != expected:
        raise NotMigrated(
            f"the database at {display_url(engine)} is not migrated (at revision {current or 'none'}, "
            f"code expects {expected}); run `ltigate migrate`"
        )

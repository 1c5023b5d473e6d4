"""The async engine for SQLite (WAL) or PostgreSQL, the migration check at start, and the one place where
connection failures become StoreUnavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from ltigate.db.migrate import head_revision
from ltigate.services.errors import NotMigrated, StoreUnavailable

# Every SQLite connection: WAL so readers never block the writer, and a wait instead of "database is locked".
SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def create_engine(url: str) -> AsyncEngine:
    """An engine for `sqlite+aiosqlite://` (parent directory created) or `postgresql+asyncpg://` URLs.

    Nothing connects until the first use. Raises ValueError for any other scheme.
    """
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return _sqlite_engine(parsed)
    if parsed.drivername == "postgresql+asyncpg":
        # pre-ping: a node outlives database restarts and idle-connection reapers without a failed request.
        return create_async_engine(
            parsed, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=10, pool_recycle=1800
        )
    raise ValueError(
        f"unsupported database URL scheme '{parsed.drivername}://'; use sqlite+aiosqlite:// or postgresql+asyncpg://"
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine


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


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed when the block ends without an exception.

    Raises StoreUnavailable when no connection can be had (server down, wrong credentials, unknown
    database, pool exhausted) or the connection breaks; every other error passes unchanged.
    """
    connection = engine.connect()
    try:
        await connection.start()
    except (DBAPIError, OSError, PoolTimeout) as exc:
        raise unavailable(exc) from exc
    try:
        async with connection.begin():
            yield connection
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise
    finally:
        await connection.close()


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

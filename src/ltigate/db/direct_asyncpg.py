"""Prepared statements run on the asyncpg connection under a SQLAlchemy AsyncConnection, in its transaction.

Through SQLAlchemy a statement costs ~200 µs of CPU on asyncpg (greenlet hand-offs, execution context,
the adapter's cursor), on the driver ~75 µs (bench/README.md). The connection stays SQLAlchemy's: it
comes from and returns to the pool, its transaction is begun through SQLAlchemy's asyncpg adapter (so the
adapter commits or rolls back what these statements did, together with any statement run through
SQLAlchemy in the same block), and driver errors are raised as SQLAlchemy's (IntegrityError, ...; a broken
connection invalidated and raised as OperationalError), as `AsyncConnection.execute` raises them.

The adapter's transaction handling is not public API: `runner` checks for it and returns None where a
SQLAlchemy release lacks it, and `db.engine.run` then executes the statement through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import asyncpg
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from ltigate.db.prepared import Prepared

# PostgreSQL error classes that mean the connection or the server is gone (08: connection exception,
# 57P: operator intervention such as a shutdown or a restart).
_GONE_STATES: Final = ("08", "57P")


async def run(connection: AsyncConnection, prepared: Prepared, values: Mapping[str, Any]) -> list[Any] | None:
    """Run `prepared` on `connection`'s asyncpg connection, in its transaction (begun now if the block's
    SQLAlchemy transaction has not yet sent BEGIN) or autocommitting on an AUTOCOMMIT connection; its rows.
    None when the connection cannot be driven directly (the caller runs the statement through SQLAlchemy)."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return None
    adapter: Any = sync.connection.dbapi_connection
    if not hasattr(adapter, "_start_transaction") or not hasattr(adapter, "_transaction"):
        return None
    driver: asyncpg.Connection = adapter.driver_connection
    compiled = prepared.postgresql
    parameters = compiled.parameters(values)
    if sync._has_events or sync.engine._has_events:  # statement tracing and counting still work
        sync.dispatch.before_cursor_execute(sync, None, compiled.sql, parameters, None, False)
    try:
        if adapter._transaction is None and adapter.isolation_level != "autocommit":
            await adapter._start_transaction()
        records = await driver.fetch(compiled.sql, *parameters)
    except Exception as error:  # asyncpg's errors, OSError, timeouts, the adapter's own when BEGIN fails
        raise await _translated(connection, compiled.sql, error) from error
    return compiled.rows(records[0].keys(), records) if records else []


async def commit(connection: AsyncConnection) -> None:
    """Commit the transaction `run` began on `connection` when no statement went through SQLAlchemy (which
    then has no transaction of its own to commit); nothing when none was begun."""
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return
    adapter: Any = sync.connection.dbapi_connection
    transaction = getattr(adapter, "_transaction", None)
    if transaction is None:
        return
    try:
        await transaction.commit()
    except Exception as error:
        raise await _translated(connection, "COMMIT", error) from error
    finally:
        adapter._transaction = None  # done either way, as the adapter's own commit treats it


async def _translated(connection: AsyncConnection, sql: str, error: Exception) -> exc.DBAPIError:
    """SQLAlchemy's exception for a driver error; a connection that broke is invalidated first, so the
    pool replaces it."""
    state = getattr(error, "sqlstate", None) or ""
    if isinstance(error, asyncpg.PostgresError) and not state.startswith(_GONE_STATES):
        if state.startswith("23"):
            return exc.IntegrityError(sql, None, error)
        if state.startswith("22"):
            return exc.DataError(sql, None, error)
        if state.startswith("42"):
            return exc.ProgrammingError(sql, None, error)
        return exc.DatabaseError(sql, None, error)
    await connection.invalidate(error)
    return exc.OperationalError(sql, None, error, connection_invalidated=True)

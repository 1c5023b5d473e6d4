"""Alembic environment: runs the migrations over ltigate's async engine (SQLite or PostgreSQL).

The URL comes from `config.attributes['url']` (set by ltigate.db.migrate) or the `sqlalchemy.url` option.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ltigate.db.engine import create_engine
from ltigate.db.schema import metadata

config = context.config


def database_url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set config.attributes['url'] or the sqlalchemy.url option")
    return str(url)


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade --sql`)."""
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite"
    )
    with context.begin_transaction():
        context.run_migrations()


def check_foreign_keys(connection: Connection) -> None:
    violations = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if violations:
        raise RuntimeError(f"the migration left rows that break foreign keys: {violations[:5]}")


async def run_online() -> None:
    engine = create_engine(database_url())
    try:
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # A batch migration drops and recreates tables; with foreign keys on, that drop would
                # cascade into the child tables (sqlite.org/lang_altertable.html, "other alterations").
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            await connection.run_sync(run_on)
            if sqlite:
                await connection.run_sync(check_foreign_keys)
                await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())

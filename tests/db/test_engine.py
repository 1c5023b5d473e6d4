"""The engine: SQLite pragmas on every connection, and connection failures turned into StoreUnavailable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import check_migrated, create_engine, ping
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.states import SqlStateStore
from ltigate.services.errors import StoreUnavailable

pytestmark = pytest.mark.anyio

# Nothing listens on port 1 of the loopback address: connections are refused at once.
UNREACHABLE_POSTGRES = "postgresql+asyncpg://gate:s3cret@127.0.0.1:1/ltigate"


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'ltigate.db'}")
    try:
        async with engine.connect() as connection:
            found = {
                pragma: (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    assert found == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}
    assert (tmp_path / "a" / "b").is_dir()


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme 'mysql\\+aiomysql://'"):
        create_engine("mysql+aiomysql://db/ltigate")


async def test_ping_a_migrated_database(engine: AsyncEngine) -> None:
    await ping(engine)
    await check_migrated(engine)


async def test_unreachable_postgres_is_store_unavailable() -> None:
    engine = create_engine(UNREACHABLE_POSTGRES)
    try:
        for attempt in (ping(engine), check_migrated(engine), SqlPlatformStore(engine).find_by_issuer("x")):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            assert caught.value.code == "database_unavailable"
            assert caught.value.status == 503
            assert str(caught.value).startswith("the database is unavailable: ")
            assert "s3cret" not in str(caught.value)
    finally:
        await engine.dispose()


async def test_unopenable_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}")  # a directory, not a file
    try:
        with pytest.raises(StoreUnavailable, match=r"^the database is unavailable: unable to open database file$"):
            await SqlStateStore(engine).consume("h", now=1.0)
    finally:
        await engine.dispose()


async def test_unknown_postgres_database_is_store_unavailable(missing_postgres_database_url: str) -> None:
    engine = create_engine(missing_postgres_database_url)
    try:
        with pytest.raises(StoreUnavailable, match='database "ltigate_no_such_database" does not exist'):
            await ping(engine)
    finally:
        await engine.dispose()

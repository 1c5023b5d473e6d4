"""The engine: SQLite pragmas on every connection, and connection failures turned into StoreUnavailable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import check_migrated, create_engine, dispose, ping, transaction, unit_of_work
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.schema import login_states
from ltigate.db.states import SqlStateStore
from ltigate.services.errors import StoreUnavailable
from ltigate.services.records import LoginState

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


def _state(state_hash: str) -> LoginState:
    return LoginState(
        state_hash=state_hash, nonce="n", platform_id="p1", target_link_uri="https://gate.test/", expires_at=9e9
    )


async def _stored(engine: AsyncEngine) -> set[str]:
    async with transaction(engine) as connection:
        return set((await connection.execute(select(login_states.c.state_hash))).scalars())


async def test_a_unit_of_work_keeps_all_of_its_writes_or_none(engine: AsyncEngine) -> None:
    states = SqlStateStore(engine)
    with pytest.raises(RuntimeError, match="half way"):
        async with unit_of_work(engine):
            await states.put(_state("a"))
            assert await states.consume("a", now=1.0) is not None  # its own writes are visible inside
            await states.put(_state("b"))
            raise RuntimeError("half way")
    assert await _stored(engine) == set()

    async with unit_of_work(engine):
        await states.put(_state("a"))
        await states.put(_state("b"))
    assert await _stored(engine) == {"a", "b"}


async def test_a_transaction_inside_a_unit_is_undone_alone(engine: AsyncEngine) -> None:
    states = SqlStateStore(engine)
    async with unit_of_work(engine):
        await states.put(_state("kept"))
        with pytest.raises(RuntimeError):
            async with transaction(engine) as connection:
                await connection.execute(insert(login_states).values(**_row("undone")))
                raise RuntimeError("only this block")
        async with unit_of_work(engine):  # a nested unit joins the outer one
            await states.put(_state("also kept"))
    assert await _stored(engine) == {"kept", "also kept"}


async def test_a_unit_of_work_is_invisible_to_others_until_it_ends(engine: AsyncEngine) -> None:
    other = create_engine(str(engine.url.render_as_string(hide_password=False)))
    try:
        async with unit_of_work(engine):
            await SqlStateStore(engine).put(_state("pending"))
            assert await _stored(other) == set()  # another connection (SQLite: a WAL reader) sees nothing yet
        assert await _stored(other) == {"pending"}
    finally:
        await dispose(other)


def _row(state_hash: str) -> dict[str, object]:
    s = _state(state_hash)
    return {
        "state_hash": s.state_hash,
        "nonce": s.nonce,
        "platform_id": s.platform_id,
        "target_link_uri": s.target_link_uri,
        "expires_at": s.expires_at,
    }

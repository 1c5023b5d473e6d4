"""Prepared statements on asyncpg directly (db/direct_asyncpg.py): they bypass SQLAlchemy's cursor yet stay
in the block's transaction, commit and roll back with it (alone or together with SQLAlchemy statements),
and fail as SQLAlchemy's statements fail: a duplicate is a Conflict, a broken connection StoreUnavailable
and replaced, a bad value an error that leaves the connection usable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit, create_engine, dispose, run, transaction, unit_of_work
from ltigate.db.schema import login_states
from ltigate.db.states import _INSERT, SqlStateStore
from ltigate.services.errors import Conflict, StoreUnavailable
from ltigate.services.records import LoginState

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
async def pg(postgres_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_database_url)
    yield engine
    await dispose(engine)


def _state(state_hash: str) -> LoginState:
    return LoginState(
        state_hash=state_hash, nonce="n", platform_id="p1", target_link_uri="https://gate.test/", expires_at=9e9
    )


def _values(state_hash: str) -> dict[str, Any]:
    state = _state(state_hash)
    return {
        "state_hash": state.state_hash,
        "nonce": state.nonce,
        "platform_id": state.platform_id,
        "target_link_uri": state.target_link_uri,
        "expires_at": state.expires_at,
        "storage_target": None,
    }


async def _stored(engine: AsyncEngine) -> set[str]:
    other = create_engine(engine.url.render_as_string(hide_password=False))  # its own connections
    try:
        async with transaction(other) as connection:
            return set((await connection.execute(select(login_states.c.state_hash))).scalars())
    finally:
        await dispose(other)


async def test_prepared_statements_skip_sqlalchemys_cursor(pg: AsyncEngine) -> None:
    seen: list[tuple[str, object]] = []
    event.listen(pg.sync_engine, "before_cursor_execute", lambda _c, cursor, sql, *_: seen.append((sql, cursor)))
    await SqlStateStore(pg).put(_state("a"))
    consumed = await SqlStateStore(pg).consume("a", now=5.0)
    assert consumed is not None and consumed.first_use
    assert consumed.state == _state("a")  # rows read by column name
    assert [sql.split()[0] for sql, _ in seen] == ["INSERT", "UPDATE"]
    assert all(cursor is None for _, cursor in seen)  # traced, but not run through SQLAlchemy's cursor
    assert "$1::VARCHAR" in seen[0][0]


async def test_a_block_of_prepared_statements_commits_or_rolls_back_as_one(pg: AsyncEngine) -> None:
    with pytest.raises(RuntimeError, match="after two"):
        async with transaction(pg) as connection:
            await run(connection, _INSERT, _values("a"))
            await run(connection, _INSERT, _values("b"))
            raise RuntimeError("after two")
    assert await _stored(pg) == set()

    async with transaction(pg) as connection:
        await run(connection, _INSERT, _values("a"))
        await run(connection, _INSERT, _values("b"))
        assert await _stored(pg) == set()  # not committed before the block ends
    assert await _stored(pg) == {"a", "b"}


@pytest.mark.parametrize("prepared_first", [True, False])
async def test_prepared_and_sqlalchemy_statements_share_one_transaction(pg: AsyncEngine, prepared_first: bool) -> None:
    async def both(connection: Any) -> None:
        for step in ("prepared", "core") if prepared_first else ("core", "prepared"):
            if step == "prepared":
                await run(connection, _INSERT, _values("direct"))
            else:
                await connection.execute(insert(login_states).values(**_values("core")))

    with pytest.raises(RuntimeError):
        async with transaction(pg) as connection:
            await both(connection)
            raise RuntimeError("undo both")
    assert await _stored(pg) == set()

    async with unit_of_work(pg), transaction(pg) as connection:
        await both(connection)
    assert await _stored(pg) == {"direct", "core"}


async def test_autocommit_statements_are_committed_at_once(pg: AsyncEngine) -> None:
    async with autocommit(pg) as connection:
        await run(connection, _INSERT, _values("now"))
        assert await _stored(pg) == {"now"}  # no transaction held it back
        await connection.execute(insert(login_states).values(**_values("core")))
        assert await _stored(pg) == {"now", "core"}
    # The pooled connection is back to transactions: a block that fails leaves nothing.
    with pytest.raises(RuntimeError):
        async with transaction(pg) as connection:
            await run(connection, _INSERT, _values("undone"))
            await connection.execute(insert(login_states).values(**_values("undone too")))
            raise RuntimeError("roll back")
    assert await _stored(pg) == {"now", "core"}


async def test_a_duplicate_is_a_conflict_and_the_connection_stays_usable(pg: AsyncEngine) -> None:
    states = SqlStateStore(pg)
    await states.put(_state("dup"))
    for _ in range(3):  # the pool's connections were rolled back and reused
        with pytest.raises(Conflict):
            await states.put(_state("dup"))
    with pytest.raises(DataError):
        async with transaction(pg) as connection:
            await run(connection, _INSERT, {**_values("bad"), "expires_at": "not a number"})
    await states.put(_state("after"))
    assert await _stored(pg) == {"dup", "after"}


async def test_a_broken_connection_is_store_unavailable_and_replaced(pg: AsyncEngine) -> None:
    states = SqlStateStore(pg)
    await states.put(_state("before"))
    async with autocommit(pg) as connection:  # the one pooled connection the next block will get
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    killer = create_engine(pg.url.render_as_string(hide_password=False))
    try:
        async with autocommit(killer) as connection:
            assert (await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()
    finally:
        await dispose(killer)
    with pytest.raises(StoreUnavailable) as caught:
        async with transaction(pg) as connection:
            await run(connection, _INSERT, _values("lost"))
    assert caught.value.code == "database_unavailable"
    await states.put(_state("after"))  # a fresh connection, without restarting anything
    assert await _stored(pg) == {"before", "after"}

"""SqlStateStore: a login state is consumed once, across connections and engines, and purged later."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import create_engine
from ltigate.db.states import SqlStateStore
from ltigate.services.errors import Conflict
from ltigate.services.records import ConsumedState, LoginState

pytestmark = pytest.mark.anyio


def state(state_hash: str = "h1", expires_at: float = 700.0) -> LoginState:
    return LoginState(
        state_hash=state_hash,
        nonce="n-" + state_hash,
        platform_id="p1",
        target_link_uri="https://gate.test/lti/launch?resource=intro",
        expires_at=expires_at,
    )


@pytest.fixture
def store(engine: AsyncEngine) -> SqlStateStore:
    return SqlStateStore(engine)


async def test_consume_returns_the_state_once_then_as_replayed(store: SqlStateStore) -> None:
    await store.put(state())
    assert await store.consume("h1", now=200.0) == ConsumedState(state(), first_use=True)
    assert await store.consume("h1", now=201.0) == ConsumedState(state(), first_use=False)


async def test_consume_of_an_unknown_state_is_none(store: SqlStateStore) -> None:
    assert await store.consume("unknown", now=1.0) is None


async def test_consume_does_not_judge_expiry(store: SqlStateStore) -> None:
    await store.put(state(expires_at=10.0))
    consumed = await store.consume("h1", now=50.0)
    assert consumed is not None
    assert consumed.first_use is True


async def test_peek_reads_without_using_and_keeps_the_storage_frame(store: SqlStateStore) -> None:
    stored = LoginState(
        state_hash="h9",
        nonce="n-9",
        platform_id="p1",
        target_link_uri="https://gate.test/lti/launch?resource=intro",
        expires_at=700.0,
        storage_target="lti_storage",
    )
    await store.put(stored)
    assert await store.peek("h9") == ConsumedState(stored, first_use=True)
    assert await store.peek("h9") == ConsumedState(stored, first_use=True)
    assert await store.consume("h9", now=200.0) == ConsumedState(stored, first_use=True)  # peeking used nothing
    assert await store.peek("h9") == ConsumedState(stored, first_use=False)
    assert await store.peek("unknown") is None


async def test_put_refuses_a_known_hash(store: SqlStateStore) -> None:
    await store.put(state())
    with pytest.raises(Conflict, match=r"^a login state with this hash exists already$"):
        await store.put(state())


async def test_fifty_concurrent_consumers_on_two_engines_see_one_first_use(database_url: str) -> None:
    """Two engines stand for two gateway nodes sharing the database."""
    nodes = [create_engine(database_url), create_engine(database_url)]
    try:
        await SqlStateStore(nodes[0]).put(state())
        results: list[ConsumedState | None] = []

        async def consume(index: int) -> None:
            results.append(await SqlStateStore(nodes[index % 2]).consume("h1", now=100.0 + index))

        async with anyio.create_task_group() as group:
            for index in range(50):
                group.start_soon(consume, index)
    finally:
        for node in nodes:
            await node.dispose()
    assert len(results) == 50
    assert all(r is not None and r.state == state() for r in results)
    assert sum(1 for r in results if r is not None and r.first_use) == 1


async def test_purge_drops_expired_unused_states_and_used_ones_after_the_keep_period(store: SqlStateStore) -> None:
    await store.put(state("unused-expired", expires_at=90.0))
    await store.put(state("unused-live", expires_at=200.0))
    await store.put(state("used-long-ago", expires_at=90.0))
    await store.put(state("used-recently", expires_at=90.0))
    await store.consume("used-long-ago", now=10.0)
    await store.consume("used-recently", now=80.0)

    assert await store.purge(now=100.0, keep_consumed_for=60.0) == 2

    assert await store.consume("unused-expired", now=100.0) is None
    assert await store.consume("used-long-ago", now=100.0) is None
    replayed = await store.consume("used-recently", now=100.0)
    assert replayed is not None
    assert replayed.first_use is False
    live = await store.consume("unused-live", now=100.0)
    assert live is not None
    assert live.first_use is True

"""SqlDeepLinkSessionStore: a deep-linking request is answered once (across engines), never after it
expired, and purged later."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.deep_linking import SqlDeepLinkSessionStore
from ltigate.db.engine import create_engine
from ltigate.services.records import DeepLinkSession

pytestmark = pytest.mark.anyio

SETTINGS = {"deep_link_return_url": "https://lms.test/return", "accept_types": ["ltiResourceLink"], "data": {"a": [1]}}


def session(launch_id: str = "l1", expires_at: float = 1000.0) -> DeepLinkSession:
    return DeepLinkSession(
        launch_id=launch_id,
        platform_id="p1",
        deployment_id="d1",
        resource_slug=None,
        settings=SETTINGS,
        token_hash="h" * 64,
        created_at=100.0,
        expires_at=expires_at,
    )


@pytest.fixture
def store(engine: AsyncEngine) -> SqlDeepLinkSessionStore:
    return SqlDeepLinkSessionStore(engine)


async def test_a_session_round_trips_and_is_answered_once(store: SqlDeepLinkSessionStore) -> None:
    await store.open(session())
    assert await store.get("l1") == session()
    assert await store.answer("l1", now=200.0) is True
    assert await store.answer("l1", now=201.0) is False
    stored = await store.get("l1")
    assert stored is not None and stored.answered_at == 200.0
    assert await store.get("unknown") is None


async def test_an_expired_session_cannot_be_answered(store: SqlDeepLinkSessionStore) -> None:
    await store.open(session(expires_at=300.0))
    assert await store.answer("l1", now=300.0) is False
    assert (await store.get("l1")).answered_at is None  # type: ignore[union-attr]


async def test_two_engines_racing_answer_exactly_once(engine: AsyncEngine, database_url: str) -> None:
    await SqlDeepLinkSessionStore(engine).open(session())
    other = create_engine(database_url)
    results: list[bool] = []
    try:
        stores = [SqlDeepLinkSessionStore(engine), SqlDeepLinkSessionStore(other)] * 5

        async def answer(s: SqlDeepLinkSessionStore) -> None:
            results.append(await s.answer("l1", now=200.0))

        async with anyio.create_task_group() as tasks:
            for s in stores:
                tasks.start_soon(answer, s)
    finally:
        await other.dispose()
    assert sorted(results) == [False] * 9 + [True]


async def test_purge_keeps_open_and_recently_answered_sessions(store: SqlDeepLinkSessionStore) -> None:
    await store.open(session("open", expires_at=5000.0))
    await store.open(session("expired", expires_at=400.0))
    await store.open(session("answered-long-ago", expires_at=5000.0))
    await store.open(session("answered-recently", expires_at=5000.0))
    await store.answer("answered-long-ago", now=200.0)
    await store.answer("answered-recently", now=900.0)
    assert await store.purge(now=1000.0, keep_answered_for=500.0) == 2
    assert await store.get("expired") is None and await store.get("answered-long-ago") is None
    assert await store.get("open") is not None and await store.get("answered-recently") is not None

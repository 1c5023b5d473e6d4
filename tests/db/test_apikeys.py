"""SqlApiKeyStore: keys found by secret hash, used, listed and revoked once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.apikeys import SqlApiKeyStore
from ltigate.services.errors import Conflict
from ltigate.services.records import ApiKey

pytestmark = pytest.mark.anyio

KEY = ApiKey(id="a1", name="LMS sync job", prefix="1a2b3c4d", created_at=10.0)


@pytest.fixture
def store(engine: AsyncEngine) -> SqlApiKeyStore:
    return SqlApiKeyStore(engine)


async def test_create_find_touch(store: SqlApiKeyStore) -> None:
    await store.create(KEY, "hash-1")
    assert await store.find("hash-1") == KEY
    assert await store.find("hash-2") is None
    await store.touch("a1", now=20.0)
    await store.touch("unknown", now=20.0)
    assert await store.find("hash-1") == replace(KEY, last_used_at=20.0)


async def test_create_refuses_a_taken_id_or_secret(store: SqlApiKeyStore) -> None:
    await store.create(KEY, "hash-1")
    with pytest.raises(Conflict) as caught:
        await store.create(KEY, "hash-2")
    assert (caught.value.code, str(caught.value)) == ("conflict", "an API key with id 'a1' exists already")
    with pytest.raises(Conflict, match=r"^an API key with the same secret exists already \(id 'a1'\)$"):
        await store.create(replace(KEY, id="a2"), "hash-1")


async def test_list_is_oldest_first_with_revoked_keys(store: SqlApiKeyStore) -> None:
    await store.create(replace(KEY, id="a2", created_at=20.0), "hash-2")
    await store.create(KEY, "hash-1")
    assert await store.revoke("a2", now=30.0) is True
    assert await store.list() == [KEY, replace(KEY, id="a2", created_at=20.0, revoked_at=30.0)]


async def test_revoke_once(store: SqlApiKeyStore) -> None:
    await store.create(KEY, "hash-1")
    assert await store.revoke("a1", now=30.0) is True
    assert await store.revoke("a1", now=40.0) is False
    assert await store.revoke("unknown", now=40.0) is False
    assert await store.find("hash-1") == replace(KEY, revoked_at=30.0)

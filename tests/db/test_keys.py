"""SqlKeyStore: the tool's keys by purpose, their state changes, and dropping retired ones when due."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.keys import SqlKeyStore
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import KeyPurpose, KeyState, ToolKey

pytestmark = pytest.mark.anyio


def key(kid: str, purpose: KeyPurpose = KeyPurpose.LTI, state: KeyState = KeyState.NEXT, at: float = 1.0) -> ToolKey:
    return ToolKey(
        kid=kid,
        purpose=purpose,
        alg="RS256" if purpose is KeyPurpose.LTI else "ES256",
        state=state,
        public_jwk={"kty": "RSA", "kid": kid, "n": "0vx7agoebGc", "e": "AQAB", "use": "sig"},
        sealed_private_key=b"\x00sealed\xff" + kid.encode(),
        created_at=at,
        activated_at=at if state is KeyState.ACTIVE else None,
    )


@pytest.fixture
def store(engine: AsyncEngine) -> SqlKeyStore:
    return SqlKeyStore(engine)


async def test_add_and_list_by_purpose_oldest_first(store: SqlKeyStore) -> None:
    await store.add(key("k2", at=2.0))
    await store.add(key("k1", state=KeyState.ACTIVE, at=1.0))
    await store.add(key("t1", purpose=KeyPurpose.TICKET, at=3.0))
    assert await store.list(KeyPurpose.LTI) == [key("k1", state=KeyState.ACTIVE, at=1.0), key("k2", at=2.0)]
    assert await store.list(KeyPurpose.TICKET) == [key("t1", purpose=KeyPurpose.TICKET, at=3.0)]


async def test_add_refuses_a_known_kid(store: SqlKeyStore) -> None:
    await store.add(key("k1"))
    with pytest.raises(Conflict) as caught:
        await store.add(key("k1"))
    assert (caught.value.code, str(caught.value)) == ("conflict", "a tool key with kid 'k1' exists already")


async def test_set_state_through_a_rotation(store: SqlKeyStore) -> None:
    await store.add(key("old", state=KeyState.ACTIVE, at=1.0))
    await store.add(key("new", at=2.0))
    await store.set_state("old", KeyState.RETIRED, at=10.0, retire_at=100.0)
    await store.set_state("new", KeyState.ACTIVE, at=10.0)
    old, new = await store.list(KeyPurpose.LTI)
    assert old == replace(key("old", state=KeyState.ACTIVE, at=1.0), state=KeyState.RETIRED, retire_at=100.0)
    assert new == replace(key("new", at=2.0), state=KeyState.ACTIVE, activated_at=10.0)


async def test_retiring_without_a_time_retires_at_once(store: SqlKeyStore) -> None:
    await store.add(key("k1", state=KeyState.ACTIVE))
    await store.set_state("k1", KeyState.RETIRED, at=5.0)
    (retired,) = await store.list(KeyPurpose.LTI)
    assert (retired.state, retired.retire_at, retired.activated_at) == (KeyState.RETIRED, 5.0, 1.0)


async def test_set_state_of_an_unknown_kid_is_not_found(store: SqlKeyStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.set_state("nope", KeyState.ACTIVE, at=1.0)
    assert (caught.value.code, str(caught.value)) == ("not_found", "no tool key with kid 'nope'")


async def test_drop_retired_removes_only_those_due(store: SqlKeyStore) -> None:
    await store.add(key("due", state=KeyState.ACTIVE))
    await store.add(key("later", state=KeyState.ACTIVE))
    await store.add(key("active", state=KeyState.ACTIVE))
    await store.set_state("due", KeyState.RETIRED, at=2.0, retire_at=50.0)
    await store.set_state("later", KeyState.RETIRED, at=2.0, retire_at=150.0)
    assert await store.drop_retired(now=100.0) == 1
    assert [k.kid for k in await store.list(KeyPurpose.LTI)] == ["active", "later"]
    assert await store.drop_retired(now=100.0) == 0

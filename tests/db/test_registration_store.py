"""SqlRegistrationLinkStore and SqlRegistrationAttemptLog; a platform's approval in SqlPlatformStore."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.registration import SqlRegistrationAttemptLog, SqlRegistrationLinkStore
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import (
    AttemptOutcome,
    PlatformFields,
    RegisteredVia,
    RegistrationAttempt,
    RegistrationLink,
)

pytestmark = pytest.mark.anyio

LINK = RegistrationLink(id="l1", note="Moodle U", created_at=10.0, expires_at=100.0)


async def test_a_link_is_claimed_once_even_by_concurrent_claims(engine: AsyncEngine) -> None:
    store = SqlRegistrationLinkStore(engine)
    await store.create(LINK, "hash-1")
    assert await store.find("hash-1") == LINK
    results: list[bool] = []

    async def claim() -> None:
        results.append(await store.claim("l1", now=20.0))

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(claim)

    assert sorted(results) == [False, False, False, False, True]
    await store.release("l1")
    assert await store.claim("l1", now=21.0)
    await store.complete("l1", "p1")
    await store.release("l1")  # a completed link is never given back
    found = await store.find("hash-1")
    assert found is not None and (found.used_at, found.platform_id) == (21.0, "p1")
    assert not await store.revoke("l1", now=30.0)  # used links are not revoked


async def test_expired_and_revoked_links_cannot_be_claimed(engine: AsyncEngine) -> None:
    store = SqlRegistrationLinkStore(engine)
    await store.create(LINK, "hash-1")
    await store.create(RegistrationLink(id="l2", note="", created_at=11.0, expires_at=100.0), "hash-2")
    with pytest.raises(Conflict):
        await store.create(RegistrationLink(id="l3", note="", created_at=12.0, expires_at=100.0), "hash-1")

    assert not await store.claim("l1", now=100.0)
    assert await store.revoke("l2", now=50.0)
    assert not await store.revoke("l2", now=51.0)
    assert not await store.claim("l2", now=60.0)
    assert [link.id for link in await store.list()] == ["l2", "l1"]  # newest first


async def test_attempts_are_listed_newest_first_and_purged(engine: AsyncEngine) -> None:
    log = SqlRegistrationAttemptLog(engine)
    for number in range(3):
        await log.record(
            RegistrationAttempt(
                id=f"a{number}",
                created_at=float(number),
                outcome=AttemptOutcome.FAILED,
                stage="prepare",
                error_code="registration_issuer_mismatch",
                issuer="https://lms.example.edu",
            )
        )

    assert [a.id for a in await log.list(2)] == ["a2", "a1"]
    assert (await log.list(1))[0].error_code == "registration_issuer_mismatch"
    assert await log.purge(before=2.0) == 2
    assert [a.id for a in await log.list(10)] == ["a2"]


async def test_a_self_registered_platform_waits_for_approval(engine: AsyncEngine) -> None:
    store = SqlPlatformStore(engine)
    fields = PlatformFields(
        name="Moodle",
        issuer="https://moodle.example.edu",
        client_id="c1",
        auth_url="https://moodle.example.edu/auth",
        token_url="https://moodle.example.edu/token",
        jwks_url="https://moodle.example.edu/jwks",
    )
    created = await store.create(
        "p1", fields, 1.0, awaiting_approval=True, registered_via=RegisteredVia.DYNAMIC, product_family_code="moodle"
    )
    manual = await store.create("p2", replace(fields, name="Manual", client_id="c2"), 1.0)

    assert (created.awaiting_approval, created.registered_via, created.product_family_code) == (
        True,
        RegisteredVia.DYNAMIC,
        "moodle",
    )
    assert (manual.awaiting_approval, manual.registered_via, manual.product_family_code) == (
        False,
        RegisteredVia.MANUAL,
        None,
    )
    approved = await store.approve("p1", 2.0)
    assert (approved.awaiting_approval, approved.updated_at) == (False, 2.0)
    with pytest.raises(NotFound):
        await store.approve("nope", 3.0)

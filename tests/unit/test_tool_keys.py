"""Tool keys: generated on first start, sealed at rest, rotated with a published `next` key and an
overlap during which the retired key stays in the key set."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ltigate.db.engine import create_engine
from ltigate.db.keys import SqlKeyStore
from ltigate.db.migrate import upgrade
from ltigate.services.records import KeyPurpose, KeyState
from ltigate.services.sealing import Sealer
from ltigate.services.tool_keys import ToolKeys


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def migrated(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)
    return url


def tool_keys(store: SqlKeyStore, clock: Clock) -> ToolKeys:
    return ToolKeys(store, Sealer(b"s" * 32), clock, overlap_seconds=3600)


def test_rotation_publishes_ahead_and_retires_after_the_overlap(tmp_path: Path) -> None:
    url = migrated(tmp_path)

    async def scenario() -> None:
        engine = create_engine(url)
        clock = Clock()
        store = SqlKeyStore(engine)
        keys = tool_keys(store, clock)
        await keys.ensure()
        first = keys.signing_key(KeyPurpose.LTI)
        published = {k["kid"] for k in keys.published(KeyPurpose.LTI)}
        assert len(published) == 2 and first.kid in published
        (upcoming,) = published - {first.kid}

        stored = await store.list(KeyPurpose.LTI)
        assert all(b"PRIVATE KEY" not in k.sealed_private_key for k in stored)

        result = await keys.rotate()
        assert result.activated == upcoming and result.retired == (first.kid,)
        assert keys.signing_key(KeyPurpose.LTI).kid == upcoming
        assert {first.kid, upcoming, result.published_next} == {k["kid"] for k in keys.published(KeyPurpose.LTI)}

        clock.now += 3601
        await keys.reload()
        assert first.kid not in {k["kid"] for k in keys.published(KeyPurpose.LTI)}
        await keys.rotate()
        assert first.kid not in {k.kid for k in await store.list(KeyPurpose.LTI)}

        again = tool_keys(store, clock)
        await again.ensure()
        assert again.signing_key(KeyPurpose.LTI).kid == keys.signing_key(KeyPurpose.LTI).kid
        states = [k.state for k in await store.list(KeyPurpose.LTI)]
        assert states.count(KeyState.ACTIVE) == 1 and states.count(KeyState.NEXT) == 1
        assert again.signing_key(KeyPurpose.TICKET).alg == "ES256"
        await engine.dispose()

    asyncio.run(scenario())


def test_reload_follows_a_rotation_made_elsewhere_and_keeps_an_unchanged_key(tmp_path: Path) -> None:
    url = migrated(tmp_path)

    async def scenario() -> None:
        engine = create_engine(url)
        clock = Clock()
        store = SqlKeyStore(engine)
        here = tool_keys(store, clock)
        elsewhere = tool_keys(store, clock)
        await here.ensure()
        await elsewhere.ensure()
        loaded = here.signing_key(KeyPurpose.LTI)
        await here.reload()
        assert here.signing_key(KeyPurpose.LTI) is loaded  # same kid: not unsealed and parsed again

        result = await elsewhere.rotate(KeyPurpose.LTI)
        assert here.signing_key(KeyPurpose.LTI).kid == loaded.kid  # until it reloads
        await here.reload()
        assert here.signing_key(KeyPurpose.LTI).kid == result.activated != loaded.kid
        assert here.signing_key(KeyPurpose.TICKET).kid == elsewhere.signing_key(KeyPurpose.TICKET).kid
        assert {k["kid"] for k in here.published(KeyPurpose.LTI)} == {
            k["kid"] for k in elsewhere.published(KeyPurpose.LTI)
        }
        await engine.dispose()

    asyncio.run(scenario())

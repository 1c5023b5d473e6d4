"""A process whose secret key does not open the stored values (it missed `ltigate rotate-secret`): its tool
keys say so with a stable code and add nothing, and a cached service token it cannot open is a miss."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from ltigate.db.engine import create_engine, dispose
from ltigate.db.keys import SqlKeyStore
from ltigate.db.migrate import upgrade
from ltigate.services.errors import SecretKeyMismatch
from ltigate.services.ports import HttpResponse
from ltigate.services.records import KeyPurpose, KeyState, Platform, PlatformFields, ServiceToken
from ltigate.services.sealing import Sealer
from ltigate.services.service_tokens import SEAL_PURPOSE, ServiceTokens
from ltigate.services.tool_keys import ToolKeys

SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
OLD, NEW = b"o" * 32, b"n" * 32


def clock() -> float:
    return 1_800_000_000.0


class Cache:
    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str], ServiceToken] = {}

    async def get(self, platform_id: str, scope_key: str, now: float) -> ServiceToken | None:
        return self.tokens.get((platform_id, scope_key))

    async def put(self, platform_id: str, scope_key: str, token: ServiceToken) -> None:
        self.tokens[(platform_id, scope_key)] = token


class TokenEndpoint:
    def __init__(self) -> None:
        self.requests = 0

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        max_body_bytes: int | None = None,
    ) -> HttpResponse:
        self.requests += 1
        answer = {"access_token": "fresh-token", "token_type": "Bearer", "expires_in": 3600, "scope": SCOPE}
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())


def test_tool_keys_that_do_not_open_stop_reload_and_additions(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)

    async def scenario() -> None:
        engine = create_engine(url)
        store = SqlKeyStore(engine)
        await ToolKeys(store, Sealer(OLD), clock, 3600).ensure()
        stale = ToolKeys(store, Sealer(NEW), clock, 3600)
        with pytest.raises(SecretKeyMismatch) as caught:
            await stale.reload()
        assert caught.value.code == "secret_key_mismatch"
        assert "does not open with this process's secret key" in caught.value.message
        with pytest.raises(SecretKeyMismatch):
            await stale.rotate()
        (upcoming,) = [k for k in await store.list(KeyPurpose.LTI) if k.state is KeyState.NEXT]
        await store.set_state(upcoming.kid, KeyState.RETIRED, clock(), retire_at=0.0)
        await store.drop_retired(clock())
        with pytest.raises(SecretKeyMismatch):
            await stale.ensure()  # would add a `next` key sealed with its own secret
        assert [k.state for k in await store.list(KeyPurpose.LTI)] == [KeyState.ACTIVE]
        await dispose(engine)

    asyncio.run(scenario())


def test_a_cached_token_that_does_not_open_is_requested_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)
    platform = Platform(
        id="p1",
        fields=PlatformFields(
            name="LMS",
            issuer="https://lms.example.edu",
            client_id="c1",
            auth_url="https://lms.example.edu/auth",
            token_url="https://lms.example.edu/token",
            jwks_url="https://lms.example.edu/jwks",
        ),
        active=True,
        created_at=0.0,
        updated_at=0.0,
    )

    async def scenario() -> None:
        engine = create_engine(url)
        keys = ToolKeys(SqlKeyStore(engine), Sealer(NEW), clock, 3600)
        await keys.ensure()
        cache, endpoint = Cache(), TokenEndpoint()
        sealed_elsewhere = Sealer(OLD).seal(b"old-node-token", SEAL_PURPOSE).hex()
        cache.tokens[("p1", SCOPE)] = ServiceToken(sealed_elsewhere, (SCOPE,), clock() + 3000)
        tokens = ServiceTokens(endpoint, cache, keys, Sealer(NEW), clock)

        assert await tokens.token(platform, [SCOPE], None) == "fresh-token"

        assert endpoint.requests == 1
        replaced = cache.tokens[("p1", SCOPE)]
        assert Sealer(NEW).unseal(bytes.fromhex(replaced.access_token), SEAL_PURPOSE) == b"fresh-token"
        await dispose(engine)

    asyncio.run(scenario())

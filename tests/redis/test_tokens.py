"""Service access tokens shared through Redis by two gateways (as two processes: each its own connections,
one database and one Redis), against a token endpoint on 127.0.0.1 that counts its requests.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltigate.bootstrap import build_gateway, migrate
from ltigate.config import Settings, load_settings
from ltigate.lti import ags
from ltigate.services.gateway import Gateway
from ltigate.services.records import Platform, PlatformFields
from tests.redis.conftest import SharedRedis
from tests.redis.sockets import redis_port, redis_url_at
from tests.support.servers import ServerThread, free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.anyio

SCOPES = (ags.SCOPE_SCORE, ags.SCOPE_LINEITEM)


@dataclass
class TokenEndpoint:
    """A client-credentials token endpoint: answers every request with a new token, after `delay` seconds."""

    delay: float = 0.0
    issued: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            form = await request.form()
            await anyio.sleep(self.delay)
            access_token = "tok-" + uuid.uuid4().hex
            with self._lock:
                self.issued.append(access_token)
            body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "scope": form["scope"]}
            return JSONResponse(body, headers={"Cache-Control": "no-store"})

        return Starlette(routes=[Route("/token", token, methods=["POST"])])


@pytest.fixture
def endpoint() -> Iterator[tuple[TokenEndpoint, str]]:
    lms = TokenEndpoint()
    with ServerThread(lms.app(), lifespan="off") as server:
        yield lms, server.url


async def gateway_settings(tmp_path: Path, redis_url: str, prefix: str = "ltigate-test:") -> Settings:
    env = {
        "LTIGATE_DATA_DIR": str(tmp_path / "data"),
        "LTIGATE_REDIS_URL": redis_url,
        "LTIGATE_REDIS_KEY_PREFIX": prefix,
        "LTIGATE_REDIS_TIMEOUT_SECONDS": "0.5",
    }
    settings = load_settings(env=env)
    await anyio.to_thread.run_sync(migrate, settings)  # migrate runs its own event loop
    return settings


@dataclass
class Pair:
    a: Gateway
    b: Gateway
    platform: Platform
    database: Path

    def stored_in_database(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute("SELECT scope_key, access_token FROM service_tokens").fetchall()


async def two_gateways(settings: Settings, lms_url: str) -> AsyncIterator[Pair]:
    a = await build_gateway(settings)
    b = await build_gateway(settings)
    try:
        fields = PlatformFields(
            name="LMS",
            issuer="https://lms.test",
            client_id="client-1",
            auth_url=f"{lms_url}/auth",
            token_url=f"{lms_url}/token",
            jwks_url=f"{lms_url}/jwks",
            deployment_ids=("dep-1",),
        )
        platform = await a.platforms.create(fields)
        yield Pair(a=a, b=b, platform=platform, database=settings.data_dir / "ltigate.db")
    finally:
        await a.close()
        await b.close()


@pytest.fixture
async def pair(tmp_path: Path, shared_redis: SharedRedis, endpoint: tuple[TokenEndpoint, str]) -> AsyncIterator[Pair]:
    async for gateways in two_gateways(
        await gateway_settings(tmp_path, shared_redis.url, shared_redis.prefix), endpoint[1]
    ):
        yield gateways


async def test_a_token_one_gateway_requested_serves_the_other(pair: Pair, endpoint: tuple[TokenEndpoint, str]) -> None:
    lms, _ = endpoint
    first = await pair.a.service_tokens.token(pair.platform, SCOPES, None)
    second = await pair.b.service_tokens.token(pair.platform, SCOPES, None)
    assert first == second == lms.issued[0]
    assert len(lms.issued) == 1
    assert (pair.a.service_tokens.requests, pair.b.service_tokens.requests) == (1, 0)


async def test_gateways_needing_a_token_at_once_request_it_once(
    pair: Pair, endpoint: tuple[TokenEndpoint, str]
) -> None:
    lms, _ = endpoint
    lms.delay = 0.3
    got: list[str] = []

    async def need(gateway: Gateway) -> None:
        got.append(await gateway.service_tokens.token(pair.platform, SCOPES, None))

    async with anyio.create_task_group() as group:
        for gateway in (pair.a, pair.b, pair.a, pair.b):
            group.start_soon(need, gateway)
    assert len(lms.issued) == 1
    assert got == lms.issued * 4


async def test_redis_holds_the_token_sealed_until_it_expires_and_the_database_none(
    pair: Pair, endpoint: tuple[TokenEndpoint, str], shared_redis: SharedRedis
) -> None:
    token = await pair.a.service_tokens.token(pair.platform, SCOPES, None)
    values = shared_redis.values()
    [key] = [k for k in values if b":tokens:" in k]
    assert all(token.encode() not in value for value in values.values())
    assert all(token.encode().hex().encode() not in value for value in values.values())
    assert 3590_000 < shared_redis.client.pttl(key) <= 3600_000  # expires_in=3600
    assert not [k for k in shared_redis.stored_keys() if b":tokens-turn:" in k]  # the turn ended with the put
    assert pair.stored_in_database() == []


@pytest.mark.parametrize("down", ["closed port", "cut proxy"])
async def test_without_redis_tokens_fall_back_to_the_database(
    tmp_path: Path, shared_redis: SharedRedis, endpoint: tuple[TokenEndpoint, str], down: str
) -> None:
    lms, lms_url = endpoint
    with TcpProxy(redis_port(shared_redis.url)) as proxy:
        url = redis_url_at(shared_redis.url, proxy.port if down == "cut proxy" else free_port())
        async for pair in two_gateways(await gateway_settings(tmp_path, url, shared_redis.prefix), lms_url):
            if down == "cut proxy":
                await pair.a.service_tokens.token(pair.platform, (ags.SCOPE_LINEITEM,), None)  # through Redis
                proxy.down()
            first = await pair.a.service_tokens.token(pair.platform, SCOPES, None)
            second = await pair.b.service_tokens.token(pair.platform, SCOPES, None)
            assert first == second == lms.issued[-1]
            [(scope_key, sealed)] = pair.stored_in_database()
            assert first not in sealed and scope_key == " ".join(sorted(SCOPES))
            metrics = await pair.b.metrics.render()
            assert 'ltigate_redis_fallbacks_total{cache="tokens"} ' in metrics
            assert 'ltigate_redis_fallbacks_total{cache="tokens"} 0\n' not in metrics
    assert len(lms.issued) == (2 if down == "cut proxy" else 1)

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import DeploymentPolicy, PlatformFields, ResourceFields
from tests.support.gateway import GatewayHarness, database_params, running_gateway
from tests.support.platform import Browser, ScriptedPlatform
from tests.support.servers import ServerThread

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the browser stops at the redirect
_numbers = itertools.count(1)


@dataclass
class Env:
    gateway: GatewayHarness
    api_key: str


@pytest.fixture(scope="module", params=database_params())
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("gateway")
    with running_gateway(tmp, request.param, LTIGATE_JWKS_REFETCH_COOLDOWN_SECONDS="1") as harness:

        async def seed(gateway: Gateway) -> None:
            await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))
            await gateway.resources.create(
                ResourceFields(slug="org/project/device", title="Device", app_url=APP_URL + "?mode=full")
            )

        harness.run(seed)
        yield Env(gateway=harness, api_key=harness.api_key())


@dataclass
class Registered:
    platform: ScriptedPlatform
    id: str
    url: str


@pytest.fixture
def register(env: Env) -> Iterator[object]:
    """register(policy=...) → a fresh platform with its own JWKS server and issuer, registered."""
    servers: list[ServerThread] = []

    def make(policy: DeploymentPolicy = DeploymentPolicy.PENDING, **fields: object) -> Registered:
        platform = ScriptedPlatform()
        server = ServerThread(platform.app(), lifespan="off").__enter__()
        servers.append(server)
        platform.issuer = f"{server.url}/lms-{next(_numbers)}"
        values = platform.platform_fields(server.url, deployment_policy=policy, **fields)

        async def create(gateway: Gateway) -> str:
            return (await gateway.platforms.create(PlatformFields(**values))).id  # type: ignore[arg-type]

        return Registered(platform=platform, id=env.gateway.run(create), url=server.url)

    yield make
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def browser(env: Env) -> Iterator[Browser]:
    b = Browser(env.gateway.url)
    yield b
    b.close()

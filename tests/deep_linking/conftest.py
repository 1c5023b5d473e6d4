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
REVIEW_URL = "http://127.0.0.1:9/review?from=lms"
_numbers = itertools.count(1)


@dataclass
class Env:
    gateway: GatewayHarness
    api_key: str


@pytest.fixture(scope="module", params=database_params())
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("gateway")
    with running_gateway(tmp, request.param) as harness:

        async def seed(gateway: Gateway) -> None:
            await gateway.resources.create(
                ResourceFields(
                    slug="algebra/quiz-1",
                    title="Algebra quiz",
                    app_url=APP_URL,
                    description="Three questions on linear equations",
                    score_maximum=3,
                    custom={"quiz": "q1"},
                    tag="quiz",
                    review_url=REVIEW_URL,
                )
            )
            await gateway.resources.create(
                ResourceFields(slug="reading", title="Reading list", app_url=APP_URL + "?mode=read")
            )
            await gateway.resources.create(
                ResourceFields(slug="catalogue", title="Course catalogue", app_url=APP_URL, picker=True)
            )

        harness.run(seed)
        yield Env(gateway=harness, api_key=harness.api_key())


@dataclass
class Registered:
    platform: ScriptedPlatform
    id: str
    url: str


@pytest.fixture
def registered(env: Env) -> Iterator[Registered]:
    """A fresh platform with its own JWKS server and issuer, registered with its deployment approved."""
    platform = ScriptedPlatform()
    with ServerThread(platform.app(), lifespan="off") as server:
        platform.issuer = f"{server.url}/lms-{next(_numbers)}"
        values = platform.platform_fields(server.url, deployment_policy=DeploymentPolicy.REJECT)

        async def create(gateway: Gateway) -> str:
            return (await gateway.platforms.create(PlatformFields(**values))).id  # type: ignore[arg-type]

        yield Registered(platform=platform, id=env.gateway.run(create), url=server.url)


@pytest.fixture
def browser(env: Env) -> Iterator[Browser]:
    b = Browser(env.gateway.url)
    yield b
    b.close()

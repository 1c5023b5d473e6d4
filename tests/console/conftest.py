"""Fixtures for the console tests: a served gateway with an administrator made through the use case, an
httpx client that signs in like a browser, and data seeded through the use cases.

Seeding runs in a thread of its own: Playwright's sync API keeps an event loop running in the test's
thread, where `asyncio.run` is refused.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import (
    DeliveryStatus,
    DeploymentPolicy,
    PlatformFields,
    Score,
    ScoreJob,
    ScoreTarget,
)
from tests.support.gateway import GatewayHarness, database_params, running_gateway
from tests.support.platform import Browser, ScriptedPlatform
from tests.support.servers import ServerThread

T = TypeVar("T")
ADMIN = "ada"
PASSWORD = "correct horse battery staple"
APP_URL = "http://127.0.0.1:9/app"  # never contacted: launches stop at the redirect
_numbers = itertools.count(1)


def seed(harness: GatewayHarness, work: Callable[[Gateway], Awaitable[T]]) -> T:
    """Run `work` against the gateway's database from a fresh thread (and event loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(harness.run, work).result()


@dataclass
class ConsoleEnv:
    gateway: GatewayHarness

    @property
    def url(self) -> str:
        return self.gateway.url

    def seed(self, work: Callable[[Gateway], Awaitable[T]]) -> T:
        return seed(self.gateway, work)


def create_admin(harness: GatewayHarness, name: str = ADMIN, password: str = PASSWORD) -> None:
    async def create(gateway: Gateway) -> None:
        await gateway.admins.create(name, password)

    seed(harness, create)


@pytest.fixture(scope="module", params=database_params())
def console_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    tmp: Path = tmp_path_factory.mktemp("console")
    with running_gateway(tmp, request.param) as harness:
        create_admin(harness)
        yield ConsoleEnv(gateway=harness)


_TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def form_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no form token"
    return match.group(1)


def sign_in(client: httpx.Client, name: str = ADMIN, password: str = PASSWORD) -> httpx.Response:
    """Sign in as a browser does: fetch the form (and its cookie), post it back."""
    page = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"csrf": form_token(page.text), "name": name, "password": password, "next": "/console"},
    )


@pytest.fixture
def admin_client(console_env: ConsoleEnv) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_env.url, timeout=10) as client:
        response = sign_in(client)
        assert response.status_code == 303, response.text
        yield client


# --- data made through the use cases and the LTI flow -----------------------------------------------


@dataclass
class LaunchingPlatform:
    """A platform written from the specs (tests/support/platform.py), with its key set served and registered."""

    platform: ScriptedPlatform
    id: str
    server: ServerThread

    def launch(self, gateway_url: str, resource: str, **claims: object) -> httpx.Response:
        browser = Browser(gateway_url)
        try:
            login = browser.login(self.platform, resource)
            target = f"{gateway_url}/lti/launch?resource={resource}"
            token = self.platform.token(self.platform.claims(nonce=login.nonce, target_link_uri=target, **claims))
            return browser.launch(token, login.state)
        finally:
            browser.close()


@pytest.fixture
def launching_platform(console_env: ConsoleEnv) -> Iterator[Callable[..., LaunchingPlatform]]:
    servers: list[ServerThread] = []

    def make(name: str = "Scripted LMS", **fields: object) -> LaunchingPlatform:
        platform = ScriptedPlatform(deployment_id="dep-1")
        server = ServerThread(platform.app(), lifespan="off").__enter__()
        servers.append(server)
        platform.issuer = f"{server.url}/lms-{next(_numbers)}"
        values = platform.platform_fields(server.url, name=name, deployment_policy=DeploymentPolicy.PENDING, **fields)

        async def create(gateway: Gateway) -> str:
            return (await gateway.platforms.create(PlatformFields(**values))).id  # type: ignore[arg-type]

        return LaunchingPlatform(platform=platform, id=console_env.seed(create), server=server)

    yield make
    for server in servers:
        server.__exit__(None, None, None)


def failed_job(launch_id: str, platform_id: str, error: str = "the LMS answered 400: line item is closed") -> ScoreJob:
    now = time.time()
    return ScoreJob(
        id=uuid.uuid4().hex,
        launch_id=launch_id,
        platform_id=platform_id,
        user_id="user-1",
        score=Score(
            activity_progress="Completed",
            grading_progress="FullyGraded",
            timestamp="2025-03-01T10:00:00.000Z",
            score_given=7.0,
            score_maximum=10.0,
        ),
        target=ScoreTarget(
            lineitem_url="https://lms.example.edu/lineitems/1",
            lineitems_url=None,
            resource_link_id="rl-1",
            resource_id="quiz",
            label="Quiz",
            score_maximum=10.0,
        ),
        status=DeliveryStatus.FAILED,
        attempts=3,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        last_error=error,
        last_status=400,
    )

"""Shared pieces of the seats and learner tests: a served gateway (SQLite, and PostgreSQL when configured),
platforms registered with a seat cap, and launches as any learner, instructor or anonymous user over
real HTTP.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ltigate.lti.ticket import LAUNCH_CLAIM
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.db.conftest import (  # noqa: F401  (the storage tests' fixtures)
    anyio_backend,
    database_url,
    empty_database_url,
    engine,
    postgres,
    postgres_database_url,
)
from tests.support.gateway import GatewayHarness, database_params, running_gateway
from tests.support.platform import LEARNER, Browser, ScriptedPlatform
from tests.support.platform import error_code as code_of
from tests.support.servers import ServerThread

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the browser stops at the redirect
INSTITUTION_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
LTI1P1 = "https://purl.imsglobal.org/spec/lti/claim/lti1p1"
_issuers = itertools.count(1)


@dataclass
class Env:
    gateway: GatewayHarness
    api_key: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30)


@dataclass
class Registered:
    platform: ScriptedPlatform
    id: str


def seed_resource(gateway: GatewayHarness) -> None:
    async def create(g: Gateway) -> None:
        await g.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))

    gateway.run(create)


@pytest.fixture(scope="module", params=database_params())
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("seats")
    with running_gateway(tmp, request.param) as harness:
        seed_resource(harness)
        yield Env(gateway=harness, api_key=harness.api_key())


@pytest.fixture
def register(env: Env) -> Iterator[object]:
    """register(seats=N, **fields) → a new platform with its own JWKS server and issuer, registered."""
    servers: list[ServerThread] = []

    def make(seats: int = 0, **fields: object) -> Registered:
        platform = ScriptedPlatform()
        server = ServerThread(platform.app(), lifespan="off").__enter__()
        servers.append(server)
        platform.issuer = f"{server.url}/lms-{next(_issuers)}"
        values = platform.platform_fields(server.url, seats=seats, **fields)

        async def create(gateway: Gateway) -> str:
            return (await gateway.platforms.create(PlatformFields(**values))).id  # type: ignore[arg-type]

        return Registered(platform=platform, id=env.gateway.run(create))

    yield make
    for server in servers:
        server.__exit__(None, None, None)


def launch_claims(
    reg: Registered,
    browser: Browser,
    nonce: str,
    sub: str | None,
    roles: Sequence[str],
    profile: Mapping[str, object | None],
) -> dict[str, object]:
    """Valid launch claims for `sub` (None: anonymous) with `roles`; `profile` sets (or with None removes)
    top-level claims such as name, email, picture, or the lti1p1 claim by its URI."""
    target = f"{browser.gateway_url}/lti/launch?resource=quiz"
    claims = reg.platform.claims(nonce=nonce, target_link_uri=target, roles=list(roles))
    for name, value in {"sub": sub, **profile}.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def launch(
    browser: Browser,
    reg: Registered,
    sub: str | None,
    *,
    roles: Sequence[str] = (LEARNER,),
    **profile: object | None,
) -> httpx.Response:
    """Log in and launch `quiz` as `sub`; the gateway's answer (303 to the app, or an error page)."""
    login = browser.login(reg.platform, "quiz")
    claims = launch_claims(reg, browser, login.nonce, sub, roles, profile)
    return browser.launch(reg.platform.token(claims), login.state)


def ticket_summary(response: httpx.Response) -> dict[str, object]:
    """The launch summary claim of the ticket in a successful launch's redirect (read without verifying)."""
    assert response.status_code == 303, f"{response.status_code} {code_of(response)}: {response.text[:300]}"
    ticket = parse_qs(urlsplit(response.headers["location"]).query)["ticket"][0]
    payload = ticket.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims[LAUNCH_CLAIM]  # type: ignore[no-any-return]


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, code_of(response)) == (status, code), response.text[:500]


@pytest.fixture
def browser(env: Env) -> Iterator[Browser]:
    b = Browser(env.gateway.url)
    yield b
    b.close()

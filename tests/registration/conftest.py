"""Dynamic Registration against a served gateway: a fake LMS (tests.support.dr_platform) on 127.0.0.1, a
browser that opens the registration URL, confirms, and reads the closing page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import Platform, RegistrationAttempt, ResourceFields
from tests.support.dr_platform import DrPlatform
from tests.support.gateway import GatewayHarness, database_params, running_gateway
from tests.support.platform import Browser, error_code
from tests.support.servers import ServerThread

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the browser stops at the redirect
_HIDDEN = re.compile(r'name="registration" value="([0-9a-f]+)"')


@pytest.fixture(scope="module", params=database_params())
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHarness]:
    """The default instance: registration only through one-time links, new registrations wait for approval."""
    tmp: Path = tmp_path_factory.mktemp("registration")
    with running_gateway(tmp, request.param, LTIGATE_OUTBOUND_TIMEOUT_SECONDS="2") as harness:

        async def seed(g: Gateway) -> None:
            await g.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))

        harness.run(seed)
        yield harness


@pytest.fixture
def lms() -> Iterator[Callable[..., DrPlatform]]:
    """lms(style=..., ...) → a fake LMS served on its own port."""
    servers: list[ServerThread] = []

    def make(**options: object) -> DrPlatform:
        platform = DrPlatform(**options)  # type: ignore[arg-type]
        server = ServerThread(platform.app(), lifespan="off").__enter__()
        servers.append(server)
        platform.url = server.url
        platform.platform.issuer = platform.the_issuer
        return platform

    yield make
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def browser(gateway: GatewayHarness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        yield client


def new_link(gateway: GatewayHarness, note: str = "test", ttl: float = 3600.0) -> str:
    async def create(g: Gateway) -> str:
        return (await g.registration_links.create(note, ttl)).secret

    return gateway.run(create)


def start_url(lms: DrPlatform, link: str | None = None, *, token: bool = True) -> str:
    params = {"openid_configuration": lms.configuration_url}
    if token:
        params["registration_token"] = lms.token
    return "/lti/register" + (f"/{link}" if link else "") + "?" + urlencode(params)


@dataclass
class Confirmation:
    page: httpx.Response
    form_token: str


def open_registration(browser: httpx.Client, lms: DrPlatform, link: str | None = None) -> Confirmation:
    page = browser.get(start_url(lms, link))
    assert page.status_code == 200, f"{page.status_code} {error_code(page)}: {page.text[:500]}"
    match = _HIDDEN.search(page.text)
    assert match, page.text
    return Confirmation(page=page, form_token=match.group(1))


def confirm(browser: httpx.Client, confirmation: Confirmation) -> httpx.Response:
    return browser.post("/lti/register", data={"registration": confirmation.form_token})


def register(browser: httpx.Client, lms: DrPlatform, link: str | None = None) -> httpx.Response:
    done = confirm(browser, open_registration(browser, lms, link))
    assert done.status_code == 200, f"{done.status_code} {error_code(done)}: {done.text[:800]}"
    return done


def platforms_of(gateway: GatewayHarness, issuer: str) -> list[Platform]:
    async def find(g: Gateway) -> list[Platform]:
        return [p for p in await g.platforms.list() if p.fields.issuer == issuer]

    return gateway.run(find)


def attempts(gateway: GatewayHarness) -> list[RegistrationAttempt]:
    async def read(g: Gateway) -> list[RegistrationAttempt]:
        return await g.dynamic_registration.attempts(50)

    return gateway.run(read)


def shown(page: httpx.Response, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', page.text)
    assert match, f"no {testid} in {page.text[:500]}"
    return html.unescape(match.group(1))


def launch_browser(gateway: GatewayHarness) -> Browser:
    return Browser(gateway.url)

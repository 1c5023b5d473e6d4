"""Instance settings: open registration with automatic approval (a platform launches at once), a duplicate
(issuer, client_id), and Dynamic Registration switched off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ltigate.services.gateway import Gateway
from ltigate.services.records import ResourceFields
from tests.registration.conftest import APP_URL, confirm, open_registration, platforms_of, register, start_url
from tests.support.dr_platform import DrPlatform
from tests.support.gateway import GatewayHarness, running_gateway
from tests.support.platform import Browser, error_code

Lms = Callable[..., DrPlatform]


@pytest.fixture(scope="module")
def open_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHarness]:
    tmp: Path = tmp_path_factory.mktemp("open")
    with running_gateway(
        tmp, LTIGATE_DYNAMIC_REGISTRATION="open", LTIGATE_REGISTRATION_APPROVAL="automatic", LTIGATE_TOOL_NAME="Acme"
    ) as harness:

        async def seed(g: Gateway) -> None:
            await g.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))

        harness.run(seed)
        yield harness


@pytest.fixture
def open_browser(open_gateway: GatewayHarness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=open_gateway.url, timeout=15) as client:
        yield client


def test_open_registration_with_automatic_approval_launches_at_once(
    open_gateway: GatewayHarness, lms: Lms, open_browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")

    confirmation = open_registration(open_browser, moodle)
    assert "Launches work as soon as the LMS enables the tool" in confirmation.page.text
    done = confirm(open_browser, confirmation)
    assert done.status_code == 200

    [received] = moodle.registrations()
    assert received.body["client_name"] == "Acme"
    [platform] = platforms_of(open_gateway, moodle.url)
    assert not platform.awaiting_approval
    scripted = moodle.platform
    scripted.client_id = platform.fields.client_id
    scripted.deployment_id = platform.deployments[0].deployment_id
    launcher = Browser(open_gateway.url)
    try:
        login = launcher.login(scripted, "quiz")
        claims = scripted.claims(nonce=login.nonce, target_link_uri=f"{open_gateway.url}/lti/launch?resource=quiz")
        launched = launcher.launch(scripted.token(claims), login.state)
        assert launched.status_code == 303, error_code(launched)
    finally:
        launcher.close()


def test_a_second_registration_with_the_same_client_id_is_a_clear_duplicate(
    open_gateway: GatewayHarness, lms: Lms, open_browser: httpx.Client
) -> None:
    canvas = lms(style="canvas")
    register(open_browser, canvas)
    [first] = platforms_of(open_gateway, canvas.url)
    canvas.fixed_client_id = first.fields.client_id  # the LMS hands out the same client_id again

    page = confirm(open_browser, open_registration(open_browser, canvas))

    assert (page.status_code, error_code(page)) == (409, "registration_duplicate")
    assert first.fields.client_id in page.text and first.id in page.text
    assert platforms_of(open_gateway, canvas.url) == [first]


def test_switched_off_dynamic_registration_is_refused(tmp_path: Path, lms: Lms) -> None:
    moodle = lms(style="moodle")
    with (
        running_gateway(tmp_path, LTIGATE_DYNAMIC_REGISTRATION="off") as harness,
        httpx.Client(base_url=harness.url) as client,
    ):
        page = client.get(start_url(moodle))
        canvas_json = client.get("/lti/config/canvas.json")

    assert (page.status_code, error_code(page)) == (403, "registration_disabled")
    assert moodle.requests == []
    assert canvas_json.status_code == 200  # manual registration helpers stay available

"""What goes wrong between the confirmation and the registration: every registration endpoint failure has its
own code, stores nothing, and gives the link back; and the approval flow of a self-registered platform."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from ltigate.services.records import AttemptOutcome
from tests.registration.conftest import (
    APP_URL,
    attempts,
    confirm,
    new_link,
    open_registration,
    platforms_of,
    register,
)
from tests.support.dr_platform import DrPlatform
from tests.support.gateway import GatewayHarness
from tests.support.platform import Browser, error_code
from tests.support.servers import free_port

Lms = Callable[..., DrPlatform]


@pytest.mark.parametrize(
    ("mode", "status", "code", "quoted"),
    [
        ("400", 502, "registration_refused", "invalid_redirect_uri: redirect_uris must be https"),
        ("500", 502, "registration_endpoint_error", "HTTP 500"),
        ("garbage", 502, "registration_response_invalid", "not JSON"),
        ("no_client_id", 502, "registration_response_invalid", "client_id is missing"),
        ("slow", 504, "registration_endpoint_timeout", "check its tool list"),
    ],
)
def test_registration_endpoint_failures_have_their_code_and_store_nothing(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client, mode: str, status: int, code: str, quoted: str
) -> None:
    platform = lms(style="moodle", registration_mode=mode)
    link = new_link(gateway)
    started = time.monotonic()

    page = confirm(browser, open_registration(browser, platform, link))

    assert page.status_code == status, page.text[:500]
    assert error_code(page) == code
    assert quoted in page.text
    assert "nothing was registered" in page.text
    assert platforms_of(gateway, platform.url) == []
    [latest, *_] = attempts(gateway)
    assert (latest.outcome, latest.stage, latest.error_code) == (AttemptOutcome.FAILED, "register", code)
    if mode == "slow":
        assert time.monotonic() - started < 4, "the outbound timeout (2 s here) must cut the wait"
    # The failed registration gave the link back: once the LMS works, the same link registers.
    platform.registration_mode = "ok"
    register(browser, platform, link)
    assert len(platforms_of(gateway, platform.url)) == 1


def test_a_registration_endpoint_that_is_down_is_named_and_nothing_is_stored(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    platform = lms(style="moodle")
    platform.registration_endpoint = f"http://127.0.0.1:{free_port()}/register"  # nothing listens there

    page = confirm(browser, open_registration(browser, platform, new_link(gateway)))

    assert page.status_code == 502
    assert error_code(page) == "registration_endpoint_unreachable"
    assert "could not connect" in page.text
    assert platforms_of(gateway, platform.url) == []


def test_a_platform_whose_configuration_is_down_is_named(gateway: GatewayHarness, browser: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/openid-configuration"

    page = browser.get(f"/lti/register/{new_link(gateway)}", params={"openid_configuration": url})

    assert page.status_code == 502
    assert error_code(page) == "registration_configuration_unavailable"


def test_a_self_registered_platform_refuses_launches_until_approved(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")
    register(browser, moodle, new_link(gateway))
    [platform] = platforms_of(gateway, moodle.url)
    scripted = moodle.platform
    scripted.client_id = platform.fields.client_id
    scripted.deployment_id = platform.deployments[0].deployment_id
    launcher = Browser(gateway.url)
    try:
        refused = launcher.http.post(
            "/lti/login",
            data={
                "iss": moodle.url,
                "login_hint": "user-1",
                "target_link_uri": f"{gateway.url}/lti/launch?resource=quiz",
                "client_id": scripted.client_id,
            },
        )
        assert refused.status_code == 403
        assert error_code(refused) == "platform_pending_approval"
        assert "approve-registration" in refused.text

        key = gateway.api_key()
        with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}) as api:
            listed = api.get(f"/api/v1/platforms/{platform.id}").json()
            assert (listed["awaiting_approval"], listed["registered_via"]) == (True, "dynamic")
            approved = api.post(f"/api/v1/platforms/{platform.id}/approve")
            assert approved.status_code == 200, approved.text
            assert approved.json()["awaiting_approval"] is False
            failed = api.get("/api/v1/launches", params={"error_code": "platform_pending_approval"}).json()
            assert any(entry["issuer"] == moodle.url for entry in failed)

        login = launcher.login(scripted, "quiz")
        claims = scripted.claims(nonce=login.nonce, target_link_uri=f"{gateway.url}/lti/launch?resource=quiz")
        launched = launcher.launch(scripted.token(claims), login.state)
        assert launched.status_code == 303, error_code(launched)
        assert launched.headers["location"].startswith(APP_URL + "?ticket=")
    finally:
        launcher.close()

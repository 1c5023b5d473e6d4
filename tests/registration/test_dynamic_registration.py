"""Dynamic Registration end to end over HTTP: the confirmation page, the registration request the LMS receives
(every field), the stored platform and deployment, the closing page, and the attempt log."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from ltigate.services.records import AttemptOutcome, DeploymentPolicy, DeploymentStatus, RegisteredVia
from tests.registration.conftest import (
    attempts,
    confirm,
    new_link,
    open_registration,
    platforms_of,
    register,
    shown,
    start_url,
)
from tests.support.dr_platform import AGS, NRPS_SCOPE, TOOL_CONFIGURATION, DrPlatform
from tests.support.gateway import GatewayHarness
from tests.support.platform import error_code

Lms = Callable[..., DrPlatform]
CLOSE_CALL = "(window.opener || window.parent).postMessage({subject: 'org.imsglobal.lti.close'}, '*')"
WANTED_SCOPES = [AGS + "lineitem", AGS + "lineitem.readonly", AGS + "result.readonly", AGS + "score", NRPS_SCOPE]


def test_moodle_style_registration_sends_every_field_stores_the_platform_and_closes(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle")
    link = new_link(gateway, "Moodle at Example U")

    confirmation = open_registration(browser, moodle, link)
    assert shown(confirmation.page, "issuer") == moodle.url
    assert "Moodle" in confirmation.page.text and "Moodle at Example U" in confirmation.page.text
    assert "administrator approves the new platform" in shown(confirmation.page, "approval")
    assert moodle.registrations() == []  # the confirmation page registers nothing

    done = confirm(browser, confirmation)

    assert done.status_code == 200, f"{error_code(done)} {done.text[:500]}"
    [config_get] = [r for r in moodle.requests if r.method == "GET"][-1:]
    assert config_get.headers["authorization"] == f"Bearer {moodle.token}"
    assert config_get.headers["accept"] == "application/json"
    [received] = moodle.registrations()
    assert received.headers["authorization"] == f"Bearer {moodle.token}"
    assert received.headers["content-type"] == "application/json"
    base = gateway.url
    assert received.body == {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [f"{base}/lti/launch"],
        "client_name": "ltigate",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "logo_uri": f"{base}/lti/assets/logo.svg",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(WANTED_SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(base).netloc,
            "description": "ltigate: LTI 1.3 resources, grades and rosters through ltigate",
            "target_link_uri": f"{base}/lti/launch",
            # picture is not among Moodle's claims_supported, so it is not asked for
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": f"{base}/lti/launch",
                    "label": "ltigate",
                    "icon_uri": f"{base}/lti/assets/logo.svg",
                },
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": f"{base}/lti/launch",
                    "label": "ltigate",
                    "icon_uri": f"{base}/lti/assets/logo.svg",
                },
            ],
        },
    }

    [client_id] = moodle.client_ids
    [platform] = platforms_of(gateway, moodle.url)
    fields = platform.fields
    assert fields.name == f"Moodle ({urlsplit(moodle.url).netloc})"
    assert (fields.client_id, fields.auth_url, fields.token_url, fields.jwks_url) == (
        client_id,
        f"{moodle.url}/auth",
        f"{moodle.url}/token",
        f"{moodle.url}/jwks",
    )
    deployment_id = shown(done, "deployment-id")
    assert deployment_id.isdigit()
    assert [(d.deployment_id, d.status) for d in platform.deployments] == [(deployment_id, DeploymentStatus.APPROVED)]
    assert platform.awaiting_approval and platform.active
    assert platform.registered_via is RegisteredVia.DYNAMIC
    assert platform.product_family_code == "moodle"
    assert fields.deployment_policy is DeploymentPolicy.APPROVE
    assert fields.token_audience is None and fields.grade_passback and not fields.send_deployment_id

    # The closing page: the ids, and the close message from a script file under a CSP without inline script.
    assert shown(done, "client-id") == client_id
    assert shown(done, "platform-id") == platform.id
    assert 'id="lti-close-now"' in done.text
    assert re.search(r'<script src="/lti/assets/registration\.js\?v=[0-9a-f]{12}"></script>', done.text)
    assert "<script>" not in done.text
    policy = done.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert done.headers["referrer-policy"] == "no-referrer"
    script = browser.get("/lti/assets/registration.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert CLOSE_CALL in script.text
    logo = browser.get("/lti/assets/logo.svg")
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")

    [latest, *_] = attempts(gateway)
    assert (latest.outcome, latest.stage, latest.error_code) == (AttemptOutcome.SUCCEEDED, "register", None)
    assert (latest.issuer, latest.client_id, latest.platform_id) == (moodle.url, client_id, platform.id)
    assert latest.configuration_url == f"{moodle.url}/openid-configuration"  # no query: the token stays out


def test_canvas_style_registration_asks_for_placements_and_privacy_and_needs_no_deployment_id(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    canvas = lms(style="canvas")

    register(browser, canvas, new_link(gateway))

    [received] = canvas.registrations()
    configuration = received.body[TOOL_CONFIGURATION]
    assert configuration["https://canvas.instructure.com/lti/privacy_level"] == "public"
    resource_link, deep_linking = configuration["messages"]
    assert resource_link["type"] == "LtiResourceLinkRequest" and "placements" not in resource_link
    assert deep_linking["type"] == "LtiDeepLinkingRequest"
    assert deep_linking["placements"] == ["link_selection", "assignment_selection", "editor_button"]
    assert received.body["scope"] == " ".join(WANTED_SCOPES)
    [platform] = platforms_of(gateway, canvas.url)
    assert platform.fields.name == "Canvas (Test University)"
    assert platform.deployments == ()
    assert platform.fields.deployment_policy is DeploymentPolicy.APPROVE
    # Canvas announces a bare host as authorization_server: the token URL stays the audience.
    assert platform.fields.token_audience is None
    assert platform.product_family_code == "canvas"


def test_canvas_style_configuration_without_the_registration_token_is_refused(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    canvas = lms(style="canvas")

    page = browser.get(start_url(canvas, new_link(gateway), token=False))

    assert page.status_code == 502
    assert error_code(page) == "registration_configuration_unavailable"
    assert "HTTP 401" in page.text
    assert platforms_of(gateway, canvas.url) == []


def test_granted_scopes_are_read_back_and_grade_passback_follows_the_score_scope(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    moodle = lms(style="moodle", granted_scope=NRPS_SCOPE)

    done = register(browser, moodle, new_link(gateway))

    [platform] = platforms_of(gateway, moodle.url)
    assert platform.fields.grade_passback is False
    assert "did not grant the score scope" in done.text


def test_a_wrong_issuer_host_is_refused_before_anything_is_sent_or_stored(
    gateway: GatewayHarness, lms: Lms, browser: httpx.Client
) -> None:
    impostor = lms(style="moodle", issuer="https://moodle.example.edu")
    link = new_link(gateway)

    page = browser.get(start_url(impostor, link))

    assert page.status_code == 400
    assert error_code(page) == "registration_issuer_mismatch"
    assert "moodle.example.edu" in page.text and "127.0.0.1" in page.text
    assert impostor.registrations() == []
    assert platforms_of(gateway, "https://moodle.example.edu") == []
    [latest, *_] = attempts(gateway)
    assert (latest.outcome, latest.stage, latest.error_code) == (
        AttemptOutcome.FAILED,
        "prepare",
        "registration_issuer_mismatch",
    )
    # The link was only checked, not used: the administrator's LMS can still register with it.
    honest = lms(style="moodle")
    register(browser, honest, link)

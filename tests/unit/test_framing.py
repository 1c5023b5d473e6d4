"""frame-ancestors of launch pages (`ltigate.web.framing`) and the LTIGATE_FRAME_ANCESTORS setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltigate.config import SettingsError, load_settings
from ltigate.services.records import Platform, PlatformFields
from ltigate.web.framing import NOBODY, frame_ancestors, origin_of, page_policy


def platform(issuer: str, auth_url: str) -> Platform:
    fields = PlatformFields(
        name="LMS", issuer=issuer, client_id="c", auth_url=auth_url, token_url=auth_url, jwks_url=auth_url
    )
    return Platform(id="p1", fields=fields, active=True, created_at=0.0, updated_at=0.0)


def test_the_issuer_and_the_authorization_endpoint_may_frame() -> None:
    moodle = platform("https://moodle.example.edu", "https://moodle.example.edu/mod/lti/auth.php")
    assert frame_ancestors(moodle) == "'self' https://moodle.example.edu"
    brightspace = platform("https://school.brightspace.com", "https://auth.brightspace.com/oauth2/auth")
    assert frame_ancestors(brightspace) == "'self' https://school.brightspace.com https://auth.brightspace.com"


def test_hosted_lms_pages_live_under_their_domain() -> None:
    canvas = platform("https://canvas.instructure.com", "https://sso.canvaslms.com/api/lti/authorize_redirect")
    assert frame_ancestors(canvas) == (
        "'self' https://canvas.instructure.com https://sso.canvaslms.com https://*.instructure.com"
    )
    blackboard = platform("https://blackboard.com", "https://developer.blackboard.com/api/v1/gateway/oidcauth")
    assert "https://*.blackboard.com" in frame_ancestors(blackboard)


def test_the_instance_adds_custom_domains() -> None:
    canvas = platform("https://canvas.instructure.com", "https://sso.canvaslms.com/x")
    value = frame_ancestors(canvas, ("https://canvas.university.edu",))
    assert value.endswith("https://*.instructure.com https://canvas.university.edu")


def test_an_unknown_platform_frames_nothing() -> None:
    assert frame_ancestors(None, ("https://canvas.university.edu",)) == NOBODY == "'none'"


@pytest.mark.parametrize(
    "url",
    [
        "https://lms.example.edu; script-src *",
        "https://lms.example.edu 'unsafe-inline'",
        "https://user:pw@lms.example.edu",
        "javascript:alert(1)",
        "lms.example.edu",
        "",
    ],
)
def test_urls_that_are_no_plain_origin_add_nothing(url: str) -> None:
    assert origin_of(url) is None
    assert frame_ancestors(platform(url, url)) == "'self'"


def test_page_policies_are_strict() -> None:
    assert page_policy("'none'") == (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'none'; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    with_script = page_policy("'self' https://lms.example.edu", scripts=True, form_action=None)
    assert "script-src 'self';" in with_script and "form-action" not in with_script
    assert "unsafe-inline" not in with_script.split("script-src")[1].split(";")[0]


def test_the_setting_takes_origins_and_wildcard_hosts(tmp_path: Path) -> None:
    env = {"LTIGATE_DATA_DIR": str(tmp_path)}
    assert load_settings(env=env).frame_ancestors == ()
    value = "https://canvas.University.edu, https://*.example.edu http://localhost:8001 https://canvas.university.edu"
    settings = load_settings(env={**env, "LTIGATE_FRAME_ANCESTORS": value})
    assert settings.frame_ancestors == (
        "https://canvas.university.edu",
        "https://*.example.edu",
        "http://localhost:8001",
    )


@pytest.mark.parametrize("value", ["*", "https://*", "https://a.edu;script-src", "'unsafe-inline'", "a.edu", "https:"])
def test_the_setting_refuses_anything_else(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="LTIGATE_FRAME_ANCESTORS"):
        load_settings(env={"LTIGATE_DATA_DIR": str(tmp_path), "LTIGATE_FRAME_ANCESTORS": value})

"""OIDC third-party-initiated login of `ltigate.lti.login` (Security Framework §5.1.1; lti-reference §1.1–1.2)."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from ltigate.lti.errors import LtiError
from ltigate.lti.login import MAX_PARAMETER_LENGTH, LoginInitiation, build_auth_request_url, parse_login_initiation
from ltigate.lti.platform import build_login_initiation

ORIGIN = "https://tool.example.com"
TARGET = "https://tool.example.com/lti/launch?resource=org%2Fproject"
AUTH_URL = "https://lms.example.edu/mod/lti/auth.php"
REDIRECT_URI = "https://tool.example.com/lti/launch"


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def login_params(**overrides: str | None) -> dict[str, str]:
    """The three required parameters; an override of None removes one."""
    params = {"iss": "https://lms.example.edu", "login_hint": "hint-1", "target_link_uri": TARGET}
    for name, value in overrides.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def test_minimal_login_initiation():
    initiation = parse_login_initiation(login_params(), ORIGIN)

    assert initiation == LoginInitiation(
        issuer="https://lms.example.edu",
        login_hint="hint-1",
        target_link_uri=TARGET,
        lti_message_hint=None,
        client_id=None,
        deployment_id=None,
        storage_target=None,
    )


def test_full_login_initiation_ignores_unknown_parameters():
    params = login_params(
        lti_message_hint="msg-7",
        client_id="tool-client-1",
        lti_deployment_id="dep-1",
        lti_storage_target="_parent",
        canvas_region="us-east-1",
        canvas_environment="prod",
    )

    initiation = parse_login_initiation(params, ORIGIN)

    assert (initiation.lti_message_hint, initiation.client_id, initiation.deployment_id, initiation.storage_target) == (
        "msg-7",
        "tool-client-1",
        "dep-1",
        "_parent",
    )


def test_platform_built_initiation_parses():
    params = build_login_initiation(
        issuer="https://lms.example.edu",
        login_hint="hint-1",
        target_link_uri=TARGET,
        client_id="tool-client-1",
        deployment_id="dep-1",
        lti_message_hint="msg-7",
    )

    initiation = parse_login_initiation(params, ORIGIN)

    assert (initiation.client_id, initiation.deployment_id, initiation.lti_message_hint) == (
        "tool-client-1",
        "dep-1",
        "msg-7",
    )


def test_platform_built_initiation_without_message_hint():
    params = build_login_initiation(
        issuer="i", login_hint="h", target_link_uri=TARGET, client_id="c", deployment_id="d"
    )

    assert "lti_message_hint" not in params
    assert set(params) == {"iss", "login_hint", "target_link_uri", "client_id", "lti_deployment_id"}


@pytest.mark.parametrize("name", ["iss", "login_hint", "target_link_uri"])
@pytest.mark.parametrize("absent", [None, ""], ids=["absent", "empty"])
def test_required_parameter_missing(name, absent):
    error = raised(parse_login_initiation, login_params(**{name: absent}), ORIGIN)

    assert error.code == "login_parameter_missing"
    assert f"the login request has no '{name}' parameter" in error.message


def test_overlong_parameter():
    error = raised(parse_login_initiation, login_params(login_hint="h" * (MAX_PARAMETER_LENGTH + 1)), ORIGIN)

    assert error.code == "login_parameter_missing"
    assert f"'login_hint' has {MAX_PARAMETER_LENGTH + 1} characters; at most {MAX_PARAMETER_LENGTH}" in error.message


def test_empty_optional_parameter_is_none():
    assert parse_login_initiation(login_params(lti_message_hint=""), ORIGIN).lti_message_hint is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/lti/launch",
        "http://tool.example.com/lti/launch",
        "https://tool.example.com:8443/lti/launch",
        "https://tool.example.com.evil.test/lti/launch",
        "https://tool.example.com@evil.test/lti/launch",
        "//evil.test/lti/launch",
        "/lti/launch",
        "javascript:alert(1)",
    ],
)
def test_foreign_target_link_uri(target):
    error = raised(parse_login_initiation, login_params(target_link_uri=target), ORIGIN)

    assert error.code == "target_link_uri_foreign"
    assert f"target_link_uri '{target}' does not point at this gateway ({ORIGIN})" in error.message


def test_target_host_is_compared_case_insensitively():
    initiation = parse_login_initiation(login_params(target_link_uri="https://TOOL.example.com/x"), ORIGIN)

    assert initiation.target_link_uri == "https://TOOL.example.com/x"


def auth_query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_auth_request_has_exactly_the_oidc_parameters():
    initiation = parse_login_initiation(login_params(), ORIGIN)

    url = build_auth_request_url(
        AUTH_URL, client_id="tool-client-1", redirect_uri=REDIRECT_URI, initiation=initiation, state="s-1", nonce="n-1"
    )

    assert url.startswith(AUTH_URL + "?")
    query = auth_query(url)
    assert dict(query) == {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": "tool-client-1",
        "redirect_uri": REDIRECT_URI,
        "login_hint": "hint-1",
        "state": "s-1",
        "nonce": "n-1",
    }
    assert len(query) == 9


def test_auth_request_echoes_the_message_hint_unchanged():
    hint = "eyJhbGciOi+/= &x=y"
    initiation = parse_login_initiation(login_params(lti_message_hint=hint), ORIGIN)

    url = build_auth_request_url(
        AUTH_URL, client_id="c", redirect_uri=REDIRECT_URI, initiation=initiation, state="s", nonce="n"
    )

    assert dict(auth_query(url))["lti_message_hint"] == hint
    assert len(auth_query(url)) == 10


def test_auth_url_with_a_query_keeps_it():
    initiation = parse_login_initiation(login_params(), ORIGIN)

    url = build_auth_request_url(
        "https://lms.example.edu/auth?tenant=7&x=a%2Fb",
        client_id="c",
        redirect_uri=REDIRECT_URI,
        initiation=initiation,
        state="s",
        nonce="n",
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "lms.example.edu", "/auth")
    assert parts.query.startswith("tenant=7&x=a%2Fb&")
    query = parse_qs(parts.query)
    assert query["tenant"] == ["7"]
    assert query["x"] == ["a/b"]
    assert query["scope"] == ["openid"]


def test_auth_url_fragment_is_dropped():
    initiation = parse_login_initiation(login_params(), ORIGIN)

    url = build_auth_request_url(
        AUTH_URL + "#frag", client_id="c", redirect_uri=REDIRECT_URI, initiation=initiation, state="s", nonce="n"
    )

    assert "#" not in url

"""The platform side of the launch in `ltigate.lti.platform` (lti-reference §1.4, §2.3)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.jws import sign
from ltigate.lti.login import build_auth_request_url, parse_login_initiation
from ltigate.lti.platform import AuthRequest, LaunchUser, build_resource_link_claims, parse_auth_request

CLIENT_ID = "tool-client-1"
REDIRECT_URIS = ("https://tool.example.com/lti/launch", "https://tool.example.com/lti/launch2?x=1")


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def auth_params(**overrides: str | None) -> dict[str, str]:
    """A valid authentication request; an override of None removes a parameter."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URIS[0],
        "login_hint": "user-7",
        "state": "s-1",
        "nonce": "n-1",
    }
    for name, value in overrides.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def test_valid_auth_request():
    request = parse_auth_request(auth_params(lti_message_hint="m-1"), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert request == AuthRequest(
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URIS[0],
        login_hint="user-7",
        lti_message_hint="m-1",
        state="s-1",
        nonce="n-1",
    )


def test_scope_may_hold_more_than_openid():
    request = parse_auth_request(
        auth_params(scope="profile openid email"), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS
    )

    assert request.lti_message_hint is None


def test_auth_request_built_by_the_tool_is_accepted():
    initiation = parse_login_initiation(
        {
            "iss": "https://lms.example.edu",
            "login_hint": "user-7",
            "target_link_uri": REDIRECT_URIS[0],
            "lti_message_hint": "m-1",
        },
        "https://tool.example.com",
    )
    url = build_auth_request_url(
        "https://lms.example.edu/auth?tenant=1",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URIS[1],
        initiation=initiation,
        state="s-1",
        nonce="n-1",
    )
    params = dict(parse_qsl(urlsplit(url).query))

    request = parse_auth_request(params, client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert (request.redirect_uri, request.login_hint, request.lti_message_hint) == (REDIRECT_URIS[1], "user-7", "m-1")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("response_type", "code", "id_token"),
        ("response_type", None, "id_token"),
        ("response_type", "ID_TOKEN", "id_token"),
        ("response_mode", "query", "form_post"),
        ("response_mode", None, "form_post"),
        ("prompt", "login", "none"),
        ("prompt", None, "none"),
    ],
)
def test_wrong_fixed_parameter(name, value, expected):
    error = raised(parse_auth_request, auth_params(**{name: value}), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert error.code == "auth_request_invalid"
    assert f"{name} is '{value}'; expected '{expected}'" in error.message


@pytest.mark.parametrize("scope", [None, "", "profile", "openidx", "OPENID"])
def test_scope_without_openid(scope):
    error = raised(parse_auth_request, auth_params(scope=scope), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert error.code == "auth_request_invalid"
    assert "scope must contain 'openid'" in error.message


@pytest.mark.parametrize("client_id", [None, "", "tool-client-2", "TOOL-CLIENT-1", "tool-client-1 "])
def test_wrong_client_id(client_id):
    error = raised(
        parse_auth_request, auth_params(client_id=client_id), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS
    )

    assert error.code == "auth_request_invalid"
    assert f"client_id '{client_id}' is not this tool's client_id" in error.message


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://tool.example.com/lti/launch/",
        "https://tool.example.com/lti/launch?x=1",
        "https://TOOL.example.com/lti/launch",
        "http://tool.example.com/lti/launch",
        "https://tool.example.com/lti/launch2",
        "https://evil.test/lti/launch",
    ],
    ids=["trailing slash", "added query", "host case", "scheme", "query dropped", "foreign"],
)
def test_redirect_uri_must_match_exactly(redirect_uri):
    error = raised(
        parse_auth_request, auth_params(redirect_uri=redirect_uri), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS
    )

    assert error.code == "redirect_uri_not_registered"
    assert f"redirect_uri '{redirect_uri}' is not one of the registered redirect URIs" in error.message


def test_redirect_uri_missing():
    error = raised(parse_auth_request, auth_params(redirect_uri=None), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert error.code == "redirect_uri_not_registered"


def test_redirect_uri_with_no_registered_uris():
    error = raised(parse_auth_request, auth_params(), client_id=CLIENT_ID, redirect_uris=())

    assert error.code == "redirect_uri_not_registered"


@pytest.mark.parametrize("name", ["login_hint", "state", "nonce"])
@pytest.mark.parametrize("absent", [None, ""], ids=["absent", "empty"])
def test_required_value_missing(name, absent):
    error = raised(parse_auth_request, auth_params(**{name: absent}), client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert error.code == "auth_request_invalid"
    assert f"the authentication request lacks {name}" in error.message


def test_all_missing_values_are_named():
    params = auth_params(login_hint=None, state=None, nonce=None)

    error = raised(parse_auth_request, params, client_id=CLIENT_ID, redirect_uris=REDIRECT_URIS)

    assert "lacks login_hint, state, nonce" in error.message


# --- build_resource_link_claims --------------------------------------------------------------

USER = LaunchUser(
    sub="u-1",
    name="Ada Lovelace",
    given_name="Ada",
    family_name="Lovelace",
    email="ada@example.edu",
    roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",),
)


def build(**overrides: object) -> dict[str, object]:
    options: dict[str, object] = {
        "issuer": "https://lms.example.edu",
        "client_id": CLIENT_ID,
        "deployment_id": "dep-1",
        "nonce": "n-1",
        "now": 1_700_000_000,
        "ttl": 300,
        "user": USER,
        "target_link_uri": "https://tool.example.com/lti/launch?resource=x",
        "resource_link_id": "rl-1",
        "resource_link_title": "Quiz",
        "context_id": "ctx-1",
        "context_label": "CS101",
        "context_title": "Computing",
    }
    options.update(overrides)
    return build_resource_link_claims(**options)  # type: ignore[arg-type]


def test_resource_link_claims():
    claims = build(custom={"a": "1"})

    assert claims["iss"] == "https://lms.example.edu"
    assert claims["aud"] == CLIENT_ID
    assert (claims["sub"], claims["iat"], claims["exp"], claims["nonce"]) == (
        "u-1",
        1_700_000_000,
        1_700_000_300,
        "n-1",
    )
    assert (claims["name"], claims["given_name"], claims["family_name"], claims["email"]) == (
        "Ada Lovelace",
        "Ada",
        "Lovelace",
        "ada@example.edu",
    )
    assert claims[c.MESSAGE_TYPE] == "LtiResourceLinkRequest"
    assert claims[c.VERSION] == "1.3.0"
    assert claims[c.DEPLOYMENT_ID] == "dep-1"
    assert claims[c.TARGET_LINK_URI] == "https://tool.example.com/lti/launch?resource=x"
    assert claims[c.RESOURCE_LINK] == {"id": "rl-1", "title": "Quiz"}
    assert claims[c.ROLES] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
    assert claims[c.CONTEXT] == {
        "id": "ctx-1",
        "label": "CS101",
        "title": "Computing",
        "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
    }
    assert claims[c.CUSTOM] == {"a": "1"}


def test_extra_claims_are_added_and_may_override():
    ags = {"scope": [], "lineitem": "https://lms.example.edu/li/1"}

    claims = build(extra={c.AGS_ENDPOINT: ags, "azp": CLIENT_ID, "aud": [CLIENT_ID]})

    assert claims[c.AGS_ENDPOINT] == ags
    assert claims["aud"] == [CLIENT_ID]
    assert claims[c.CUSTOM] == {}


def test_built_claims_launch_at_the_tool(rs_key, launch):
    message = launch(sign(build(), rs_key), client_id=CLIENT_ID, now=1_700_000_100)

    assert message.deployment_id == "dep-1"
    assert message.user.email == "ada@example.edu"
    assert message.short_roles == ("Instructor",)
    assert message.context is not None and message.context.label == "CS101"
    assert message.resource_link is not None and message.resource_link.title == "Quiz"

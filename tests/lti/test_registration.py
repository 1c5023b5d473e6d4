"""lti.registration: the Dynamic Registration protocol core, with the LMSs' documented examples as fixtures
(Moodle's "LTI Advantage Automatic Registration" page, canvas-lms doc/api/registration.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ltigate.lti.canvas_configuration import build_canvas_configuration
from ltigate.lti.errors import (
    PlatformConfigurationInvalid,
    PlatformUnsupported,
    RegistrationEndpointError,
    RegistrationIssuerMismatch,
    RegistrationRefused,
    RegistrationResponseInvalid,
    RegistrationStartInvalid,
)
from ltigate.lti.profiles import CANVAS, GENERIC, MOODLE, SAKAI
from ltigate.lti.registration import (
    TOOL_CONFIGURATION,
    WANTED_SCOPES,
    SupportedMessage,
    ToolDescription,
    build_registration_request,
    parse_platform_configuration,
    parse_registration_response,
    parse_registration_start,
)

# Moodle's documented configuration (messages as strings, the old "LtiResourceLink").
MOODLE_CONFIGURATION: dict[str, Any] = {
    "issuer": "https://moodle.zeedeeyou.com",
    "token_endpoint": "https://moodle.zeedeeyou.com/mod/lti/token.php",
    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
    "jwks_uri": "https://moodle.zeedeeyou.com/mod/lti/certs.php",
    "authorization_endpoint": "https://moodle.zeedeeyou.com/mod/lti/auth.php",
    "registration_endpoint": "https://moodle.zeedeeyou.com/mod/lti/openid-registration.php",
    "scopes_supported": [
        "https://purl.imsglobal.org/spec/lti-bo/scope/basicoutcome",
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        "https://purl.imsglobal.org/spec/lti-ts/scope/toolsetting",
        "openid",
    ],
    "response_types_supported": ["id_token"],
    "subject_types_supported": ["public", "pairwise"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
        "product_family_code": "moodle",
        "version": "4.0dev (Build: 20201028)",
        "messages_supported": ["LtiResourceLink", "LtiDeepLinkingRequest"],
        "variables": ["Context.id.history", "BasicOutcome.url", "Moodle.Person.userGroupIds"],
    },
}
MOODLE_URL = "https://moodle.zeedeeyou.com/mod/lti/openid-configuration.php"

# Canvas's documented configuration, its issuer made https and its lists shortened.
CANVAS_CONFIGURATION: dict[str, Any] = {
    "issuer": "https://canvas.instructure.com",
    "authorization_endpoint": "https://canvas.instructure.com/api/lti/authorize_redirect",
    "registration_endpoint": "https://canvas.instructure.com/api/lti/registrations",
    "jwks_uri": "https://canvas.instructure.com/login/oauth2/jwks",
    "token_endpoint": "https://canvas.instructure.com/login/oauth2/token",
    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
    "scopes_supported": [
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        "https://canvas.instructure.com/lti/public_jwk/scope/update",
    ],
    "response_types_supported": ["id_token"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "claims_supported": ["sub", "picture", "locale"],
    "subject_types_supported": ["public"],
    "authorization_server": "canvas.instructure.com",
    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
        "product_family_code": "canvas",
        "version": "vCloud",
        "messages_supported": [
            {"type": "LtiResourceLinkRequest", "placements": ["account_navigation", "wiki_page_menu"]},
            {"type": "LtiDeepLinkingRequest", "placements": ["assignment_selection", "editor_button"]},
        ],
        "variables": ["ResourceLink.id"],
        "https://canvas.instructure.com/lti/account_name": "Test University",
    },
}
CANVAS_URL = "https://canvas.instructure.com/api/lti/security/openid-configuration"

TOOL = ToolDescription(
    client_name="ltigate",
    login_url="https://lti.example.edu/lti/login",
    launch_url="https://lti.example.edu/lti/launch",
    jwks_url="https://lti.example.edu/.well-known/jwks.json",
    logo_url="https://lti.example.edu/lti/assets/logo.svg",
)


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def changed(document: dict[str, Any], **changes: object) -> bytes:
    copy = dict(document)
    for name, value in changes.items():
        if value is None:
            copy.pop(name, None)
        else:
            copy[name] = value
    return body(copy)


def test_start_reads_the_configuration_url_and_the_optional_token() -> None:
    start = parse_registration_start({"openid_configuration": CANVAS_URL, "registration_token": "eyJ.a.b"})
    assert (start.openid_configuration, start.registration_token) == (CANVAS_URL, "eyJ.a.b")
    assert parse_registration_start({"openid_configuration": MOODLE_URL}).registration_token is None
    assert "eyJ" not in repr(start)


@pytest.mark.parametrize(
    ("params", "quoted"),
    [
        ({}, "no openid_configuration"),
        ({"openid_configuration": "ftp://lms.example.edu/config"}, "not an absolute http(s) URL"),
        ({"openid_configuration": "http://lms.example.edu/config"}, "must use https"),
        ({"openid_configuration": "https://user:pw@lms.example.edu/config"}, "credentials"),
        ({"openid_configuration": "/relative"}, "not an absolute"),
    ],
)
def test_start_refuses_unusable_configuration_urls(params: dict[str, str], quoted: str) -> None:
    with pytest.raises(RegistrationStartInvalid, match="") as raised:
        parse_registration_start(params)
    assert raised.value.code == "registration_start_invalid"
    assert quoted in raised.value.message


def test_moodle_configuration_with_messages_as_strings() -> None:
    configuration = parse_platform_configuration(body(MOODLE_CONFIGURATION), MOODLE_URL)

    assert configuration.issuer == "https://moodle.zeedeeyou.com"
    assert configuration.registration_endpoint.endswith("/mod/lti/openid-registration.php")
    assert configuration.product_family_code == "moodle"
    assert configuration.messages_supported == (
        SupportedMessage("LtiResourceLinkRequest"),
        SupportedMessage("LtiDeepLinkingRequest"),
    )
    assert configuration.token_audience is None


def test_canvas_configuration_with_placements_and_a_bare_host_authorization_server() -> None:
    configuration = parse_platform_configuration(body(CANVAS_CONFIGURATION), CANVAS_URL)

    assert configuration.placements_for("LtiDeepLinkingRequest") == ("assignment_selection", "editor_button")
    assert configuration.account_name == "Test University"
    assert configuration.authorization_server == "canvas.instructure.com"
    assert configuration.token_audience is None  # not a URL: the token endpoint stays the audience


def test_an_https_authorization_server_other_than_the_token_endpoint_is_the_token_audience() -> None:
    document = changed(
        MOODLE_CONFIGURATION,
        authorization_server="https://api.brightspace.com/auth/token",
        issuer="https://moodle.zeedeeyou.com",
    )
    assert parse_platform_configuration(document, MOODLE_URL).token_audience == "https://api.brightspace.com/auth/token"


def test_the_issuer_must_be_on_the_configuration_urls_host() -> None:
    with pytest.raises(RegistrationIssuerMismatch) as raised:
        parse_platform_configuration(body(MOODLE_CONFIGURATION), "https://evil.example/openid-configuration")

    assert raised.value.code == "registration_issuer_mismatch"
    assert "'evil.example'" in raised.value.message and "'moodle.zeedeeyou.com'" in raised.value.message


def test_an_allow_listed_issuer_may_come_from_another_host_and_only_that_one() -> None:
    blackboard = changed(MOODLE_CONFIGURATION, issuer="https://blackboard.com")
    allowed = {"https://blackboard.com": ["developer.blackboard.com"]}

    configuration = parse_platform_configuration(
        blackboard, "https://developer.blackboard.com/api/v1/lti/openid-configuration", issuer_hosts=allowed
    )
    assert configuration.issuer == "https://blackboard.com"
    with pytest.raises(RegistrationIssuerMismatch):
        parse_platform_configuration(blackboard, "https://evil.example/config", issuer_hosts=allowed)
    with pytest.raises(RegistrationIssuerMismatch):
        parse_platform_configuration(
            changed(MOODLE_CONFIGURATION, issuer="https://other.example"),
            "https://developer.blackboard.com/config",
            issuer_hosts=allowed,
        )


@pytest.mark.parametrize(
    ("changes", "error", "quoted"),
    [
        ({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, PlatformUnsupported, "private_key_jwt"),
        ({"token_endpoint_auth_methods_supported": None}, PlatformUnsupported, "private_key_jwt"),
        ({"id_token_signing_alg_values_supported": ["RS512"]}, PlatformUnsupported, "RS256"),
        ({"token_endpoint_auth_signing_alg_values_supported": ["ES256"]}, PlatformUnsupported, "RS256"),
        ({"registration_endpoint": None}, PlatformConfigurationInvalid, "registration_endpoint is missing"),
        ({"jwks_uri": "http://moodle.zeedeeyou.com/certs"}, PlatformConfigurationInvalid, "must use https"),
        ({"issuer": "https://moodle.zeedeeyou.com?x=1"}, PlatformConfigurationInvalid, "query"),
        ({"scopes_supported": {"a": 1}}, PlatformConfigurationInvalid, "must be a list"),
        (
            {"https://purl.imsglobal.org/spec/lti-platform-configuration": None},
            PlatformConfigurationInvalid,
            "not an LTI platform",
        ),
    ],
)
def test_configurations_ltigate_cannot_use_are_refused(changes: dict[str, Any], error: type, quoted: str) -> None:
    with pytest.raises(error) as raised:
        parse_platform_configuration(changed(MOODLE_CONFIGURATION, **changes), MOODLE_URL)
    assert quoted in raised.value.message


def test_a_configuration_that_is_not_a_json_object_is_refused() -> None:
    for payload, quoted in ((b"<html>login</html>", "not JSON"), (b"[]", "not an object"), (b"", "empty body")):
        with pytest.raises(PlatformConfigurationInvalid) as raised:
            parse_platform_configuration(payload, MOODLE_URL)
        assert quoted in raised.value.message


def test_the_canvas_registration_request() -> None:
    configuration = parse_platform_configuration(body(CANVAS_CONFIGURATION), CANVAS_URL)

    request = build_registration_request(TOOL, configuration, CANVAS)

    assert request["scope"] == " ".join(WANTED_SCOPES)
    tool_configuration = request[TOOL_CONFIGURATION]
    assert isinstance(tool_configuration, dict)
    assert tool_configuration["domain"] == "lti.example.edu"
    assert tool_configuration["claims"] == ["iss", "sub", "picture"]  # the claims Canvas announced, plus iss/sub
    assert tool_configuration["https://canvas.instructure.com/lti/privacy_level"] == "public"
    resource_link, deep_linking = tool_configuration["messages"]
    assert "placements" not in resource_link
    # The profile's order, kept to what this Canvas announces (link_selection is not in this example).
    assert deep_linking["placements"] == ["assignment_selection", "editor_button"]


def test_the_moodle_and_generic_registration_requests() -> None:
    configuration = parse_platform_configuration(body(MOODLE_CONFIGURATION), MOODLE_URL)

    moodle = build_registration_request(TOOL, configuration, MOODLE)
    generic = build_registration_request(TOOL, configuration, GENERIC)

    for request in (moodle, generic):
        messages = request[TOOL_CONFIGURATION]["messages"]  # type: ignore[index]
        assert [m["type"] for m in messages] == ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
        assert all("placements" not in m for m in messages)
        assert "https://canvas.instructure.com/lti/privacy_level" not in request[TOOL_CONFIGURATION]  # type: ignore[operator]
    assert moodle["redirect_uris"] == [TOOL.launch_url]
    assert moodle["token_endpoint_auth_method"] == "private_key_jwt"


def test_deep_linking_is_left_out_when_the_platform_does_not_offer_it_and_scopes_are_kept_to_those_offered() -> None:
    document = changed(
        MOODLE_CONFIGURATION,
        scopes_supported=["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
        **{
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "sakai",
                "messages_supported": [{"type": "LtiResourceLinkRequest"}],
            }
        },
    )
    configuration = parse_platform_configuration(document, MOODLE_URL)

    request = build_registration_request(TOOL, configuration, SAKAI)

    assert [m["type"] for m in request[TOOL_CONFIGURATION]["messages"]] == ["LtiResourceLinkRequest"]  # type: ignore[index]
    assert request["scope"] == "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def test_moodle_response_gives_the_deployment_id_and_the_granted_scopes() -> None:
    answer = {
        "client_id": "fYQt5KS4vCinujE",
        "application_type": ["web"],
        "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score https://purl.imsglobal.org/spec/lti-ags/scope/score",
        TOOL_CONFIGURATION: {"deployment_id": "119", "domain": "robotest.theedtech.dev"},
    }

    result = parse_registration_response(201, body(answer))

    assert (result.client_id, result.deployment_id) == ("fYQt5KS4vCinujE", "119")
    assert result.scopes == ("https://purl.imsglobal.org/spec/lti-ags/scope/score",)


def test_canvas_response_has_no_deployment_id_and_numbers_are_read_as_strings() -> None:
    assert parse_registration_response(200, body({"client_id": "10000000000001"})).deployment_id is None
    numeric = parse_registration_response(200, body({"client_id": 17, TOOL_CONFIGURATION: {"deployment_id": 4}}))
    assert (numeric.client_id, numeric.deployment_id, numeric.scopes) == ("17", "4", None)


def test_refusals_and_failures_quote_the_platform() -> None:
    with pytest.raises(RegistrationRefused) as refused:
        parse_registration_response(
            400, body({"error": "invalid_client_metadata", "error_description": "jwks_uri unreachable"})
        )
    assert (refused.value.error, refused.value.response_status) == ("invalid_client_metadata", 400)
    assert "invalid_client_metadata: jwks_uri unreachable" in refused.value.message
    with pytest.raises(RegistrationRefused) as canvas:
        parse_registration_response(422, body({"errors": [{"message": "Developer key limit reached"}]}))
    assert "Developer key limit reached" in canvas.value.message
    with pytest.raises(RegistrationEndpointError, match="HTTP 503: maintenance"):
        parse_registration_response(503, b"maintenance")
    with pytest.raises(RegistrationResponseInvalid, match="redirects are not followed"):
        parse_registration_response(302, b"")
    for payload in (
        b"<html>",
        b"[]",
        body({"client_id": ""}),
        body({"client_id": True}),
        body({"client_id": "x" * 300}),
    ):
        with pytest.raises(RegistrationResponseInvalid):
            parse_registration_response(201, payload)
    with pytest.raises(RegistrationResponseInvalid, match="deployment_id"):
        parse_registration_response(201, body({"client_id": "a", TOOL_CONFIGURATION: {"deployment_id": ["1"]}}))


def test_canvas_json_configuration_uses_the_canvas_profile() -> None:
    document = build_canvas_configuration(TOOL)

    [extension] = document["extensions"]  # type: ignore[misc]
    assert extension["platform"] == "canvas.instructure.com" and extension["privacy_level"] == "public"
    assert [p["placement"] for p in extension["settings"]["placements"]] == list(CANVAS.deep_linking_placements)
    assert {p["message_type"] for p in extension["settings"]["placements"]} == {"LtiDeepLinkingRequest"}
    assert document["public_jwk_url"] == TOOL.jwks_url and document["oidc_initiation_url"] == TOOL.login_url

"""Claim checks and typed values of `ltigate.lti.message.parse_message` (LTI Core 1.3 §5; lti-reference §2.3)."""

from __future__ import annotations

import pytest

from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.message import (
    MAX_ID_LENGTH,
    AssignmentGradeService,
    Context,
    NamesRoleService,
    Presentation,
    ResourceLink,
    parse_message,
)

CLIENT_ID = "tool-client-1"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def test_optional_claims_are_typed(make_claims):
    claims = make_claims(
        context={"id": "ctx-9", "label": "CS101", "title": "Computing", "type": [COURSE_OFFERING, 7]},
        resource_link={"id": "rl-42", "title": "Quiz", "description": "Week 1"},
        custom={"quiz": "q1", "empty": "", "null": None, "number": 3},
        **{
            c.LAUNCH_PRESENTATION: {
                "document_target": "iframe",
                "return_url": "https://lms.example.edu/return",
                "locale": "en-GB",
                "width": 800,
                "height": True,
            },
            c.AGS_ENDPOINT: {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": "https://lms.example.edu/ctx/9/lineitems",
                "lineitem": "https://lms.example.edu/ctx/9/lineitems/3",
            },
            c.NRPS_SERVICE: {
                "context_memberships_url": "https://lms.example.edu/ctx/9/memberships",
                "service_versions": ["2.0"],
            },
            c.TOOL_PLATFORM: {"guid": "lms-guid", "name": "Example LMS"},
            c.LTI1P1: {"user_id": "legacy-7"},
        },
    )

    message = parse_message(claims, CLIENT_ID)

    assert message.context == Context(id="ctx-9", label="CS101", title="Computing", types=(COURSE_OFFERING,))
    assert message.resource_link == ResourceLink(id="rl-42", title="Quiz", description="Week 1")
    assert message.custom == {"quiz": "q1", "empty": ""}
    assert message.presentation == Presentation(
        document_target="iframe", return_url="https://lms.example.edu/return", locale="en-GB", width=800, height=None
    )
    assert message.ags == AssignmentGradeService(
        scopes=("https://purl.imsglobal.org/spec/lti-ags/scope/score",),
        lineitems="https://lms.example.edu/ctx/9/lineitems",
        lineitem="https://lms.example.edu/ctx/9/lineitems/3",
    )
    assert message.nrps == NamesRoleService(
        context_memberships_url="https://lms.example.edu/ctx/9/memberships", service_versions=("2.0",)
    )
    assert message.services == ("ags", "nrps")
    assert (message.platform_guid, message.platform_name, message.lti11_user_id) == (
        "lms-guid",
        "Example LMS",
        "legacy-7",
    )
    assert message.deep_linking is None


def test_canvas_legacy_user_id(make_claims):
    message = parse_message(make_claims(**{c.LTI + "lti11_legacy_user_id": "canvas-legacy"}), CLIENT_ID)

    assert message.lti11_user_id == "canvas-legacy"


def test_nrps_without_url_is_not_offered(make_claims):
    message = parse_message(make_claims(**{c.NRPS_SERVICE: {"service_versions": ["2.0"]}}), CLIENT_ID)

    assert message.nrps is None
    assert message.services == ()


def test_unknown_claims_are_ignored_but_kept(make_claims):
    claims = make_claims(**{"https://www.instructure.com/placement": "course_navigation"})

    message = parse_message(claims, CLIENT_ID)

    assert message.claims["https://www.instructure.com/placement"] == "course_navigation"


def test_roles_keep_order_and_drop_non_strings(make_claims):
    message = parse_message(make_claims(roles=["Learner", 7, None, "", "Instructor"]), CLIENT_ID)

    assert message.roles == (
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    )


@pytest.mark.parametrize("roles", ["Instructor", {"0": "Instructor"}, 7])
def test_roles_that_are_not_an_array(make_claims, roles):
    error = raised(parse_message, make_claims(roles=roles), CLIENT_ID)

    assert error.code == "token_malformed"
    assert f"claim '{c.ROLES}' must be an array" in error.message


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("message_type", 7, "must be a string, got int"),
        ("version", 1.3, "must be a string, got float"),
        ("deployment_id", ["dep-1"], "must be a string, got list"),
        ("target_link_uri", {"url": "x"}, "must be a string, got dict"),
        ("resource_link", "rl-42", "must be a JSON object, got str"),
        ("context", ["ctx"], "must be a JSON object, got list"),
        ("custom", "a=1", "must be a JSON object, got str"),
    ],
)
def test_claims_of_the_wrong_shape(make_claims, name, value, fragment):
    error = raised(parse_message, make_claims(**{name: value}), CLIENT_ID)

    assert error.code == "token_malformed"
    assert fragment in error.message


@pytest.mark.parametrize("sub", [7, ["u-1"], True])
def test_sub_that_is_not_a_string(make_claims, sub):
    error = raised(parse_message, make_claims(sub=sub), CLIENT_ID)

    assert error.code == "token_malformed"
    assert "claim 'sub' must be a string" in error.message


def test_identifiers_at_and_over_the_length_limit(make_claims):
    at_limit = "x" * MAX_ID_LENGTH
    message = parse_message(
        make_claims(sub=at_limit, deployment_id=at_limit, resource_link={"id": at_limit}, context={"id": at_limit}),
        CLIENT_ID,
    )
    assert (message.user.sub, message.deployment_id) == (at_limit, at_limit)

    over = "x" * (MAX_ID_LENGTH + 1)
    for overrides, fragment in [
        ({"sub": over}, "claim 'sub' has 256 characters; at most 255"),
        ({"deployment_id": over}, f"claim '{c.DEPLOYMENT_ID}' has 256 characters; at most 255 are allowed"),
        ({"resource_link": {"id": over}}, "claim 'id' has 256 characters"),
        ({"context": {"id": over}}, "claim 'id' has 256 characters"),
    ]:
        error = raised(parse_message, make_claims(**overrides), CLIENT_ID)
        assert error.code == "token_malformed"
        assert fragment in error.message


@pytest.mark.parametrize("context", [{}, {"id": ""}, {"label": "CS101"}])
def test_context_without_id(make_claims, context):
    error = raised(parse_message, make_claims(context=context), CLIENT_ID)

    assert error.code == "claim_missing"
    assert "the required claim 'id' is" in error.message


def test_message_type_is_checked_before_version(make_claims):
    error = raised(parse_message, make_claims(message_type="LtiDeepLinkingRequestX", version="11.3"), CLIENT_ID)

    assert error.code == "wrong_message_type"


@pytest.mark.parametrize("message_type", ["", "LtiResourceLinkRequestX", "ltiresourcelinkrequest"])
def test_unknown_or_empty_message_type(make_claims, message_type):
    error = raised(parse_message, make_claims(message_type=message_type), CLIENT_ID)

    assert error.code in {"claim_missing", "wrong_message_type"}
    if message_type:
        assert f"message type '{message_type}' is not supported here" in error.message
    else:
        assert f"the required claim '{c.MESSAGE_TYPE}' is empty" in error.message


@pytest.mark.parametrize("version", ["1.3", "1.3.0 ", "1.1", "2.0.0"])
def test_other_versions(make_claims, version):
    error = raised(parse_message, make_claims(version=version), CLIENT_ID)

    assert error.code == "wrong_version"
    assert f"LTI version '{version}' is not supported; expected '1.3.0'" in error.message

"""Names and Role Provisioning Services 2.0: URL parameters, the membership container of the spec, paging
and differences links (NRPS §2.2–2.4; lti-reference §5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltigate.lti import nrps
from ltigate.lti.errors import LtiError
from ltigate.lti.message import Context
from ltigate.lti.nrps import (
    MembershipPage,
    NrpsMember,
    differences_url,
    memberships_url,
    next_page,
    parse_membership_page,
)

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
FACULTY = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"

# lti-reference §5
SPEC_CONTAINER = {
    "id": "https://lms.example.com/sections/2923/memberships",
    "context": {"id": "2923-abc", "label": "CPS 435", "title": "CPS 435 Learning Analytics"},
    "members": [
        {
            "status": "Active",
            "user_id": "0ae836b9-7fc9-4060-006f-27b2066ac545",
            "roles": [INSTRUCTOR],
            "name": "Jane Q. Public",
            "email": "jane@platform.example.edu",
            "lis_person_sourcedid": "59254-6782-12ab",
            "lti11_legacy_user_id": "668321221-2879",
            "message": [
                {
                    "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
                    "https://purl.imsglobal.org/spec/lti-bo/claim/basicoutcome": {
                        "lis_result_sourcedid": "example.edu:71ee7e42-f6d2-414a-80db-b69ac2defd4",
                        "lis_outcome_service_url": "https://www.example.com/2344",
                    },
                    "https://purl.imsglobal.org/spec/lti/claim/custom": {"country": "Canada"},
                }
            ],
        }
    ],
}


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def page(document: object) -> MembershipPage:
    return parse_membership_page(json.dumps(document).encode())


def test_media_type_and_scope():
    assert nrps.MEDIA_TYPE == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
    assert nrps.SCOPE == "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("https://lms.example.com/2344/memberships", {}, "https://lms.example.com/2344/memberships"),
        (
            "https://lms.example.com/2344/memberships",
            {"role": "Learner"},
            "https://lms.example.com/2344/memberships?role=Learner",
        ),
        (
            "https://lms.example.com/2344/memberships",
            {"role": LEARNER},
            "https://lms.example.com/2344/memberships"
            "?role=http%3A%2F%2Fpurl.imsglobal.org%2Fvocab%2Flis%2Fv2%2Fmembership%23Learner",
        ),
        (
            "https://moodle.test/mod/lti/services.php/CourseSection/2/bindings/3/memberships?type_id=1",
            {"limit": 50, "rlid": "rl 1"},
            "https://moodle.test/mod/lti/services.php/CourseSection/2/bindings/3/memberships?type_id=1&limit=50&rlid=rl%201",
        ),
        (
            "https://canvas.test/api/lti/courses/1/names_and_roles",
            {"role": "Instructor", "limit": 10, "rlid": "abc"},
            "https://canvas.test/api/lti/courses/1/names_and_roles?role=Instructor&limit=10&rlid=abc",
        ),
    ],
)
def test_memberships_url(url, options, expected):
    assert memberships_url(url, **options) == expected


@pytest.mark.parametrize("limit", [0, -3, False])
def test_memberships_limit(limit):
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        memberships_url("https://lms.test/m", limit=limit)


def test_spec_container():
    parsed = page(SPEC_CONTAINER)
    assert parsed == MembershipPage(
        id="https://lms.example.com/sections/2923/memberships",
        context=Context(id="2923-abc", label="CPS 435", title="CPS 435 Learning Analytics"),
        members=(
            NrpsMember(
                user_id="0ae836b9-7fc9-4060-006f-27b2066ac545",
                roles=(INSTRUCTOR,),
                status="Active",
                name="Jane Q. Public",
                email="jane@platform.example.edu",
                lis_person_sourcedid="59254-6782-12ab",
                lti11_legacy_user_id="668321221-2879",
            ),
        ),
        skipped=0,
    )


def test_members_are_normalised():
    parsed = page(
        {
            "context": {"id": "c1"},
            "members": [
                {"user_id": "u1", "roles": ["Learner", "Learner", LEARNER, "", 7, "urn:lti:instrole:ims/lis/Faculty"]},
                {
                    "user_id": "u2",
                    "roles": ["Instructor"],
                    "status": "inactive",
                    "given_name": "Ada",
                    "family_name": "L",
                },
                {
                    "user_id": "u3",
                    "roles": "Learner",
                    "status": "Deleted",
                    "middle_name": "Q",
                    "picture": "https://p/x.png",
                },
                {"user_id": 42, "roles": [FACULTY], "status": "Suspended", "email": ""},
            ],
        }
    )
    u1, u2, u3, u4 = parsed.members
    assert u1.roles == (LEARNER, FACULTY)
    assert u1.status == "Active"
    assert (u2.roles, u2.status, u2.given_name, u2.family_name) == ((INSTRUCTOR,), "Inactive", "Ada", "L")
    assert (u3.roles, u3.status, u3.middle_name, u3.picture) == ((), "Deleted", "Q", "https://p/x.png")
    assert (u4.user_id, u4.roles, u4.status, u4.email) == ("42", (FACULTY,), "Suspended", None)
    assert parsed.context == Context(id="c1")
    assert parsed.id is None


def test_members_without_user_id_are_skipped_and_counted():
    parsed = page(
        {
            "context": {"id": "c1"},
            "members": [
                {"roles": [LEARNER]},
                {"user_id": "", "roles": []},
                "junk",
                None,
                {"user_id": True},
                {"user_id": "ok"},
            ],
        }
    )
    assert [member.user_id for member in parsed.members] == ["ok"]
    assert parsed.members[0].roles == ()
    assert parsed.skipped == 5


@pytest.mark.parametrize("context", [None, "2923", {"label": "no id"}, {"id": 5}])
def test_missing_or_bad_context_reads_as_none(context):
    document: dict[str, object] = {"members": []}
    if context is not None:
        document["context"] = context
    assert page(document).context is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>Forbidden</html>", "the membership container is not JSON: '<html>Forbidden</html>'"),
        (b"[]", "the membership container must be a JSON object, got list"),
        (b'{"context": {"id": "c"}}', "has no 'members' array (got NoneType)"),
        (b'{"members": {"user_id": "u"}}', "has no 'members' array (got dict)"),
        (b"{" * 100_000, "is not JSON"),
        (b'{"members": [{"user_id": "u", "name": "A\\u0000B"}]}', "holds U+0000 or a lone surrogate"),
        (b'{"members": [{"user_id": "u\\ud800"}]}', "holds U+0000 or a lone surrogate"),
        (b'{"members": [], "context": {"id": "c", "title": "T\x00"}}', "is not JSON"),
    ],
)
def test_bad_containers(body, fragment):
    error = raised(parse_membership_page, body)
    assert error.code == "service_response_invalid"
    assert error.status == 502
    assert fragment in error.message


def test_paging_and_differences_links():
    headers = {
        "content-type": nrps.MEDIA_TYPE,
        "link": '<https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=2>; rel="current",'
        '<https://canvas.test/api/lti/courses/1/names_and_roles?page=2&per_page=2>; rel="next",'
        '<https://canvas.test/api/lti/courses/1/names_and_roles?page=1&per_page=2>; rel="first",'
        '<https://canvas.test/api/lti/courses/1/names_and_roles?page=4&per_page=2>; rel="last"',
    }
    assert next_page(headers) == "https://canvas.test/api/lti/courses/1/names_and_roles?page=2&per_page=2"
    assert differences_url(headers) is None
    last = {"Link": '<https://lms.test/m/diff?Since=2024-01-01T00:00:00Z>; rel="differences"'}
    assert next_page(last) is None
    assert differences_url(last) == "https://lms.test/m/diff?Since=2024-01-01T00:00:00Z"
    assert next_page({}) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
member_like = st.fixed_dictionaries({}, optional={k: json_values for k in ("user_id", "roles", "status", "name")})


@settings(max_examples=150, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"members": st.lists(member_like | json_values, max_size=5)})))
def test_any_json_ends_in_a_page_or_service_response_invalid(document):
    try:
        parsed = page(document)
    except LtiError as error:
        assert error.code == "service_response_invalid"
        return
    assert all(member.user_id for member in parsed.members)
    assert len(parsed.members) + parsed.skipped == len(document["members"])

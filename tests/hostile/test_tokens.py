"""JWT-shaped input through /lti/launch with a real registered platform: random base64url segments, base64url
of random JSON, and validly signed tokens (after a real login) whose claims have the wrong JSON types. Every
attempt ends in a 4xx page with an error code, or in a launch; never in a 500.
"""

from __future__ import annotations

import json
import math
import string

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltigate.lti import claims as c
from ltigate.lti.jws import MAX_TOKEN_BYTES, sign
from tests.e2e.conftest import APP_URL
from tests.hostile.conftest import (
    FUZZ,
    Registered,
    assert_coded_4xx,
    b64url,
    fresh_login,
    target,
)
from tests.support.platform import Browser, error_code

SUBFIELDS: dict[str, list[str]] = {
    c.RESOURCE_LINK: ["id", "title", "description"],
    c.CONTEXT: ["id", "label", "title", "type"],
    c.TOOL_PLATFORM: ["guid", "name", "contact_email", "description", "url", "product_family_code", "version"],
    c.LAUNCH_PRESENTATION: ["document_target", "height", "width", "return_url", "locale"],
    c.CUSTOM: ["quiz_id", "", "$Canvas.user.id"],
    c.LIS: ["person_sourcedid", "course_offering_sourcedid", "course_section_sourcedid"],
    c.AGS_ENDPOINT: ["scope", "lineitems", "lineitem"],
    c.NRPS_SERVICE: ["context_memberships_url", "service_versions"],
    c.DL_SETTINGS: [
        "deep_link_return_url",
        "accept_types",
        "accept_presentation_document_targets",
        "accept_media_types",
        "accept_multiple",
        "accept_lineitem",
        "auto_create",
        "title",
        "text",
        "data",
    ],
    c.FOR_USER: ["user_id", "person_sourcedid", "given_name", "family_name", "name", "email", "roles"],
    c.LTI1P1: ["user_id", "oauth_consumer_key", "oauth_consumer_key_sign", "resource_link_id"],
}
TOP_LEVEL = [
    "iss",
    "aud",
    "azp",
    "sub",
    "exp",
    "iat",
    "nbf",
    "nonce",
    *c.PROFILE,
    c.MESSAGE_TYPE,
    c.VERSION,
    c.DEPLOYMENT_ID,
    c.TARGET_LINK_URI,
    c.ROLES,
    c.ROLE_SCOPE_MENTOR,
    c.LTI + "lti11_legacy_user_id",
    *SUBFIELDS,
]
# One value of every JSON type (null removes a claim: that is the "missing claim" tests' business).
WRONG_TYPES: list[object] = [7, 1.5, True, "x", [1, "x"], {"id": 1}]

strings = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\x00", "\ud800", "a\udfffb", "\u202e", "<script>", "' OR 1=1 --", "../../etc/passwd"]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1])
    | strings,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4),
    max_leaves=12,
)
MESSAGE_TYPES = [c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST, c.SUBMISSION_REVIEW_REQUEST]
DL_SETTINGS = {
    "deep_link_return_url": "https://lms.example.edu/dl/return",
    "accept_types": ["ltiResourceLink"],
    "accept_presentation_document_targets": ["iframe", "window"],
}
REVIEW = {
    c.FOR_USER: {"user_id": "learner-1"},
    c.AGS_ENDPOINT: {"scope": [], "lineitem": "https://lms.example.edu/lineitems/1"},
}


def post_launch(browser: Browser, token: str, state: str = "some-state") -> httpx.Response:
    return browser.http.post("/lti/launch", data={"id_token": token, "state": state})


def assert_launched_or_coded_4xx(response: httpx.Response) -> None:
    if response.status_code == 303:  # a launch: to the app (or its review page), with a ticket
        location = response.headers["location"]
        assert location.startswith(APP_URL + "?") and "ticket=" in location
    elif response.status_code == 200:  # ltigate's deep-linking picker
        assert 'data-testid="error-code"' not in response.text
    else:
        assert_coded_4xx(response)


def signed_launch(
    browser: Browser, reg: Registered, message_type: str = c.RESOURCE_LINK_REQUEST, **overrides: object
) -> httpx.Response:
    """A real login, then a token signed with the platform's key carrying `overrides` (None removes a claim)."""
    login = fresh_login(browser, reg)
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=target(browser))
    claims[c.MESSAGE_TYPE] = message_type
    if message_type == c.DEEP_LINKING_REQUEST:
        claims[c.DL_SETTINGS] = dict(DL_SETTINGS)
        claims.pop(c.RESOURCE_LINK)
    if message_type == c.SUBMISSION_REVIEW_REQUEST:
        claims.update(REVIEW)
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return post_launch(browser, sign(claims, reg.platform.signing_key), login.state)


# --- unsigned shapes ---------------------------------------------------------------------------

segments = st.one_of(
    st.binary(max_size=80).map(b64url),
    st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=80),
    st.text(alphabet=string.ascii_letters + string.digits + "-_=+/.~%", max_size=40),
    json_values.map(lambda value: b64url(json.dumps(value).encode())),
)


@FUZZ
@given(parts=st.lists(segments, min_size=1, max_size=5))
def test_random_base64url_segments(browser: Browser, approved: Registered, parts: list[str]) -> None:
    assert_coded_4xx(post_launch(browser, ".".join(parts)))


@FUZZ
@given(
    header=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"alg": st.sampled_from(["RS256", "none", "HS256", "ES256"])},
            optional={"kid": st.one_of(strings, json_values), "typ": json_values, "crit": json_values},
        ),
    ),
    payload=st.one_of(json_values, st.dictionaries(st.sampled_from(TOP_LEVEL) | strings, json_values, max_size=8)),
    routable=st.booleans(),
    signature=st.binary(min_size=1, max_size=300),
)
def test_base64url_of_random_json(
    browser: Browser, approved: Registered, header: object, payload: object, routable: bool, signature: bytes
) -> None:
    if routable and isinstance(payload, dict):  # reach the key lookup and the signature check
        payload = {**payload, "iss": approved.platform.issuer, "aud": approved.platform.client_id}
        if isinstance(header, dict) and header.get("alg") == "RS256":
            header = {**header, "kid": approved.platform.signing_key.kid}
    token = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload)) + "." + b64url(signature)

    assert_coded_4xx(post_launch(browser, token))


def test_a_routable_token_with_a_forged_signature_is_refused_without_refetching(
    browser: Browser, approved: Registered
) -> None:
    header = {"alg": "RS256", "kid": approved.platform.signing_key.kid, "typ": "JWT"}
    fetches = approved.platform.jwks_fetches
    for n in range(10):
        claims = {"iss": approved.platform.issuer, "aud": approved.platform.client_id, "n": n}
        token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.{b64url(b'x' * 256)}"
        response = post_launch(browser, token)
        assert (response.status_code, error_code(response)) == (401, "signature_invalid")
    assert approved.platform.jwks_fetches <= max(fetches, 1)  # the first lookup fetches; a known kid, never again


# --- signed tokens with claims of the wrong type ---------------------------------------------------


@pytest.mark.parametrize("claim", TOP_LEVEL)
def test_every_claim_with_every_wrong_type(browser: Browser, approved: Registered, claim: str) -> None:
    for value in WRONG_TYPES:
        assert_launched_or_coded_4xx(signed_launch(browser, approved, **{claim: value}))


@pytest.mark.parametrize("claim", list(SUBFIELDS))
def test_every_member_of_every_object_claim_with_every_wrong_type(
    browser: Browser, approved: Registered, claim: str
) -> None:
    message_type = {c.DL_SETTINGS: c.DEEP_LINKING_REQUEST, c.FOR_USER: c.SUBMISSION_REVIEW_REQUEST}.get(
        claim, c.RESOURCE_LINK_REQUEST
    )
    base = {c.DL_SETTINGS: DL_SETTINGS, **REVIEW}.get(claim, {"id": "x-1", "user_id": "u-1"})
    for field in SUBFIELDS[claim]:
        for value in (7, [1, "x"], {"id": 1}):  # members are mostly strings: the other types
            response = signed_launch(browser, approved, message_type, **{claim: {**base, field: value}})
            assert_launched_or_coded_4xx(response)


@FUZZ
@given(
    message_type=st.sampled_from(MESSAGE_TYPES),
    overrides=st.dictionaries(st.sampled_from(TOP_LEVEL), json_values, min_size=1, max_size=4),
    nested=st.dictionaries(
        st.sampled_from(list(SUBFIELDS)),
        st.dictionaries(st.sampled_from(sorted({f for fs in SUBFIELDS.values() for f in fs})), json_values),
        max_size=3,
    ),
)
def test_any_signed_claims(
    browser: Browser,
    approved: Registered,
    message_type: str,
    overrides: dict[str, object],
    nested: dict[str, object],
) -> None:
    assert_launched_or_coded_4xx(signed_launch(browser, approved, message_type, **{**nested, **overrides}))


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\ud800", "x\udfff", ["\x00"], {"\ud800": "x"}])
@pytest.mark.parametrize("claim", ["iss", "sub", "name", c.DEPLOYMENT_ID, c.CUSTOM, c.CONTEXT])
def test_nul_and_lone_surrogates_in_claims_are_refused(
    browser: Browser, approved: Registered, claim: str, value: object
) -> None:
    # JSON escapes carry them; PostgreSQL text refuses NUL and UTF-8 refuses surrogates.
    shaped = {"id": value} if claim == c.CONTEXT else value
    response = signed_launch(browser, approved, **{claim: shaped})

    assert (response.status_code, error_code(response)) == (400, "token_malformed")
    assert "holds a NUL character or an unpaired surrogate" in response.text


@pytest.mark.parametrize("value", ["\x00", "\ud800"])
def test_nul_and_lone_surrogates_in_an_unsigned_issuer_are_refused(
    browser: Browser, approved: Registered, value: str
) -> None:
    header = {"alg": "RS256", "kid": "k"}
    payload = {"iss": value, "aud": approved.platform.client_id}
    token = ".".join(b64url(json.dumps(part).encode()) for part in (header, payload)) + ".c2ln"

    response = post_launch(browser, token)

    assert (response.status_code, error_code(response)) == (400, "token_malformed")


def test_numbers_json_cannot_hold(browser: Browser, approved: Registered) -> None:
    for exp in [math.inf, -math.inf, math.nan]:  # json.dumps writes Infinity and NaN, which JSON has not
        assert_coded_4xx(signed_launch(browser, approved, exp=exp))


# --- size ---------------------------------------------------------------------------------------------


def test_an_oversize_token_in_a_form_under_the_form_cap(browser: Browser, approved: Registered) -> None:
    response = signed_launch(browser, approved, padding="x" * MAX_TOKEN_BYTES)

    assert (response.status_code, error_code(response)) == (413, "token_too_large")


def test_a_large_token_under_the_cap_launches(browser: Browser, approved: Registered) -> None:
    many = {f"https://vendor.example/claim/{i}": "v" * 10 for i in range(600)}
    response = signed_launch(browser, approved, **many, **{c.CUSTOM: {f"k{i}": "v" for i in range(300)}})

    assert_launched_or_coded_4xx(response)
    assert response.status_code == 303

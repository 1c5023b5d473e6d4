"""Hypothesis properties of the protocol core: build → sign → verify → parse round-trips, and tampering or
arbitrary input only ever ends in an LtiError (style rule 11)."""

from __future__ import annotations

import base64
import json
import math
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.jws import sign
from ltigate.lti.launch import UnverifiedLaunch, read_unverified_launch
from ltigate.lti.platform import LaunchUser, build_resource_link_claims
from ltigate.lti.roles import normalise_role

NOW = 1_700_000_100
ISSUER = "https://lms.example.edu"
CLIENT_ID = "tool-client-1"

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")  # what the core accepts (jws)
ids = st.text(text, min_size=1, max_size=255)
ascii_ids = st.text(alphabet=string.ascii_letters + string.digits + ":-_.", min_size=1, max_size=255)
roles = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "Instructor",
                "Learner",
                "",
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",
                "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
                "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
                "urn:lti:role:ims/lis/Instructor",
                "urn:lti:instrole:ims/lis/Student",
                "http://purl.imsglobal.org/vocab/lis/v2/unknown/unknown#Helper",
            ]
        ),
        st.text(text, max_size=80),
    ),
    max_size=8,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.inf, -math.inf, math.nan, 10**400, -(10**400), NOW, NOW + 10**9])
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- (1) round trip --------------------------------------------------------------------------


@SETTINGS
@given(
    deployment_id=ids,
    sub=ids,
    role_values=roles,
    context_id=ids,
    resource_link_id=ascii_ids,
    aud_as_list=st.booleans(),
)
def test_build_sign_verify_parse_round_trip(
    rs_key, launch, deployment_id, sub, role_values, context_id, resource_link_id, aud_as_list
):
    user = LaunchUser(
        sub=sub, name="n", given_name="g", family_name="f", email="e@example.edu", roles=tuple(role_values)
    )
    claims = build_resource_link_claims(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        deployment_id=deployment_id,
        nonce="n-1",
        now=NOW - 10,
        ttl=300,
        user=user,
        target_link_uri="https://tool.example.com/lti/launch?resource=x",
        resource_link_id=resource_link_id,
        resource_link_title="t",
        context_id=context_id,
        context_label="l",
        context_title="t",
        extra={"aud": [CLIENT_ID], "azp": CLIENT_ID} if aud_as_list else None,
    )

    message = launch(sign(claims, rs_key))

    assert message.deployment_id == deployment_id
    assert message.user.sub == sub
    assert message.roles == tuple(normalise_role(r) for r in role_values if r)
    assert message.context is not None and message.context.id == context_id
    assert message.resource_link is not None and message.resource_link.id == resource_link_id
    assert message.issuer == ISSUER
    assert message.client_id == CLIENT_ID


# --- (2) tampering ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genuine_token(rs_key, make_claims) -> str:
    return sign(make_claims(context={"id": "ctx-1", "title": "Ünïcode ✓"}), rs_key)


def test_the_genuine_token_verifies(genuine_token, launch):
    assert launch(genuine_token).context.id == "ctx-1"


replacement_chars = st.one_of(st.sampled_from(string.ascii_letters + string.digits + "-_"), st.characters())


def assert_rejected(launch, token: str) -> LtiError:
    try:
        launch(token)
    except LtiError as error:
        return error
    raise AssertionError(f"tampered token was accepted: {token[:80]}…")


@SETTINGS
@given(data=st.data())
def test_any_changed_signature_character_is_rejected(genuine_token, launch, data):
    head, body, signature = genuine_token.split(".")
    index = data.draw(st.integers(0, len(signature) - 1), label="index")
    char = data.draw(replacement_chars.filter(lambda ch: ch != signature[index]), label="char")

    error = assert_rejected(launch, f"{head}.{body}.{signature[:index]}{char}{signature[index + 1 :]}")

    assert error.code in {"signature_invalid", "token_malformed"}


@SETTINGS
@given(data=st.data())
def test_any_changed_payload_segment_character_is_rejected(genuine_token, launch, data):
    head, body, signature = genuine_token.split(".")
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    char = data.draw(replacement_chars.filter(lambda ch: ch != body[index]), label="char")

    assert_rejected(launch, f"{head}.{body[:index]}{char}{body[index + 1 :]}.{signature}")


@SETTINGS
@given(data=st.data())
def test_any_changed_payload_json_character_is_rejected(genuine_token, launch, data):
    head, body, signature = genuine_token.split(".")
    text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    index = data.draw(st.integers(0, len(text) - 1), label="index")
    char = data.draw(st.characters(exclude_categories=["Cs"]).filter(lambda ch: ch != text[index]), label="char")
    tampered = text[:index] + char + text[index + 1 :]

    error = assert_rejected(launch, f"{head}.{b64url(tampered.encode())}.{signature}")

    # A still-parsable payload must fail on the signature; a broken one may fail earlier as malformed.
    assert error.code in {"signature_invalid", "token_malformed", "claim_missing", "token_too_large"}


@SETTINGS
@given(claims=st.dictionaries(st.text(max_size=20), json_values, max_size=6))
def test_a_re_signed_payload_under_another_key_is_rejected(rs_key_other, launch, make_claims, claims):
    token = sign({**make_claims(), **claims}, rs_key_other)

    assert_rejected(launch, token)


# --- (3) arbitrary input ---------------------------------------------------------------------


def read_or_lti_error(token: str) -> UnverifiedLaunch | LtiError:
    try:
        return read_unverified_launch(token)
    except LtiError as error:
        return error


@SETTINGS
@given(token=st.text(max_size=400))
def test_arbitrary_text_is_read_or_refused_with_an_lti_error(token):
    assert isinstance(read_or_lti_error(token), UnverifiedLaunch | LtiError)


segments = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_=+/", max_size=60),
    json_values.map(lambda value: b64url(json.dumps(value).encode())),
    st.binary(max_size=60).map(b64url),
)
headers = st.fixed_dictionaries(
    {"alg": st.one_of(st.sampled_from(["RS256", "none", "HS256"]), json_values)},
    optional={"kid": st.one_of(st.text(max_size=300), json_values), "typ": json_values, "crit": json_values},
)
payloads = st.dictionaries(
    st.sampled_from(["iss", "aud", "azp", "sub", "exp", "iat", c.MESSAGE_TYPE]) | st.text(max_size=8),
    json_values,
    max_size=6,
)


@SETTINGS
@given(
    header=st.one_of(headers.map(lambda h: b64url(json.dumps(h).encode())), segments),
    payload=st.one_of(payloads.map(lambda p: b64url(json.dumps(p).encode())), segments),
    signature=segments,
    dots=st.sampled_from([".", ".."]),
)
def test_token_shaped_input_is_read_or_refused_with_an_lti_error(header, payload, signature, dots):
    token = f"{header}.{payload}{dots}{signature}"

    result = read_or_lti_error(token)

    if isinstance(result, UnverifiedLaunch):
        assert result.header.alg == "RS256"
        assert result.header.kid
        assert result.issuer and result.audiences


# --- (4) arbitrary signed claims -------------------------------------------------------------

claim_names = st.sampled_from(
    [
        "iss",
        "aud",
        "azp",
        "sub",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "name",
        "email",
        c.MESSAGE_TYPE,
        c.VERSION,
        c.DEPLOYMENT_ID,
        c.TARGET_LINK_URI,
        c.RESOURCE_LINK,
        c.ROLES,
        c.CONTEXT,
        c.CUSTOM,
        c.LAUNCH_PRESENTATION,
        c.AGS_ENDPOINT,
        c.NRPS_SERVICE,
        c.TOOL_PLATFORM,
        c.LTI1P1,
        c.DL_SETTINGS,
        c.LTI + "lti11_legacy_user_id",
    ]
)


def parse_or_lti_error(launch, rs_key, claims: dict[str, object]) -> None:
    try:
        token = sign(claims, rs_key)
    except ValueError:  # joserfc cannot serialise every generated value
        assume(False)
    try:
        message = launch(token)
    except LtiError:
        return
    assert message.deployment_id == claims[c.DEPLOYMENT_ID]


@SETTINGS
@given(
    overrides=st.dictionaries(claim_names, json_values, min_size=1, max_size=3),
    dropped=st.sets(claim_names, max_size=2),
)
def test_validly_signed_odd_claims_parse_or_raise_an_lti_error(rs_key, launch, make_claims, overrides, dropped):
    claims = {name: value for name, value in make_claims().items() if name not in dropped}
    claims.update(overrides)

    parse_or_lti_error(launch, rs_key, claims)


@SETTINGS
@given(times=st.dictionaries(st.sampled_from(["exp", "iat", "nbf"]), json_values, min_size=1))
def test_validly_signed_odd_times_pass_or_raise_an_lti_error(rs_key, launch, make_claims, times):
    parse_or_lti_error(launch, rs_key, {**make_claims(), **times})

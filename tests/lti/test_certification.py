"""The tool launches of the 1EdTech certification suite (lti-reference §12): what must fail, what must pass."""

from __future__ import annotations

import pytest
from joserfc import jwt

from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.keys import SigningKey, parse_key_set

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
UNKNOWN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/unknown/unknown#Helper"


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


# --- must reject ---------------------------------------------------------------------------


def test_no_kid_sent_in_jwt_header(rs_key, make_claims, launch):
    token = jwt.encode({"alg": "RS256", "typ": "JWT"}, make_claims(), rs_key.key, algorithms=["RS256"])

    error = raised(launch, token)

    assert error.code == "kid_missing"
    assert "no 'kid'" in error.message


def test_incorrect_kid_is_not_found_in_the_key_set(rs_key, make_claims, sign_claims, launch):
    token = sign_claims(make_claims(), SigningKey(kid="imstester_bad_kid", alg="RS256", key=rs_key.key))

    error = raised(launch, token)

    assert error.code == "kid_not_found"
    assert "'imstester_bad_kid'" in error.message


def test_key_published_under_the_kid_is_not_the_signing_key(rs_key_other, make_claims, sign_claims, launch):
    wrong_keys = parse_key_set({"keys": [rs_key_other.public_jwk()]})

    error = raised(launch, sign_claims(make_claims()), keys=wrong_keys)

    assert error.code == "signature_invalid"
    assert "does not verify with key 'k1'" in error.message


def test_wrong_lti_version(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(version="11.3")))

    assert error.code == "wrong_version"
    assert "LTI version '11.3' is not supported; expected '1.3.0'" in error.message


@pytest.mark.parametrize(
    ("missing", "claim"),
    [
        ("version", c.VERSION),
        ("message_type", c.MESSAGE_TYPE),
        ("roles", c.ROLES),
        ("deployment_id", c.DEPLOYMENT_ID),
        ("resource_link", c.RESOURCE_LINK),
        ("target_link_uri", c.TARGET_LINK_URI),
    ],
)
def test_required_lti_claim_missing(make_claims, sign_claims, launch, missing, claim):
    error = raised(launch, sign_claims(make_claims(missing)))

    assert error.code == "claim_missing"
    assert f"the required claim '{claim}' is missing" in error.message


def test_message_type_version_and_roles_all_missing(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims("message_type", "version", "roles")))

    assert error.code == "claim_missing"
    assert "is missing" in error.message


def test_resource_link_without_id(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(resource_link={"title": "Quiz"})))

    assert error.code == "claim_missing"
    assert "the required claim 'id' is missing" in error.message


def test_resource_link_with_empty_id(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(resource_link={"id": ""})))

    assert error.code == "claim_missing"
    assert "the required claim 'id' is empty" in error.message


def test_empty_deployment_id(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(deployment_id="")))

    assert error.code == "claim_missing"
    assert f"the required claim '{c.DEPLOYMENT_ID}' is empty" in error.message


def test_invalid_lti_message_is_not_a_jwt_we_accept(forge, launch):
    # The suite's "Invalid LTI message": header {} and payload {"name": "badltilaunch"}.
    error = raised(launch, forge({}, {"name": "badltilaunch"}))

    assert error.code in {"algorithm_not_allowed", "token_malformed"}
    assert error.code == "algorithm_not_allowed"
    assert "alg 'None' is not allowed; expected one of RS256" in error.message


def test_signed_non_lti_jwt(sign_claims, launch):
    token = sign_claims({"name": "badltilaunch"})

    error = raised(launch, token)

    assert error.code == "claim_missing"
    assert "no 'iss' claim" in error.message


def test_user_claim_present_but_empty(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(sub="")))

    assert error.code == "claim_missing"
    assert "claim 'sub' is present but empty" in error.message


def test_timestamps_incorrect(make_claims, sign_claims, launch):
    error = raised(launch, sign_claims(make_claims(exp=22222, iat=11111)))

    assert error.code == "token_expired"
    assert "the token expired at 22222" in error.message


@pytest.mark.parametrize("missing", ["exp", "iat"])
def test_time_claim_missing(make_claims, sign_claims, launch, missing):
    error = raised(launch, sign_claims(make_claims(missing)))

    assert error.code == "claim_missing"
    assert f"the token has no '{missing}' claim" in error.message


@pytest.mark.parametrize("value", ["1700000300", None, True, [1700000300], {"t": 1}])
def test_exp_not_a_numeric_date(make_claims, sign_claims, launch, value):
    claims = make_claims(exp=value) if value is not None else make_claims("exp")

    error = raised(launch, sign_claims(claims))

    if value is None:
        assert error.code == "claim_missing"
    else:
        assert error.code == "token_malformed"
        assert "'exp' must be a NumericDate" in error.message


# --- must accept ---------------------------------------------------------------------------


def test_plain_launch_teacher(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(roles=[MEMBERSHIP + "Instructor"])))

    assert message.short_roles == ("Instructor",)


def test_multiple_roles(make_claims, sign_claims, launch):
    roles = [
        MEMBERSHIP + "Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
        "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    ]

    message = launch(sign_claims(make_claims(roles=roles)))

    assert message.roles == tuple(roles)
    assert message.short_roles == ("Instructor", "institution:Faculty", "system:Administrator", "TeachingAssistant")


@pytest.mark.parametrize("short", ["Instructor", "Learner"])
def test_short_role_value_is_normalised(make_claims, sign_claims, launch, short):
    message = launch(sign_claims(make_claims(roles=[short])))

    assert message.roles == (MEMBERSHIP + short,)
    assert message.short_roles == (short,)


def test_unknown_role_is_kept_without_short_name(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(roles=[UNKNOWN_ROLE])))

    assert message.roles == (UNKNOWN_ROLE,)
    assert message.short_roles == ()


@pytest.mark.parametrize("roles", [[""], []], ids=["no role", "empty roles"])
def test_no_role(make_claims, sign_claims, launch, roles):
    message = launch(sign_claims(make_claims(roles=roles)))

    assert message.roles == ()
    assert message.short_roles == ()


def test_email_only(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(email="ada@example.edu")))

    assert message.user.email == "ada@example.edu"
    assert message.user.name is None


def test_names_only(make_claims, sign_claims, launch):
    message = launch(
        sign_claims(make_claims(name="Ada Lovelace", given_name="Ada", family_name="Lovelace", middle_name="King"))
    )

    assert (message.user.name, message.user.given_name, message.user.family_name, message.user.middle_name) == (
        "Ada Lovelace",
        "Ada",
        "Lovelace",
        "King",
    )
    assert message.user.email is None


def test_no_pii(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims()))

    assert message.user.sub == "u-123"
    assert (message.user.name, message.user.email, message.user.given_name, message.user.family_name) == (None,) * 4


def test_email_without_context_claim_is_valid(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(email="ada@example.edu")))

    assert c.CONTEXT not in message.claims
    assert message.context is None
    assert message.user.email == "ada@example.edu"


def test_anonymous_launch_without_sub(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims("sub")))

    assert message.user.sub is None


def test_audience_as_string(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(aud="tool-client-1")))

    assert message.client_id == "tool-client-1"


def test_audience_as_array_with_azp(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(aud=["tool-client-1", "https://lms.example.edu"], azp="tool-client-1")))

    assert message.client_id == "tool-client-1"


def test_audience_as_single_element_array_without_azp(make_claims, sign_claims, launch):
    message = launch(sign_claims(make_claims(aud=["tool-client-1"])))

    assert message.client_id == "tool-client-1"

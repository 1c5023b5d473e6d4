"""id_token validation of `ltigate.lti.launch` (Security Framework §5.1.3; lti-reference §2.7)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from ltigate.lti.errors import LtiError
from ltigate.lti.launch import (
    UnverifiedLaunch,
    check_nonce,
    check_target_link_uri,
    read_resource_slug,
    read_unverified_launch,
    verify_id_token,
)

NOW = 1_700_000_100
ISSUER = "https://lms.example.edu"
CLIENT_ID = "tool-client-1"
LAUNCH_URL = "https://tool.example.com/lti/launch"


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


# --- read_unverified_launch -----------------------------------------------------------------


def test_unverified_launch_carries_routing_values(make_claims, sign_claims):
    token = sign_claims(make_claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))

    launch = read_unverified_launch(token)

    assert isinstance(launch, UnverifiedLaunch)
    assert launch.token == token
    assert launch.issuer == ISSUER
    assert launch.audiences == (CLIENT_ID, "other")
    assert launch.header.kid == "k1"


@pytest.mark.parametrize("iss", [None, "", 42, ["https://lms.example.edu"]])
def test_unverified_launch_without_usable_iss(forge, make_claims, iss):
    claims = make_claims("iss") if iss is None else make_claims(iss=iss)

    error = raised(read_unverified_launch, forge({"alg": "RS256", "kid": "k1"}, claims))

    assert error.code == "claim_missing"
    assert "the token has no 'iss' claim" in error.message


@pytest.mark.parametrize("aud", [None, "", [], [CLIENT_ID, 7], {"aud": CLIENT_ID}, 7])
def test_unverified_launch_without_usable_aud(forge, make_claims, aud):
    claims = make_claims("aud") if aud is None else make_claims(aud=aud)

    error = raised(read_unverified_launch, forge({"alg": "RS256", "kid": "k1"}, claims))

    assert error.code == "claim_missing"
    assert "no 'aud' claim (a string or an array of strings)" in error.message


# --- verify_id_token: issuer and audience ---------------------------------------------------


def test_wrong_issuer(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(iss="https://evil.example.edu")))

    assert error.code == "issuer_mismatch"
    assert error.status == 401
    assert "iss 'https://evil.example.edu' does not equal the registered issuer 'https://lms.example.edu'" in (
        error.message
    )


@pytest.mark.parametrize("iss", ["https://lms.example.edu/", "https://LMS.example.edu", "http://lms.example.edu"])
def test_issuer_is_compared_exactly(make_claims, sign_claims, verify, iss):
    error = raised(verify, sign_claims(make_claims(iss=iss)))

    assert error.code == "issuer_mismatch"
    assert f"iss '{iss}'" in error.message


def test_wrong_audience(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(aud="someone-else")))

    assert error.code == "audience_mismatch"
    assert error.status == 401
    assert "aud ['someone-else'] does not contain the client_id 'tool-client-1'" in error.message


def test_wrong_audience_in_array(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(aud=["a", "b"], azp="a")))

    assert error.code == "audience_mismatch"
    assert "aud ['a', 'b']" in error.message


def test_multiple_audiences_without_azp(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(aud=[CLIENT_ID, "https://other.test"])))

    assert error.code == "azp_mismatch"
    assert "aud has 2 values but no 'azp' names the client" in error.message


def test_multiple_audiences_with_azp_of_another_party(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(aud=[CLIENT_ID, "other"], azp="other")))

    assert error.code == "azp_mismatch"
    assert "azp 'other' does not equal the client_id 'tool-client-1'" in error.message


def test_single_audience_with_a_different_azp_is_accepted(make_claims, sign_claims, verify):
    # Blackboard's 2019 tokens (lti-reference §2.7 step 9, §11).
    claims = verify(sign_claims(make_claims(aud=CLIENT_ID, azp="blackboard-app-id")))

    assert claims["azp"] == "blackboard-app-id"


def test_single_audience_array_with_matching_azp(make_claims, sign_claims, verify):
    claims = verify(sign_claims(make_claims(aud=[CLIENT_ID], azp=CLIENT_ID)))

    assert claims["aud"] == [CLIENT_ID]


def test_signature_is_checked_before_any_claim(rs_key_other, make_claims, sign_claims, verify):
    # A forged token with every claim wrong must be reported as a bad signature, not as a bad claim.
    token = sign_claims(make_claims(iss=ISSUER, aud="x", exp=1, iat=1, version="0"), rs_key_other)

    error = raised(verify, token)

    assert error.code == "signature_invalid"


# --- verify_id_token: times -----------------------------------------------------------------


def test_expired(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(exp=NOW - 60)), leeway=5)

    assert error.code == "token_expired"
    assert error.status == 401
    assert f"the token expired at {NOW - 60}; it is now {NOW} (leeway 5 s)" in error.message


def test_expired_within_leeway_passes(make_claims, sign_claims, verify):
    verify(sign_claims(make_claims(exp=NOW - 4)), leeway=5)


def test_expiry_boundary_is_exclusive(make_claims, sign_claims, verify):
    token = sign_claims(make_claims(exp=NOW))

    verify(token, now=NOW - 1, leeway=0)
    assert raised(verify, token, now=NOW, leeway=0).code == "token_expired"


def test_issued_in_the_future_beyond_leeway(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(iat=NOW + 60, exp=NOW + 360)), leeway=5)

    assert error.code == "token_not_yet_valid"
    assert f"the token was issued at {NOW + 60}, in the future; it is now {NOW}" in error.message


def test_issued_in_the_future_within_leeway_passes(make_claims, sign_claims, verify):
    verify(sign_claims(make_claims(iat=NOW + 5, exp=NOW + 305)), leeway=5)


def test_not_before_in_the_future(make_claims, sign_claims, verify):
    error = raised(verify, sign_claims(make_claims(nbf=NOW + 60)), leeway=5)

    assert error.code == "token_not_yet_valid"
    assert f"the token is not valid before {NOW + 60}" in error.message


# --- nonce ----------------------------------------------------------------------------------


def test_nonce_matches():
    check_nonce({"nonce": "n-9f2c"}, "n-9f2c")


def test_nonce_mismatch():
    error = raised(check_nonce, {"nonce": "n-other"}, "n-9f2c")

    assert error.code == "nonce_mismatch"
    assert error.status == 401
    assert "the token's nonce is not the one issued for this login" in error.message


@pytest.mark.parametrize("claims", [{}, {"nonce": ""}, {"nonce": 7}, {"nonce": None}])
def test_nonce_missing(claims):
    error = raised(check_nonce, claims, "n-9f2c")

    assert error.code == "claim_missing"
    assert "no 'nonce' claim" in error.message


def test_nonce_with_non_ascii_text():
    check_nonce({"nonce": "nönce-✓"}, "nönce-✓")
    assert raised(check_nonce, {"nonce": "nönce-✓"}, "nonce-✓").code == "nonce_mismatch"


def test_nonce_of_a_verified_launch(make_claims, sign_claims, verify):
    claims = verify(sign_claims(make_claims(nonce="n-abc")))

    check_nonce(claims, "n-abc")
    assert raised(check_nonce, claims, "n-abd").code == "nonce_mismatch"


# --- target_link_uri ------------------------------------------------------------------------


def test_target_link_uri_equal_to_login():
    check_target_link_uri(LAUNCH_URL, LAUNCH_URL)


def test_target_link_uri_without_login_value():
    check_target_link_uri(LAUNCH_URL, None)


def test_target_link_uri_differs_from_login():
    error = raised(check_target_link_uri, LAUNCH_URL + "?resource=b", LAUNCH_URL + "?resource=a")

    assert error.code == "target_link_uri_mismatch"
    assert f"target_link_uri '{LAUNCH_URL}?resource=b' differs from the one at login '{LAUNCH_URL}?resource=a'" in (
        error.message
    )


# --- read_resource_slug ---------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["quiz-1", "org/project/device", "a b&c=d#e", "ünï/cødé", "100%", "a+b", "x" * 200])
def test_resource_slug_round_trip(slug):
    target = f"{LAUNCH_URL}?{urlencode({'resource': slug})}"

    assert read_resource_slug(target, LAUNCH_URL) == slug


def test_resource_slug_with_slashes_encoded_by_quote():
    target = f"{LAUNCH_URL}?resource={quote('org/project/device', safe='')}"
    assert "org%2Fproject%2Fdevice" in target

    assert read_resource_slug(target, LAUNCH_URL) == "org/project/device"


def test_resource_slug_with_raw_slashes():
    assert read_resource_slug(f"{LAUNCH_URL}?resource=org/project/device", LAUNCH_URL) == "org/project/device"


def test_resource_slug_among_other_parameters():
    target = f"{LAUNCH_URL}?lang=en&resource=org%2Fp&resource=second"

    assert read_resource_slug(target, LAUNCH_URL) == "org/p"


@pytest.mark.parametrize(
    "target",
    [f"{LAUNCH_URL}/", "https://TOOL.example.com/lti/launch", f"{LAUNCH_URL}/#frag"],
    ids=["trailing slash", "host case", "fragment"],
)
def test_resource_slug_tolerates_harmless_differences(target):
    with_query = target.replace("#", "?resource=s#") if "#" in target else target + "?resource=s"

    assert read_resource_slug(with_query, LAUNCH_URL) == "s"


@pytest.mark.parametrize(
    "target",
    [LAUNCH_URL, f"{LAUNCH_URL}?resource=", f"{LAUNCH_URL}?other=x", f"{LAUNCH_URL}?Resource=x"],
    ids=["bare", "empty", "other parameter", "case"],
)
def test_resource_parameter_missing(target):
    error = raised(read_resource_slug, target, LAUNCH_URL)

    assert error.code == "resource_parameter_missing"
    assert f"target_link_uri '{target}' has no 'resource' parameter" in error.message
    assert f"{LAUNCH_URL}?resource=<slug>" in error.message


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/lti/launch?resource=s",
        "http://tool.example.com/lti/launch?resource=s",
        "https://tool.example.com:8443/lti/launch?resource=s",
        "https://tool.example.com/lti/other?resource=s",
        "https://tool.example.com/lti/launch/extra?resource=s",
        "https://tool.example.com@evil.example.com/lti/launch?resource=s",
    ],
    ids=["host", "scheme", "port", "path", "sub-path", "userinfo"],
)
def test_resource_slug_of_another_url(target):
    error = raised(read_resource_slug, target, LAUNCH_URL)

    assert error.code == "target_link_uri_mismatch"
    assert f"target_link_uri '{target}' is not this gateway's launch URL '{LAUNCH_URL}'" in error.message


def test_verify_id_token_directly(platform_keys, make_claims, sign_claims):
    launch = read_unverified_launch(sign_claims(make_claims()))

    claims = verify_id_token(launch, platform_keys.find("k1"), issuer=ISSUER, client_id=CLIENT_ID, now=NOW, leeway=0)

    assert claims == make_claims()

"""Client assertions, token requests and token responses (Security Framework §4.1.1, RFC 6749 §5,
RFC 7523; lti-reference §3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltigate.lti.errors import Culprit, LtiError, TokenRequestRejected, TokenResponseInvalid
from ltigate.lti.jws import read_unverified_header, verify_signature
from ltigate.lti.service_token import (
    GrantedToken,
    build_client_assertion,
    parse_token_response,
    scope_key,
    token_request_form,
)

NOW = 1_700_000_100
CLIENT_ID = "tool-client-1"
TOKEN_URL = "https://lms.example.edu/login/oauth2/token"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def respond(status: int, document: object, *, requested=(SCORE,), now: float = NOW) -> GrantedToken:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return parse_token_response(status, body, requested=list(requested), now=now)


# --- client assertion ------------------------------------------------------------------------


def decoded(token: str, rs_key) -> tuple[object, dict[str, object]]:
    header = read_unverified_header(token)
    return header, verify_signature(token, rs_key.public_key(), header)


def test_assertion_claims(rs_key):
    token = build_client_assertion(client_id=CLIENT_ID, audience=TOKEN_URL, key=rs_key, now=NOW, jti="j-1")
    header, claims = decoded(token, rs_key)
    assert (header.alg, header.kid, header.typ) == ("RS256", "k1", "JWT")
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL  # a single string: D2L fails on a list
    assert claims["iat"] == NOW
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"] == "j-1"
    assert DEPLOYMENT_CLAIM not in claims
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti"}


def test_assertion_carries_deployment_id_only_when_given(rs_key):
    token = build_client_assertion(
        client_id=CLIENT_ID, audience=TOKEN_URL, key=rs_key, now=NOW, jti="j-2", deployment_id="189:7f95"
    )
    _, claims = decoded(token, rs_key)
    assert claims[DEPLOYMENT_CLAIM] == "189:7f95"


def test_assertion_ttl_and_separate_audience(rs_key):
    token = build_client_assertion(
        client_id=CLIENT_ID, audience="https://api.brightspace.com/auth/token", key=rs_key, now=NOW, jti="j", ttl=60
    )
    _, claims = decoded(token, rs_key)
    assert claims["aud"] == "https://api.brightspace.com/auth/token"
    assert claims["exp"] == NOW + 60


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": ""}, {"audience": ""}, {"jti": ""}, {"ttl": 0}, {"ttl": -5}, {"ttl": 3601}],
)
def test_assertion_refuses_nonsense_arguments(rs_key, overrides):
    arguments = {"client_id": CLIENT_ID, "audience": TOKEN_URL, "key": rs_key, "now": NOW, "jti": "j"}
    with pytest.raises(ValueError):
        build_client_assertion(**{**arguments, **overrides})


# --- request form and scope keys ---------------------------------------------------------------


def test_token_request_form():
    form = token_request_form("a.b.c", [SCORE, LINEITEM, SCORE])
    assert form == {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "a.b.c",
        "scope": f"{LINEITEM} {SCORE}",
    }


def test_token_request_needs_a_scope():
    with pytest.raises(ValueError, match="at least one scope"):
        token_request_form("a.b.c", [])


@pytest.mark.parametrize(
    ("scopes", "key"),
    [
        ([SCORE, LINEITEM], f"{LINEITEM} {SCORE}"),
        ([LINEITEM, SCORE, LINEITEM], f"{LINEITEM} {SCORE}"),
        ([f"{SCORE}  {LINEITEM}"], f"{LINEITEM} {SCORE}"),
        (["", " "], ""),
        ((), ""),
    ],
)
def test_scope_key_is_canonical(scopes, key):
    assert scope_key(scopes) == key


@settings(max_examples=75, deadline=None)
@given(st.lists(st.sampled_from([SCORE, LINEITEM, NRPS, "x", "y z"]), max_size=6), st.randoms())
def test_scope_key_ignores_order_and_repeats(scopes, rng):
    shuffled = list(scopes) * 2
    rng.shuffle(shuffled)
    assert scope_key(shuffled) == scope_key(scopes)


# --- token responses ---------------------------------------------------------------------------


def test_successful_response_uses_granted_scope():
    token = respond(
        200,
        {"access_token": "opaque-1", "token_type": "bearer", "expires_in": 3599, "scope": f"{SCORE} {LINEITEM}"},
        requested=[SCORE, LINEITEM, NRPS],
        now=NOW + 0.5,
    )
    assert token == GrantedToken(
        access_token="opaque-1", token_type="bearer", scopes=(LINEITEM, SCORE), expires_at=NOW + 0.5 + 3599
    )
    assert "opaque-1" not in repr(token)


@pytest.mark.parametrize("scope", [None, "", "   "])
def test_missing_scope_means_requested(scope):
    document = {"access_token": "t", "token_type": "Bearer", "expires_in": 60}
    if scope is not None:
        document["scope"] = scope
    token = respond(200, document, requested=[SCORE, LINEITEM])
    assert token.scopes == (LINEITEM, SCORE)


@pytest.mark.parametrize("token_type", ["bearer", "Bearer", "BEARER", "bEaReR"])
def test_token_type_is_case_insensitive(token_type):
    assert respond(200, {"access_token": "t", "token_type": token_type}).token_type == token_type


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (None, 3600),
        (7200, 7200),
        ("1800", 1800),  # some servers send a string
        ("soon", 3600),
        (True, 3600),
        (0, 1),
        (-50, 1),
        (10**12, 86_400),
        (10**400, 86_400),
        (2.5, 2.5),
    ],
)
def test_expiry_defaults_and_clamps(expires_in, lifetime):
    document: dict[str, object] = {"access_token": "t", "token_type": "bearer"}
    if expires_in is not None:
        document["expires_in"] = expires_in
    assert respond(200, document).expires_at == NOW + lifetime


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"1e400"])
def test_expiry_non_finite(literal):
    body = b'{"access_token": "t", "token_type": "bearer", "expires_in": ' + literal + b"}"
    expires_at = parse_token_response(200, body, requested=[SCORE], now=NOW).expires_at
    assert NOW + 1 <= expires_at <= NOW + 86_400


def test_moodle_invalid_scope():
    error = raised(respond, 400, {"error": "invalid_scope"})
    assert isinstance(error, TokenRequestRejected)
    assert error.code == "token_request_rejected"
    assert (error.error, error.error_description, error.response_status) == ("invalid_scope", None, 400)
    assert "answered 400 with error 'invalid_scope'" in error.message
    assert "enable the service for this tool" in error.message
    assert error.culprit is Culprit.CONFIG
    assert error.status == 502


def test_invalid_client_with_description():
    error = raised(respond, 401, {"error": "invalid_client", "error_description": "The 'aud' is invalid"})
    assert isinstance(error, TokenRequestRejected)
    assert error.error_description == "The 'aud' is invalid"
    assert "error 'invalid_client' (\"The 'aud' is invalid\")" in error.message
    assert "token audience" in error.message


def test_rejection_without_an_oauth_error_quotes_the_body():
    error = raised(respond, 500, b"<html><body>Internal   Server Error</body></html>")
    assert isinstance(error, TokenRequestRejected)
    assert error.error is None
    assert error.response_status == 500
    assert "answered 500 without an OAuth error code: '<html><body>Internal Server Error</body></html>'" in str(error)


def test_rejection_with_empty_body():
    error = raised(respond, 503, b"")
    assert error.code == "token_request_rejected"
    assert "an empty body" in error.message


def test_error_in_a_200_answer_is_a_rejection():
    error = raised(respond, 200, {"error": "invalid_grant", "error_description": "expired assertion"})
    assert error.code == "token_request_rejected"
    assert "'invalid_grant'" in error.message


def test_long_error_values_are_cut():
    error = raised(respond, 400, {"error": "e" * 500, "error_description": "d" * 5000})
    assert isinstance(error, TokenRequestRejected)
    assert error.error == "e" * 80
    assert len(error.message) < 600


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>ok</html>", "not a JSON object: '<html>ok</html>'"),
        (b'["access_token"]', "not a JSON object"),
        (b"", "not a JSON object: an empty body"),
        (json.dumps({"token_type": "bearer"}).encode(), "without an 'access_token'"),
        (json.dumps({"access_token": "", "token_type": "bearer"}).encode(), "without an 'access_token'"),
        (json.dumps({"access_token": 7, "token_type": "bearer"}).encode(), "without an 'access_token'"),
        (json.dumps({"access_token": "t"}).encode(), "token_type none; expected 'bearer'"),
        (json.dumps({"access_token": "t", "token_type": "mac"}).encode(), "token_type 'mac'; expected 'bearer'"),
        (json.dumps({"access_token": "t", "token_type": ["bearer"]}).encode(), "token_type '[\"bearer\"]'"),
    ],
)
def test_unusable_success_responses(body, fragment):
    error = raised(parse_token_response, 200, body, requested=[SCORE], now=NOW)
    assert isinstance(error, TokenResponseInvalid)
    assert error.code == "token_response_invalid"
    assert fragment in error.message


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=100, max_value=599), st.binary(max_size=200))
def test_any_answer_ends_in_a_token_or_a_typed_error(status, body):
    try:
        token = parse_token_response(status, body, requested=[SCORE], now=NOW)
    except (TokenRequestRejected, TokenResponseInvalid):
        return
    assert 200 <= status < 300
    assert NOW + 1 <= token.expires_at <= NOW + 86_400

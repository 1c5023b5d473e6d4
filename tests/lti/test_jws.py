"""Token shape, header and signature checks of `ltigate.lti.jws` (RFC 7515/7519; lti-reference §2.1, §2.7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from joserfc import jws as joserfc_jws

from ltigate.lti.errors import LtiError
from ltigate.lti.jws import (
    MAX_KID_LENGTH,
    MAX_TOKEN_BYTES,
    Header,
    read_unverified_claims,
    read_unverified_header,
    sign,
    verify_signature,
)
from ltigate.lti.launch import read_unverified_launch


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


def sign_raw(header: dict[str, object], payload: bytes, key) -> str:
    """A real signature over arbitrary payload bytes (for payloads `sign` would never produce)."""
    return joserfc_jws.serialize_compact(header, payload, key.key, algorithms=[key.alg])


# --- header ---------------------------------------------------------------------------------


def test_sign_writes_alg_kid_and_typ(rs_key):
    header = read_unverified_header(sign({"a": 1}, rs_key))

    assert header == Header(alg="RS256", kid="k1", typ="JWT")


def test_sign_with_a_custom_typ(es_key):
    header = read_unverified_header(sign({"a": 1}, es_key, typ="ltigate-ticket+jwt"), ("ES256",))

    assert header == Header(alg="ES256", kid="t1", typ="ltigate-ticket+jwt")


def test_typ_that_is_not_a_string_is_dropped(forge):
    header = read_unverified_header(forge({"alg": "RS256", "kid": "k1", "typ": 7}, {}))

    assert header.typ is None


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_refused(forge, make_claims, alg):
    token = forge({"alg": alg, "kid": "k1", "typ": "JWT"}, make_claims(), b"x")

    error = raised(read_unverified_launch, token)

    assert error.code == "algorithm_not_allowed"
    assert f"alg '{alg}' is not allowed; expected one of RS256" in error.message


def test_alg_none_with_empty_signature_is_refused(forge, make_claims):
    token = forge({"alg": "none", "typ": "JWT"}, make_claims(), b"")
    assert token.endswith(".")

    error = raised(read_unverified_launch, token)

    assert error.code == "token_malformed"
    assert "empty segment" in error.message


def hs256_confusion_token(rs_key, claims: dict[str, object]) -> str:
    """The classic key-confusion forgery: HS256 keyed with the platform's public key as published."""
    secret = rs_key.public_key().key.as_pem(private=False)
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def test_hs256_signed_with_the_public_key_is_refused(rs_key, make_claims):
    token = hs256_confusion_token(rs_key, make_claims())

    error = raised(read_unverified_launch, token)

    assert error.code == "algorithm_not_allowed"
    assert "alg 'HS256' is not allowed" in error.message


def test_hs256_is_refused_even_when_a_caller_allows_it(rs_key, platform_keys, make_claims):
    # The key's own algorithm must match the header, so a careless allow-list cannot reopen the hole.
    token = hs256_confusion_token(rs_key, make_claims())
    launch = read_unverified_launch(token, algorithms=("RS256", "HS256"))
    key = platform_keys.find(launch.header.kid)
    assert key is not None

    error = raised(verify_signature, token, key, launch.header)

    assert error.code == "signature_invalid"
    assert "key 'k1' is for RS256, but the token is signed with HS256" in error.message


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "HS512", "EdDSA"])
def test_algorithms_outside_the_allow_list(forge, alg):
    error = raised(read_unverified_header, forge({"alg": alg, "kid": "k1"}, {}))

    assert error.code == "algorithm_not_allowed"
    assert f"alg '{alg}'" in error.message


@pytest.mark.parametrize("alg", [None, 256, ["RS256"], {"RS256": True}])
def test_alg_that_is_not_a_string(forge, alg):
    error = raised(read_unverified_header, forge({"alg": alg, "kid": "k1"}, {}))

    assert error.code == "algorithm_not_allowed"


def test_crit_header_is_refused(forge):
    error = raised(read_unverified_header, forge({"alg": "RS256", "kid": "k1", "crit": ["exp"], "exp": 1}, {}))

    assert error.code == "token_malformed"
    assert "'crit' extensions, which are not supported" in error.message


@pytest.mark.parametrize("kid", [None, "", 7, ["k1"]])
def test_kid_missing_or_not_a_string(forge, kid):
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}

    error = raised(read_unverified_header, forge(header, {}))

    assert error.code == "kid_missing"
    assert "no 'kid'" in error.message


def test_kid_too_long(forge):
    error = raised(read_unverified_header, forge({"alg": "RS256", "kid": "k" * (MAX_KID_LENGTH + 1)}, {}))

    assert error.code == "token_malformed"
    assert f"has {MAX_KID_LENGTH + 1} characters; at most {MAX_KID_LENGTH}" in error.message


def test_kid_at_the_length_limit_is_accepted(forge):
    assert read_unverified_header(forge({"alg": "RS256", "kid": "k" * MAX_KID_LENGTH}, {})).kid == "k" * MAX_KID_LENGTH


def test_duplicate_member_in_header(forge):
    header = b'{"alg":"RS256","kid":"k1","alg":"none"}'

    error = raised(read_unverified_header, forge(header, {}))

    assert error.code == "token_malformed"
    assert "repeats the member 'alg'" in error.message


@pytest.mark.parametrize("pointer", [{"jku": "https://evil.test/jwks"}, {"x5u": "https://evil.test/cert.pem"}])
def test_headers_pointing_at_other_keys_do_not_choose_the_key(rs_key, rs_key_other, platform_keys, pointer):
    forged = sign_raw({"alg": "RS256", "kid": "k1", **pointer}, b'{"iss":"x"}', rs_key_other)
    genuine = sign_raw({"alg": "RS256", "kid": "k1", **pointer}, b'{"iss":"x"}', rs_key)

    error = raised(verify_signature, forged, platform_keys.find("k1"), read_unverified_header(forged))

    assert error.code == "signature_invalid"
    assert verify_signature(genuine, platform_keys.find("k1"), read_unverified_header(genuine)) == {"iss": "x"}


def test_embedded_jwk_header_is_not_trusted(rs_key_other, platform_keys):
    token = sign_raw({"alg": "RS256", "kid": "k1", "jwk": rs_key_other.public_jwk()}, b'{"iss":"x"}', rs_key_other)

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    # joserfc refuses headers over 512 bytes before looking at the signature; either way it fails.
    assert error.code in {"signature_invalid", "token_malformed"}


# --- shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "segments"),
    [("", 1), ("abc", 1), ("a.b", 2), ("a.b.c.d", 4), ("a.b.c.d.e", 5)],
)
def test_segment_count(token, segments):
    error = raised(read_unverified_header, token)

    assert error.code == "token_malformed"
    assert f"the token has {segments} segments; a signed JWT has 3" in error.message


def test_two_segment_token_from_a_real_one(rs_key, make_claims):
    head, body, _ = sign(make_claims(), rs_key).split(".")

    error = raised(read_unverified_launch, f"{head}.{body}")

    assert error.code == "token_malformed"
    assert "has 2 segments" in error.message


@pytest.mark.parametrize("token", [".b.c", "a..c", "a.b.", ".."])
def test_empty_segment(token):
    error = raised(read_unverified_header, token)

    assert error.code == "token_malformed"
    assert "empty segment" in error.message


def test_oversize_token(rs_key, make_claims):
    token = sign(make_claims(padding="x" * MAX_TOKEN_BYTES), rs_key)

    error = raised(read_unverified_launch, token)

    assert error.code == "token_too_large"
    assert error.status == 413
    assert f"at most {MAX_TOKEN_BYTES} are accepted" in error.message


def test_token_exactly_at_the_size_limit_is_not_refused_for_size(forge):
    head = b64url(b'{"alg":"RS256","kid":"k1"}')
    token = f"{head}.e30.{'A' * (MAX_TOKEN_BYTES - len(head) - 5)}"
    assert len(token) == MAX_TOKEN_BYTES

    assert read_unverified_header(token).kid == "k1"


@pytest.mark.parametrize("segment", ["ä", "\x00", "a b c"])
def test_header_that_is_not_base64url(segment):
    error = raised(read_unverified_header, f"{segment}.e30.c2ln")

    assert error.code == "token_malformed"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "the token header is not JSON"),
        (b"\xff\xfe\x00", "the token header is not JSON"),
        (b"[1, 2]", "the token header is not a JSON object"),
        (b'"RS256"', "the token header is not a JSON object"),
        (b"null", "the token header is not a JSON object"),
    ],
)
def test_header_that_is_not_a_json_object(forge, raw, fragment):
    error = raised(read_unverified_header, forge(raw, {}))

    assert error.code == "token_malformed"
    assert fragment in error.message


def test_deeply_nested_header_is_malformed_not_a_crash():
    raw = b'{"alg":"RS256","kid":"k1","x":' + b"[" * 20_000 + b"]" * 20_000 + b"}"

    error = raised(read_unverified_header, f"{b64url(raw)}.e30.c2ln")

    assert error.code == "token_malformed"
    assert "the token header is not JSON" in error.message


# --- payload --------------------------------------------------------------------------------


def test_unverified_claims_are_read(forge):
    assert read_unverified_claims(forge({"alg": "RS256", "kid": "k1"}, {"iss": "x"})) == {"iss": "x"}


@pytest.mark.parametrize(("raw", "fragment"), [(b"[]", "not a JSON object"), (b"{", "payload is not JSON")])
def test_payload_that_is_not_a_json_object(forge, raw, fragment):
    error = raised(read_unverified_claims, forge({"alg": "RS256", "kid": "k1"}, raw))

    assert error.code == "token_malformed"
    assert fragment in error.message


def test_duplicate_member_in_payload_before_verification(rs_key):
    payload = b'{"iss":"https://lms.example.edu","aud":"tool-client-1","iss":"https://evil.test"}'
    token = sign_raw({"alg": "RS256", "kid": "k1"}, payload, rs_key)

    error = raised(read_unverified_launch, token)

    assert error.code == "token_malformed"
    assert "the token repeats the member 'iss'" in error.message


def test_duplicate_member_in_a_validly_signed_payload(rs_key, platform_keys):
    payload = b'{"sub":"u-1","https://purl.imsglobal.org/spec/lti/claim/roles":[],"sub":"admin"}'
    token = sign_raw({"alg": "RS256", "kid": "k1"}, payload, rs_key)
    header = read_unverified_header(token)

    error = raised(verify_signature, token, platform_keys.find("k1"), header)

    assert error.code == "token_malformed"
    assert "repeats the member 'sub'" in error.message


def test_duplicate_member_in_a_nested_object(rs_key):
    payload = b'{"iss":"x","aud":"y","ctx":{"id":"1","id":"2"}}'
    token = sign_raw({"alg": "RS256", "kid": "k1"}, payload, rs_key)

    error = raised(read_unverified_claims, token)

    assert error.code == "token_malformed"
    assert "repeats the member 'id'" in error.message


def test_signed_payload_that_is_not_an_object(rs_key, platform_keys):
    token = sign_raw({"alg": "RS256", "kid": "k1"}, b"[1,2,3]", rs_key)

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    assert error.code == "token_malformed"
    assert "the token payload is not a JSON object" in error.message


# --- signature ------------------------------------------------------------------------------


def test_signature_round_trip(rs_key, platform_keys, make_claims):
    token = sign(make_claims(), rs_key)

    assert verify_signature(token, platform_keys.find("k1"), read_unverified_header(token)) == make_claims()


def test_signature_by_another_key(rs_key_other, platform_keys, make_claims):
    token = sign(make_claims(), rs_key_other)

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    assert error.code == "signature_invalid"
    assert error.status == 401
    assert "the signature does not verify with key 'k1'" in error.message


def test_payload_swapped_between_tokens(rs_key, platform_keys, make_claims):
    head, _, signature = sign(make_claims(sub="u-1"), rs_key).split(".")
    _, body, _ = sign(make_claims(sub="admin"), rs_key).split(".")
    token = f"{head}.{body}.{signature}"

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    assert error.code == "signature_invalid"


def test_truncated_signature(rs_key, platform_keys, make_claims):
    token = sign(make_claims(), rs_key)[:-4]

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    assert error.code in {"signature_invalid", "token_malformed"}


def test_signature_that_is_not_base64url(rs_key, platform_keys, make_claims):
    head, body, signature = sign(make_claims(), rs_key).split(".")
    token = f"{head}.{body}.{signature[:10]}+/{signature[12:]}"

    error = raised(verify_signature, token, platform_keys.find("k1"), read_unverified_header(token))

    assert error.code in {"signature_invalid", "token_malformed"}


def test_key_for_another_algorithm(rs_key, es_key, make_claims):
    token = sign(make_claims(), rs_key)

    error = raised(verify_signature, token, es_key.public_key(), read_unverified_header(token))

    assert error.code == "signature_invalid"
    assert "key 't1' is for ES256, but the token is signed with RS256" in error.message

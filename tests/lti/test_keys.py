"""JWK and key set parsing of `ltigate.lti.keys` (RFC 7517, RFC 7638; lti-reference §10)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from ltigate.lti.errors import LtiError
from ltigate.lti.jws import read_unverified_header, sign, verify_signature
from ltigate.lti.keys import MAX_KEYS, KeySet, PublicKey, key_set_document, load_signing_key, parse_key_set, thumbprint


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def small_rsa_jwk() -> dict[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.warns(SecurityWarning):  # joserfc warns, and we are about to check that we refuse it
        jwk = {k: str(v) for k, v in RSAKey.import_key(pem).as_dict(private=False).items()}
    return {**jwk, "kid": "small", "alg": "RS256", "use": "sig"}


def test_public_jwk_has_only_public_members(rs_key):
    jwk = rs_key.public_jwk()

    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["kid"], jwk["alg"], jwk["use"]) == ("RSA", "k1", "RS256", "sig")


def test_public_ec_jwk(es_key):
    jwk = es_key.public_jwk()

    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert "d" not in jwk


def test_key_set_round_trip(rs_key, es_key):
    keys = parse_key_set(key_set_document([rs_key.public_jwk(), es_key.public_jwk()]))

    assert isinstance(keys, KeySet)
    assert keys.kids == ("k1", "t1")
    assert keys.find("k1") == PublicKey(kid="k1", alg="RS256", key=keys.find("k1").key)
    assert keys.find("t1").alg == "ES256"
    assert keys.find("nope") is None


@pytest.mark.parametrize("document_type", [bytes, str, dict])
def test_key_set_from_bytes_text_or_mapping(rs_key, document_type):
    document = key_set_document([rs_key.public_jwk()])
    raw = {bytes: json.dumps(document).encode(), str: json.dumps(document), dict: document}[document_type]

    assert parse_key_set(raw).kids == ("k1",)


def test_parsed_key_verifies_what_the_signing_key_signed(rs_key, es_key):
    for key in (rs_key, es_key):
        token = sign({"x": 1}, key)
        public = parse_key_set(key_set_document([key.public_jwk()])).find(key.kid)
        assert verify_signature(token, public, read_unverified_header(token, (key.alg,))) == {"x": 1}


def test_key_without_kid_is_skipped(rs_key, rs_key_other):
    anonymous = {k: v for k, v in rs_key_other.public_jwk().items() if k != "kid"}
    empty_kid = {**rs_key_other.public_jwk(), "kid": ""}

    keys = parse_key_set({"keys": [anonymous, empty_kid, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


def test_rsa_key_under_2048_bits_is_skipped(rs_key, small_rsa_jwk):
    keys = parse_key_set({"keys": [small_rsa_jwk, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


def test_key_set_of_only_small_keys_is_invalid(small_rsa_jwk):
    error = raised(parse_key_set, {"keys": [small_rsa_jwk]})

    assert error.code == "jwks_invalid"
    assert "holds no usable signing key (of 1 examined)" in error.message


def test_encryption_key_is_skipped(rs_key, rs_key_other):
    keys = parse_key_set({"keys": [{**rs_key_other.public_jwk(), "kid": "enc", "use": "enc"}, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


@pytest.mark.parametrize(
    "entry",
    [
        {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kid": "no-kty", "n": "AQAB", "e": "AQAB"},
        "not an object",
        ["RSA"],
        None,
    ],
    ids=["oct", "OKP", "no kty", "string", "list", "null"],
)
def test_unusable_entries_are_skipped(rs_key, entry):
    keys = parse_key_set({"keys": [entry, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


def test_key_without_alg_infers_rs256(rs_key):
    # D2L publishes keys without `alg` (lti-reference §11).
    jwk = {k: v for k, v in rs_key.public_jwk().items() if k not in ("alg", "use")}

    key = parse_key_set({"keys": [jwk]}).find("k1")

    assert key is not None and key.alg == "RS256"
    token = sign({"x": 1}, rs_key)
    assert verify_signature(token, key, read_unverified_header(token)) == {"x": 1}


def test_ec_key_without_alg_infers_es256(es_key):
    jwk = {k: v for k, v in es_key.public_jwk().items() if k != "alg"}

    assert parse_key_set({"keys": [jwk]}).find("t1").alg == "ES256"


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "HS256", "none"])
def test_rsa_key_for_another_algorithm_is_skipped(rs_key, rs_key_other, alg):
    keys = parse_key_set({"keys": [{**rs_key_other.public_jwk(), "kid": "other", "alg": alg}, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


def test_ec_key_on_another_curve_is_skipped(rs_key):
    p384 = {k: str(v) for k, v in ECKey.generate_key("P-384").as_dict(private=False).items()}

    keys = parse_key_set({"keys": [{**p384, "kid": "p384"}, rs_key.public_jwk()]})

    assert keys.kids == ("k1",)


def test_broken_key_material_is_skipped(rs_key):
    broken = {**rs_key.public_jwk(), "kid": "broken", "n": "!!!"}
    numbers = {**rs_key.public_jwk(), "kid": "numbers", "e": 65537}

    assert parse_key_set({"keys": [broken, numbers, rs_key.public_jwk()]}).kids == ("k1",)


def test_private_members_are_not_kept(rs_key):
    private = {k: str(v) for k, v in rs_key.key.as_dict(private=True).items()}

    key = parse_key_set({"keys": [{**private, "kid": "k1"}]}).find("k1")

    assert key is not None
    assert not key.key.is_private


def test_first_key_wins_for_a_repeated_kid(rs_key, rs_key_other):
    keys = parse_key_set({"keys": [rs_key.public_jwk(), rs_key_other.public_jwk()]})

    token = sign({"x": 1}, rs_key)
    assert verify_signature(token, keys.find("k1"), read_unverified_header(token)) == {"x": 1}


def test_at_most_max_keys_are_read(rs_key):
    jwk = rs_key.public_jwk()
    entries = [{**jwk, "kid": f"k{i}"} for i in range(MAX_KEYS + 5)]

    keys = parse_key_set({"keys": entries})

    assert len(keys.kids) == MAX_KEYS
    assert keys.find(f"k{MAX_KEYS}") is None


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"not json", "the key set is not JSON"),
        ("{", "the key set is not JSON"),
        (b"\xff\xfe", "the key set is not JSON"),
        ("[]", "the key set is not a JSON object"),
        ("null", "the key set is not a JSON object"),
        ("{}", "the key set has no 'keys' list"),
        ({"keys": {"k1": {}}}, "the key set has no 'keys' list"),
        ({"keys": None}, "the key set has no 'keys' list"),
        ({"keys": []}, "the key set holds no usable signing key (of 0 examined)"),
    ],
)
def test_invalid_key_set(document, fragment):
    error = raised(parse_key_set, document)

    assert error.code == "jwks_invalid"
    assert error.status == 502
    assert fragment in error.message


def test_load_signing_key_from_pem(rs_key, es_key):
    rsa_loaded = load_signing_key(rs_key.private_pem(), "RS256")
    ec_loaded = load_signing_key(es_key.private_pem(), "ES256", kid="tickets-1")

    assert rsa_loaded.kid == thumbprint(rs_key.key)
    assert rsa_loaded.public_jwk()["n"] == rs_key.public_jwk()["n"]
    assert ec_loaded.kid == "tickets-1"
    assert ec_loaded.public_jwk()["x"] == es_key.public_jwk()["x"]


def test_thumbprint_is_rfc7638():
    # RFC 7638 §3.1 example key and thumbprint.
    key = RSAKey.import_key(
        {
            "kty": "RSA",
            "n": (
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
                "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
                "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
                "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
            ),
            "e": "AQAB",
        }
    )

    assert thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

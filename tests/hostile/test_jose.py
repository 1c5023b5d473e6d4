"""Hostile JOSE headers and payloads (RFC 7515 §4.1, lti-reference §2.1): `jku`, `x5u`, `jwk`, `x5c` never
choose the key and are never fetched; `crit` is refused; a `kid` with path or SQL characters is an opaque name
that finds no key, without a fetch storm; nested, huge and duplicate-member JSON is refused or read safely; a
wrong `typ` is ignored and cannot turn one kind of token into another. First in the protocol core, then
through /lti/launch against a served gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from ltigate.lti.errors import LtiError
from ltigate.lti.jws import Header, read_unverified_claims, read_unverified_header, sign, verify_signature
from ltigate.lti.keys import KeySet, SigningKey, parse_key_set
from ltigate.lti.launch import read_unverified_launch
from tests.hostile.conftest import Env, Register, Registered, Trap, b64url, fresh_login, sign_with_header, target
from tests.support.platform import Browser, error_code, new_key

KID = "platform-key-1"
POINTERS = ["jku", "x5u", "jwk", "x5c"]
HOSTILE_KIDS = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "' OR 1=1 --",
    "'; DROP TABLE platforms; --",
    '" OR ""="',
    "%2e%2e%2f%2e%2e%2f",
    "k1/../k1",
    "*",
    "%",
    "<script>alert(1)</script>",
    "file:///etc/passwd",
    "https://evil.test/jwks.json",
]
CRIT = [
    {"crit": ["https://evil.test/ext"], "https://evil.test/ext": True},
    {"crit": ["b64"], "b64": False},  # RFC 7797: an unencoded payload
    {"crit": []},
    {"crit": ["exp"], "exp": 1},
    {"crit": "b64"},
    {"crit": None},
]


@pytest.fixture(scope="module")
def platform_key() -> SigningKey:
    return SigningKey(kid=KID, alg="RS256", key=new_key().key)


@pytest.fixture(scope="module")
def attacker_key() -> SigningKey:
    return new_key()


@pytest.fixture(scope="module")
def key_set(platform_key: SigningKey) -> KeySet:
    return parse_key_set({"keys": [platform_key.public_jwk()]})


def raised(run: Callable[..., object], *args: object) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args)
    return caught.value


def pointer_header(name: str, kid: str, attacker_key: SigningKey) -> dict[str, object]:
    """A header naming `kid` and pointing, by `name`, at the attacker's key."""
    value: object = {
        "jku": "https://evil.test/jwks.json",
        "x5u": "https://evil.test/cert.pem",
        "jwk": attacker_key.public_jwk(),
        "x5c": ["MIIBszCCAVmgAwIBAgIUQ0FGRUJBQkU="],
    }[name]
    return {"alg": "RS256", "kid": kid, "typ": "JWT", name: value}


# --- the protocol core -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", POINTERS)
def test_key_pointers_do_not_choose_the_key(
    name: str, platform_key: SigningKey, attacker_key: SigningKey, key_set: KeySet
) -> None:
    forged = sign_with_header(pointer_header(name, KID, attacker_key), {"iss": "x"}, attacker_key)
    genuine = sign_with_header(pointer_header(name, KID, attacker_key), {"iss": "x"}, platform_key)
    header = read_unverified_header(forged)
    key = key_set.find(header.kid)
    assert key is not None

    assert header == Header(alg="RS256", kid=KID, typ="JWT")  # nothing of the pointer is kept
    assert raised(verify_signature, forged, key, header).code == "signature_invalid"
    assert verify_signature(genuine, key, read_unverified_header(genuine)) == {"iss": "x"}


@pytest.mark.parametrize("extra", CRIT, ids=lambda e: json.dumps(e))
def test_crit_is_refused_whatever_it_names(extra: dict[str, object], platform_key: SigningKey) -> None:
    token = sign_with_header({"alg": "RS256", "kid": KID, **extra}, {"iss": "x"}, platform_key)

    error = raised(read_unverified_header, token)

    assert error.code == "token_malformed"
    assert "'crit' extensions, which are not supported" in error.message


@pytest.mark.parametrize("kid", HOSTILE_KIDS)
def test_hostile_kids_are_opaque_names_that_find_no_key(kid: str, platform_key: SigningKey, key_set: KeySet) -> None:
    token = sign_with_header({"alg": "RS256", "kid": kid}, {"iss": "x"}, platform_key)

    assert read_unverified_header(token).kid == kid
    assert key_set.find(kid) is None


@pytest.mark.parametrize("kid", ["platform-key-1 ", " platform-key-1", "PLATFORM-KEY-1", "platform\u2010key\u20101"])
def test_a_kid_matches_only_exactly(kid: str, key_set: KeySet) -> None:
    assert key_set.find(kid) is None


@pytest.mark.parametrize("kid", ["\x00", "platform-key-1\x00", "\ud800"])
def test_kid_with_nul_or_a_lone_surrogate_is_malformed(kid: str) -> None:
    token = ".".join([b64url(json.dumps({"alg": "RS256", "kid": kid}).encode()), "e30", "c2ln"])

    error = raised(read_unverified_header, token)

    assert error.code == "token_malformed"
    assert "holds a NUL character or an unpaired surrogate" in error.message


@pytest.mark.parametrize("depth", [5_000, 20_000])
def test_deeply_nested_payload_is_malformed_not_a_crash(depth: int, platform_key: SigningKey, key_set: KeySet) -> None:
    payload = b'{"iss":"x","aud":"y","n":' + b"[" * depth + b"]" * depth + b"}"
    token = sign_with_header({"alg": "RS256", "kid": KID}, payload, platform_key)

    for run, args in [
        (read_unverified_claims, (token,)),
        (verify_signature, (token, key_set.find(KID), read_unverified_header(token))),
    ]:
        error = raised(run, *args)
        assert error.code == "token_malformed"
        assert "the token payload is not JSON" in error.message


def test_many_members_with_a_duplicate_at_the_end_are_refused_quickly(platform_key: SigningKey) -> None:
    members = ",".join(f'"m{i}":0' for i in range(4_800))
    unique = sign_with_header({"alg": "RS256", "kid": KID}, ('{"iss":"x",' + members + "}").encode(), platform_key)
    repeated = ('{"iss":"x",' + members + ',"m4799":1}').encode()
    token = sign_with_header({"alg": "RS256", "kid": KID}, repeated, platform_key)
    assert len(token) < 64 * 1024

    began = time.perf_counter()
    read_unverified_claims(unique)
    reading = time.perf_counter() - began
    began = time.perf_counter()
    error = raised(read_unverified_claims, token)
    refusing = time.perf_counter() - began

    assert error.code == "token_malformed" and "repeats the member 'm4799'" in error.message
    # Finding the repeated member was quadratic: ~0.25 s of CPU per request, ~50 times the reading.
    assert refusing < 5 * reading + 0.02


@pytest.mark.parametrize(
    "payload",
    [
        b'{"iss":"https://lms.test","\\u0069ss":"https://evil.test"}',  # the same name, spelled as an escape
        b'{"aud":"a","aud":["a","b"]}',
        b'{"x":{"sub":"1","sub":"2"}}',
        b'{"x":[{"a":1},{"a":1,"a":2}]}',
    ],
)
def test_duplicate_members_however_spelled_are_refused(payload: bytes, platform_key: SigningKey) -> None:
    token = sign_with_header({"alg": "RS256", "kid": KID}, payload, platform_key)

    error = raised(read_unverified_claims, token)

    assert error.code == "token_malformed"
    assert "repeats the member" in error.message


@pytest.mark.parametrize("typ", ["at+jwt", "JWS", "ltigate-ticket+jwt", "jwt", "", 7, {"a": 1}, ["JWT"]])
def test_a_wrong_typ_is_ignored_and_the_signature_still_decides(
    typ: object, platform_key: SigningKey, attacker_key: SigningKey, key_set: KeySet
) -> None:
    header = {"alg": "RS256", "kid": KID, "typ": typ}
    genuine = sign_with_header(header, {"iss": "x"}, platform_key)
    forged = sign_with_header(header, {"iss": "x"}, attacker_key)
    key = key_set.find(KID)
    assert key is not None

    assert read_unverified_header(genuine).typ == (typ if isinstance(typ, str) else None)
    assert verify_signature(genuine, key, read_unverified_header(genuine)) == {"iss": "x"}
    assert raised(verify_signature, forged, key, read_unverified_header(forged)).code == "signature_invalid"


def test_a_handoff_ticket_is_not_an_id_token() -> None:
    # Tickets are ES256 with typ ltigate-ticket+jwt; id_tokens are RS256 only, whatever the typ says.
    ticket_key = SigningKey(kid="t1", alg="ES256", key=ECKey.generate_key("P-256"))
    ticket = sign(
        {"iss": "https://gateway.test", "aud": "client-1", "sub": "l-1"}, ticket_key, typ="ltigate-ticket+jwt"
    )

    assert raised(read_unverified_launch, ticket).code == "algorithm_not_allowed"


json_bytes = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
).map(lambda value: json.dumps(value).encode())


@settings(max_examples=200, deadline=None)
@given(
    header=st.one_of(
        st.fixed_dictionaries({"alg": st.just("RS256"), "kid": st.just(KID)}).map(lambda h: json.dumps(h).encode()),
        json_bytes,
        st.binary(max_size=80),
    ),
    payload=st.one_of(json_bytes, st.binary(max_size=200)),
    signature=st.binary(max_size=300),
)
def test_any_token_through_the_whole_parser_ends_in_an_lti_error_or_claims(
    platform_key: SigningKey, key_set: KeySet, header: bytes, payload: bytes, signature: bytes
) -> None:
    token = f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}"
    try:
        parsed = read_unverified_header(token)
        read_unverified_claims(token)
        key = key_set.find(parsed.kid)
        if key is None:  # another kid: the key set cache's business (KidNotFound)
            return
        verify_signature(token, key, parsed)
    except LtiError as error:
        assert error.code in {"token_malformed", "algorithm_not_allowed", "kid_missing", "signature_invalid"}
    else:
        raise AssertionError("a random signature verified")


# --- through /lti/launch -------------------------------------------------------------------------------


def launch_with(
    browser: Browser, reg: Registered, header: dict[str, object], key: SigningKey | None = None, **overrides: object
) -> httpx.Response:
    """A real login, then a token with `header` and the claims (with `overrides`), signed with `key` (by default
    the platform's)."""
    login = fresh_login(browser, reg)
    claims = reg.platform.claims(nonce=login.nonce, target_link_uri=target(browser), **overrides)
    token = sign_with_header(header, claims, key or reg.platform.signing_key)
    return browser.http.post("/lti/launch", data={"id_token": token, "state": login.state})


def expect(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, error_code(response)) == (status, code), response.text[:500]


@pytest.mark.parametrize("name", POINTERS)
def test_launch_never_fetches_a_key_the_token_points_at(
    env: Env, approved: Registered, browser: Browser, trap: Trap, name: str
) -> None:
    attacker = trap.key
    pointer = {
        "jku": f"{trap.url}/jwks.json",
        "x5u": f"{trap.url}/cert.pem",
        "jwk": attacker.public_jwk(),
        "x5c": ["MIIBszCCAVmgAwIBAgIUQ0FGRUJBQkU="],
    }[name]
    own_kid = approved.platform.signing_key.kid

    # The attacker's key under its own kid: the platform's key set has no such key.
    header = {"alg": "RS256", "kid": attacker.kid, "typ": "JWT", name: pointer}
    expect(launch_with(browser, approved, header, key=attacker), 400, "kid_not_found")
    # The attacker's key under the platform's kid: the platform's key refuses the signature.
    header = {"alg": "RS256", "kid": own_kid, "typ": "JWT", name: pointer}
    forged = SigningKey(kid=own_kid, alg="RS256", key=attacker.key)
    expect(launch_with(browser, approved, header, key=forged), 401, "signature_invalid")
    # Signed by the platform, the pointer is ignored and the launch goes through.
    response = launch_with(browser, approved, header)
    assert response.status_code == 303, response.text[:300]

    assert trap.requests == []


@pytest.mark.parametrize("extra", CRIT[:3], ids=lambda e: json.dumps(e))
def test_launch_with_crit_is_refused(
    env: Env, approved: Registered, browser: Browser, extra: dict[str, object]
) -> None:
    header = {"alg": "RS256", "kid": approved.platform.signing_key.kid, "typ": "JWT", **extra}

    response = launch_with(browser, approved, header)

    expect(response, 400, "token_malformed")
    assert "extensions, which are not supported" in response.text


def test_launch_with_hostile_kids_finds_no_key_and_fetches_within_the_cooldown(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register()
    cooldown = env.gateway.settings.jwks_refetch_cooldown_seconds
    began = time.monotonic()
    for kid in HOSTILE_KIDS * 3:
        token = sign_with_header(
            {"alg": "RS256", "kid": kid}, {"iss": reg.platform.issuer, "aud": "client-1"}, reg.platform.signing_key
        )
        response = browser.http.post("/lti/launch", data={"id_token": token, "state": "s"})
        expect(response, 400, "kid_not_found")
        assert "<script>" not in response.text  # the kid is quoted, escaped
    elapsed = time.monotonic() - began

    # One fetch for the first lookup, then at most one per cooldown: never one per bogus kid.
    assert 1 <= reg.platform.jwks_fetches <= 2 + int(elapsed / cooldown)
    assert reg.platform.jwks_fetches < len(HOSTILE_KIDS)


def test_launch_with_a_duplicate_member_in_the_signed_payload(approved: Registered, browser: Browser) -> None:
    login = fresh_login(browser, approved)
    claims = approved.platform.claims(nonce=login.nonce, target_link_uri=target(browser))
    body = json.dumps(claims)[:-1] + ', "sub": "admin"}'
    token = sign_with_header(
        {"alg": "RS256", "kid": approved.platform.signing_key.kid}, body.encode(), approved.platform.signing_key
    )

    response = browser.http.post("/lti/launch", data={"id_token": token, "state": login.state})

    expect(response, 400, "token_malformed")
    assert "the token repeats the member" in response.text


def test_launch_with_a_duplicate_member_in_the_header(approved: Registered, browser: Browser) -> None:
    kid = approved.platform.signing_key.kid
    head = f'{{"alg":"RS256","kid":"{kid}","alg":"none"}}'.encode()
    token = f"{b64url(head)}.{b64url(json.dumps({'iss': approved.platform.issuer}).encode())}.c2ln"

    expect(browser.http.post("/lti/launch", data={"id_token": token, "state": "s"}), 400, "token_malformed")


@pytest.mark.parametrize("depth", [100, 900, 5_000])
def test_launch_with_deeply_nested_claims(approved: Registered, browser: Browser, depth: int) -> None:
    login = fresh_login(browser, approved)
    claims = approved.platform.claims(nonce=login.nonce, target_link_uri=target(browser))
    payload = (
        json.dumps(claims)[:-1] + ', "https://vendor.example/deep": ' + '{"a":' * depth + '"x"' + "}" * depth + "}"
    )
    token = sign_with_header(
        {"alg": "RS256", "kid": approved.platform.signing_key.kid}, payload.encode(), approved.platform.signing_key
    )

    response = browser.http.post("/lti/launch", data={"id_token": token, "state": login.state})

    if response.status_code != 303:  # too deep to read: refused as malformed, never a crash
        expect(response, 400, "token_malformed")
    assert depth > 900 or response.status_code == 303


@pytest.mark.parametrize("typ", ["at+jwt", "ltigate-ticket+jwt", 7, None])
def test_launch_with_a_wrong_typ_is_decided_by_signature_and_claims(
    approved: Registered, browser: Browser, typ: object
) -> None:
    header = {"alg": "RS256", "kid": approved.platform.signing_key.kid}
    if typ is not None:
        header["typ"] = typ

    assert launch_with(browser, approved, header).status_code == 303  # LTI lets platforms omit or vary typ
    expect(launch_with(browser, approved, header, aud="someone-else"), 401, "audience_mismatch")


def test_tickets_and_id_tokens_do_not_stand_in_for_each_other(env: Env, approved: Registered, browser: Browser) -> None:
    login = fresh_login(browser, approved)
    id_token = approved.platform.token(approved.platform.claims(nonce=login.nonce, target_link_uri=target(browser)))
    response = browser.http.post("/lti/launch", data={"id_token": id_token, "state": login.state})
    ticket = httpx.URL(response.headers["location"]).params["ticket"]

    again = browser.http.post("/lti/launch", data={"id_token": ticket, "state": login.state})
    expect(again, 400, "algorithm_not_allowed")
    with httpx.Client(base_url=env.gateway.url, headers={"Authorization": f"Bearer {env.api_key}"}) as api:
        redeemed = api.post("/api/v1/tickets/redeem", json={"ticket": id_token})
    assert redeemed.status_code == 401
    assert redeemed.json()["error"]["code"] == "ticket_invalid"

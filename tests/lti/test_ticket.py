"""Handoff tickets of `ltigate.lti.ticket`: ES256 JWTs with which a verified launch reaches the app."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey

from ltigate.lti.errors import LtiError, TicketError
from ltigate.lti.jws import read_unverified_claims, read_unverified_header, sign
from ltigate.lti.keys import SigningKey, parse_key_set
from ltigate.lti.ticket import LAUNCH_CLAIM, TICKET_TYP, Ticket, issue_ticket, read_ticket

GATEWAY = "https://gateway.example.com"
NOW = 1_700_000_000


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def ticket_keys(es_key):
    return parse_key_set({"keys": [es_key.public_jwk()]})


def issue(key: SigningKey, **overrides: object) -> str:
    options: dict[str, object] = {
        "issuer": GATEWAY,
        "audience": "https://app.example.com",
        "launch_id": "launch-1",
        "jti": "jti-1",
        "summary": {"deployment_id": "dep-1", "roles": ["Learner"]},
        "now": NOW,
        "ttl": 60,
        "key": key,
    }
    options.update(overrides)
    return issue_ticket(**options)  # type: ignore[arg-type]


def test_round_trip(es_key, ticket_keys):
    token = issue(es_key)

    assert read_ticket(token, ticket_keys, issuer=GATEWAY, now=NOW + 30) == Ticket(
        launch_id="launch-1", jti="jti-1", expires_at=NOW + 60
    )


def test_ticket_header_and_claims(es_key):
    token = issue(es_key)

    header = read_unverified_header(token, ("ES256",))
    assert (header.alg, header.kid, header.typ) == ("ES256", "t1", TICKET_TYP)
    assert read_unverified_claims(token) == {
        "iss": GATEWAY,
        "aud": "https://app.example.com",
        "sub": "launch-1",
        "jti": "jti-1",
        "iat": NOW,
        "exp": NOW + 60,
        LAUNCH_CLAIM: {"deployment_id": "dep-1", "roles": ["Learner"]},
    }


@pytest.mark.parametrize("later", [60, 61, 3600])
def test_expired(es_key, ticket_keys, later):
    error = raised(read_ticket, issue(es_key), ticket_keys, issuer=GATEWAY, now=NOW + later)

    assert error.code == "ticket_expired"
    assert error.status == 401
    assert f"the ticket expired at {NOW + 60}; it is now {NOW + later}" in error.message


def test_last_valid_second(es_key, ticket_keys):
    assert read_ticket(issue(es_key), ticket_keys, issuer=GATEWAY, now=NOW + 59.9).launch_id == "launch-1"


def test_wrong_issuer(es_key, ticket_keys):
    error = raised(read_ticket, issue(es_key), ticket_keys, issuer="https://other-gateway.example.com", now=NOW)

    assert error.code == "ticket_invalid"
    assert "the ticket was not issued by this gateway" in error.message


def test_key_not_in_set(ticket_keys):
    stranger = SigningKey(kid="t2", alg="ES256", key=ECKey.generate_key("P-256"))

    error = raised(read_ticket, issue(stranger), ticket_keys, issuer=GATEWAY, now=NOW)

    assert error.code == "ticket_invalid"
    assert "ticket key 't2' is not one of this gateway's ticket keys" in error.message


def test_other_key_under_our_kid(ticket_keys):
    impostor = SigningKey(kid="t1", alg="ES256", key=ECKey.generate_key("P-256"))

    error = raised(read_ticket, issue(impostor), ticket_keys, issuer=GATEWAY, now=NOW)

    assert error.code == "ticket_invalid"
    assert "the ticket is not valid: the signature does not verify with key 't1'" in error.message


def test_rs256_token_is_not_a_ticket(rs_key, ticket_keys):
    error = raised(read_ticket, issue(rs_key), ticket_keys, issuer=GATEWAY, now=NOW)

    assert error.code == "ticket_invalid"
    assert "the ticket is not valid: alg 'RS256' is not allowed; expected one of ES256" in error.message


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "a.b.c"])
def test_garbage_is_a_ticket_error(ticket_keys, token):
    error = raised(read_ticket, token, ticket_keys, issuer=GATEWAY, now=NOW)

    assert isinstance(error, TicketError)
    assert error.code == "ticket_invalid"
    assert error.message.startswith("the ticket is not valid: ")


@pytest.mark.parametrize("missing", ["exp", "sub", "jti"])
def test_ticket_lacking_a_claim(es_key, ticket_keys, missing):
    claims = {"iss": GATEWAY, "sub": "launch-1", "jti": "j", "iat": NOW, "exp": NOW + 60}
    del claims[missing]

    error = raised(read_ticket, sign(claims, es_key, typ=TICKET_TYP), ticket_keys, issuer=GATEWAY, now=NOW)

    assert error.code == "ticket_invalid"
    assert "the ticket lacks exp, sub or jti" in error.message

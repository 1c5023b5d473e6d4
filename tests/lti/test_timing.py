"""`exp`, `iat` and `nbf` against a caller-given clock (RFC 7519 §4.1.4–4.1.6; lti-reference §2.7 step 10)."""

from __future__ import annotations

import json

import pytest

from ltigate.lti.errors import LtiError
from ltigate.lti.jws import sign
from ltigate.lti.timing import check_times

NOW = 1_700_000_100


def raised(run, *args, **kwargs) -> LtiError:
    with pytest.raises(LtiError) as caught:
        run(*args, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": NOW, "exp": NOW + 1},
        {"iat": NOW - 300, "exp": NOW + 300},
        {"iat": float(NOW), "exp": NOW + 0.5},
        {"iat": NOW, "exp": NOW + 60, "nbf": NOW},
        {"iat": 0, "exp": NOW + 1},
    ],
)
def test_valid_times(claims):
    check_times(claims, now=NOW, leeway=0)


@pytest.mark.parametrize(
    ("exp", "leeway", "expired"),
    [(NOW, 0, True), (NOW + 1, 0, False), (NOW - 5, 5, True), (NOW - 4, 5, False), (NOW - 4.5, 5, False)],
)
def test_expiry_with_leeway(exp, leeway, expired):
    claims = {"iat": NOW - 100, "exp": exp}
    if expired:
        error = raised(check_times, claims, now=NOW, leeway=leeway)
        assert error.code == "token_expired"
        assert f"the token expired at {int(exp)}" in error.message
    else:
        check_times(claims, now=NOW, leeway=leeway)


@pytest.mark.parametrize(("iat", "rejected"), [(NOW + 5, False), (NOW + 6, True), (NOW + 5.01, True)])
def test_future_iat_with_leeway(iat, rejected):
    claims = {"iat": iat, "exp": NOW + 600}
    if rejected:
        error = raised(check_times, claims, now=NOW, leeway=5)
        assert error.code == "token_not_yet_valid"
        assert "in the future" in error.message
    else:
        check_times(claims, now=NOW, leeway=5)


def test_nbf_with_leeway():
    check_times({"iat": NOW, "exp": NOW + 600, "nbf": NOW + 5}, now=NOW, leeway=5)

    error = raised(check_times, {"iat": NOW, "exp": NOW + 600, "nbf": NOW + 6}, now=NOW, leeway=5)
    assert error.code == "token_not_yet_valid"
    assert f"the token is not valid before {NOW + 6}; it is now {NOW}" in error.message


def test_expiry_is_checked_before_issue_time():
    error = raised(check_times, {"iat": NOW + 1000, "exp": NOW - 1000}, now=NOW, leeway=0)

    assert error.code == "token_expired"


@pytest.mark.parametrize("name", ["exp", "iat"])
def test_required_time_claim(name):
    claims = {"iat": NOW, "exp": NOW + 60}
    del claims[name]

    error = raised(check_times, claims, now=NOW, leeway=0)

    assert error.code == "claim_missing"
    assert f"the token has no '{name}' claim" in error.message


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["1700000000", True, False, [NOW], {"t": NOW}])
def test_time_claim_of_the_wrong_type(name, value):
    claims: dict[str, object] = {"iat": NOW, "exp": NOW + 60, name: value}

    error = raised(check_times, claims, now=NOW, leeway=0)

    assert error.code == "token_malformed"
    assert f"'{name}' must be a NumericDate" in error.message


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 400])
def test_time_claim_that_is_not_finite(name, literal):
    # Python's json reads these; an infinite or NaN `exp` would otherwise never expire.
    claims = json.loads(f'{{"iat": {NOW}, "exp": {NOW + 60}, "{name}": {literal}}}')

    error = raised(check_times, claims, now=NOW, leeway=0)

    assert error.code == "token_malformed"
    assert f"'{name}' must be a finite NumericDate" in error.message


def test_signed_token_with_nan_expiry_is_refused(rs_key, make_claims, verify):
    # json.dumps writes NaN, so a platform library could sign one.
    token = sign(make_claims(exp=float("nan")), rs_key)

    error = raised(verify, token)

    assert error.code == "token_malformed"
    assert "'exp' must be a finite NumericDate" in error.message

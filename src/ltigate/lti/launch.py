"""Validation of a platform's id_token, in the order of Security Framework §5.1.3 (lti-reference §2.7).

`read_unverified_launch` parses the untrusted token just enough to choose a registration and a key;
`verify_id_token` checks the signature first and only then the claims; the caller consumes the state
and compares the nonce with `check_nonce` after the signature has been verified.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ltigate.lti.errors import (
    AudienceMismatch,
    AuthorizedPartyMismatch,
    ClaimMissing,
    IssuerMismatch,
    NonceMismatch,
    ResourceParameterMissing,
    TargetLinkUriMismatch,
)
from ltigate.lti.jws import ALLOWED_ALGORITHMS, Header, read_unverified_claims, read_unverified_header, verify_signature
from ltigate.lti.keys import PublicKey
from ltigate.lti.timing import check_times


@dataclass(frozen=True, slots=True)
class UnverifiedLaunch:
    """An id_token whose signature has not been checked yet: use only to pick registration and key."""

    token: str
    header: Header
    issuer: str
    audiences: tuple[str, ...]


def read_unverified_launch(id_token: str, algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS) -> UnverifiedLaunch:
    """Parse shape, header (alg allow-list, kid) and the routing claims `iss` and `aud`."""
    header = read_unverified_header(id_token, algorithms)
    claims = read_unverified_claims(id_token)
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise ClaimMissing("the token has no 'iss' claim")
    return UnverifiedLaunch(token=id_token, header=header, issuer=issuer, audiences=_audiences(claims))


def _audiences(claims: Mapping[str, object]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str) and aud:
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return tuple(str(a) for a in aud)
    raise ClaimMissing("the token has no 'aud' claim (a string or an array of strings)")


def verify_id_token(
    launch: UnverifiedLaunch, key: PublicKey, *, issuer: str, client_id: str, now: float, leeway: float
) -> dict[str, object]:
    """Verify signature, then `iss`, `aud`/`azp`, `exp`/`iat`/`nbf`; return the verified claims.

    `aud` may be a string or an array and must contain `client_id`. With several audiences `azp` is
    required and must equal `client_id`; with one audience a differing `azp` is tolerated (Blackboard
    sends one). Raises SignatureInvalid, IssuerMismatch, AudienceMismatch, AuthorizedPartyMismatch,
    TokenExpired, TokenNotYetValid, ClaimMissing or TokenMalformed.
    """
    claims = verify_signature(launch.token, key, launch.header)
    if claims.get("iss") != issuer:
        raise IssuerMismatch(f"iss '{str(claims.get('iss'))[:200]}' does not equal the registered issuer '{issuer}'")
    audiences = _audiences(claims)
    if client_id not in audiences:
        raise AudienceMismatch(f"aud {list(audiences)[:5]} does not contain the client_id '{client_id}'")
    azp = claims.get("azp")
    if len(audiences) > 1:
        if azp is None:
            raise AuthorizedPartyMismatch(f"aud has {len(audiences)} values but no 'azp' names the client")
        if azp != client_id:
            raise AuthorizedPartyMismatch(f"azp '{str(azp)[:200]}' does not equal the client_id '{client_id}'")
    check_times(claims, now=now, leeway=leeway)
    return claims


def check_nonce(claims: Mapping[str, object], expected: str) -> None:
    """The `nonce` claim must equal the nonce issued with this login's state (constant-time compare)."""
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise ClaimMissing("the token has no 'nonce' claim")
    if not hmac.compare_digest(nonce.encode(), expected.encode()):
        raise NonceMismatch("the token's nonce is not the one issued for this login")


def check_target_link_uri(claimed: str, requested: str | None) -> None:
    """The signed `target_link_uri` must equal the one of the login initiation (LTI Core §5.4.1)."""
    if requested is not None and claimed != requested:
        raise TargetLinkUriMismatch(
            f"target_link_uri '{claimed[:300]}' differs from the one at login '{requested[:300]}'"
        )


def read_resource_slug(target_link_uri: str, launch_url: str) -> str:
    """The `resource` query parameter of a target link URI pointing at our launch URL.

    Raises ResourceParameterMissing when the URI has none (the bare launch URL was pasted into the LMS)
    and TargetLinkUriMismatch when it points elsewhere.
    """
    slug = read_optional_resource_slug(target_link_uri, launch_url)
    if slug is None:
        raise ResourceParameterMissing(
            f"target_link_uri '{target_link_uri[:300]}' has no 'resource' parameter; "
            f"use the resource's own URL, e.g. {launch_url}?resource=<slug>"
        )
    return slug


def read_optional_resource_slug(target_link_uri: str, launch_url: str) -> str | None:
    """Like read_resource_slug, but None for the bare launch URL (deep linking's picker)."""
    target, ours = urlsplit(target_link_uri), urlsplit(launch_url)
    if (target.scheme, target.netloc.lower(), target.path.rstrip("/")) != (
        ours.scheme,
        ours.netloc.lower(),
        ours.path.rstrip("/"),
    ):
        raise TargetLinkUriMismatch(
            f"target_link_uri '{target_link_uri[:300]}' is not this gateway's launch URL '{launch_url}'"
        )
    values = parse_qs(target.query).get("resource")
    return values[0] if values and values[0] else None

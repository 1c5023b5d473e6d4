"""Handoff tickets: the short-lived signed JWT with which a verified launch is handed to the app.

The app verifies a ticket with the gateway's ticket key set, or redeems it once through the API.
Claims: iss (gateway base URL), aud (the resource's app URL origin), sub (the launch id), jti,
iat, exp, plus `https://ltigate.dev/claim/launch` with a summary of the launch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ltigate.lti.errors import LtiError, TicketError, TicketExpired
from ltigate.lti.jws import read_unverified_header, sign, verify_signature
from ltigate.lti.keys import KeySet, SigningKey

LAUNCH_CLAIM: Final = "https://ltigate.dev/claim/launch"
TICKET_ALGORITHMS: Final = ("ES256",)
TICKET_TYP: Final = "ltigate-ticket+jwt"


@dataclass(frozen=True, slots=True)
class Ticket:
    launch_id: str
    jti: str
    expires_at: int


def issue_ticket(
    *,
    issuer: str,
    audience: str,
    launch_id: str,
    jti: str,
    summary: Mapping[str, object],
    now: int,
    ttl: int,
    key: SigningKey,
) -> str:
    """Sign a ticket for `launch_id`, valid for `ttl` seconds from `now`."""
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": launch_id,
        "jti": jti,
        "iat": now,
        "exp": now + ttl,
        LAUNCH_CLAIM: dict(summary),
    }
    return sign(claims, key, typ=TICKET_TYP)


def read_ticket(token: str, keys: KeySet, *, issuer: str, now: float) -> Ticket:
    """Verify a ticket's signature, issuer and expiry. Raises TicketError or TicketExpired."""
    try:
        header = read_unverified_header(token, TICKET_ALGORITHMS)
        key = keys.find(header.kid)
        if key is None:
            raise TicketError(f"ticket key '{header.kid[:60]}' is not one of this gateway's ticket keys")
        claims = verify_signature(token, key, header)
    except TicketError:
        raise
    except LtiError as exc:  # every token error means the same to the app: not a valid ticket
        raise TicketError(f"the ticket is not valid: {exc}") from None
    if claims.get("iss") != issuer:
        raise TicketError("the ticket was not issued by this gateway")
    exp, sub, jti = claims.get("exp"), claims.get("sub"), claims.get("jti")
    if not isinstance(exp, int) or not isinstance(sub, str) or not isinstance(jti, str):
        raise TicketError("the ticket lacks exp, sub or jti")
    if now >= exp:
        raise TicketExpired(f"the ticket expired at {exp}; it is now {int(now)}")
    return Ticket(launch_id=sub, jti=jti, expires_at=exp)

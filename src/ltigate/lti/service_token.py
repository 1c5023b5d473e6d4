"""Service access tokens: the client-credentials request with a signed JWT assertion and its answer
(RFC 6749 §4.4 and §5, RFC 7523; Security Framework §4.1.1; LTI Core §6.2; lti-reference §3).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ltigate.lti import claims as c
from ltigate.lti.errors import TokenRequestRejected, TokenResponseInvalid
from ltigate.lti.jws import sign
from ltigate.lti.keys import SigningKey

GRANT_TYPE: Final = "client_credentials"
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_ASSERTION_TTL: Final = 300
MAX_ASSERTION_TTL: Final = 3600
DEFAULT_EXPIRES_IN: Final = 3600.0  # RFC 6749 makes expires_in optional; 3600 s is the LTI recommendation
MIN_EXPIRES_IN: Final = 1.0
MAX_EXPIRES_IN: Final = 86_400.0  # a token claiming to live for months is renewed daily all the same

# What an operator can do about each RFC 6749 §5.2 error code.
_HINTS: Final = {
    "invalid_client": "the platform did not accept the client assertion: check the client_id, the tool's key set "
    "URL and the token audience registered for this platform",
    "invalid_scope": "the platform granted none of the requested scopes: enable the service for this tool in the LMS",
    "unauthorized_client": "the platform does not let this client use the client_credentials grant",
    "invalid_grant": "the platform refused the client assertion as a grant",
    "unsupported_grant_type": "the platform does not support the client_credentials grant at this endpoint",
    "invalid_request": "the platform found the token request malformed",
}


@dataclass(frozen=True, slots=True)
class GrantedToken:
    """An access token from a successful token response; the token itself is opaque and kept out of repr."""

    access_token: str = field(repr=False)
    token_type: str
    scopes: tuple[str, ...]
    expires_at: float


def build_client_assertion(
    *,
    client_id: str,
    audience: str,
    key: SigningKey,
    now: int,
    jti: str,
    deployment_id: str | None = None,
    ttl: int = DEFAULT_ASSERTION_TTL,
) -> str:
    """Sign the JWT a tool presents to the token endpoint (RFC 7523 §3; lti-reference §3).

    `iss` and `sub` are both `client_id` (D2L enforces it); `aud` is a single string, because D2L fails on
    a list. The deployment_id claim is added only when given. Raises ValueError for an empty client_id,
    audience or jti, or a ttl outside 1..3600 s.
    """
    if not client_id or not audience or not jti:
        raise ValueError("a client assertion needs a client_id, an audience and a jti")
    if not 0 < ttl <= MAX_ASSERTION_TTL:
        raise ValueError(f"the assertion ttl {ttl} s is outside 1..{MAX_ASSERTION_TTL} s")
    payload: dict[str, object] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": jti,
    }
    if deployment_id is not None:
        payload[c.DEPLOYMENT_ID] = deployment_id
    return sign(payload, key)


def scope_key(scopes: Iterable[str]) -> str:
    """The canonical form of a scope set: space-separated, deduplicated, sorted (a cache key and the `scope` field)."""
    return " ".join(sorted({part for scope in scopes for part in scope.split()}))


def token_request_form(assertion: str, scopes: Sequence[str]) -> dict[str, str]:
    """The form fields of the token request (RFC 6749 §4.4.2 with RFC 7523 §2.2), the scopes in canonical order.

    Raises ValueError when no scope is given: Moodle refuses an empty `scope`, and a token for nothing is useless.
    """
    scope = scope_key(scopes)
    if not scope:
        raise ValueError("a token request needs at least one scope")
    return {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": scope,
    }


def parse_token_response(status: int, body: bytes, *, requested: Sequence[str], now: float) -> GrantedToken:
    """Read the token endpoint's answer (RFC 6749 §5.1, §5.2).

    A non-2xx answer, or a 2xx one carrying `error` and no token, raises TokenRequestRejected with the
    RFC 6749 `error` and `error_description` when present. A 2xx answer that is not a JSON object, lacks
    `access_token`, or has a `token_type` other than bearer (any case) raises TokenResponseInvalid.
    The granted scopes are the response `scope` when present, else `requested`. `expires_in` defaults to
    3600 s and is clamped to 1 s..24 h.
    """
    document = _json_object(body)
    if not 200 <= status < 300 or (document is not None and "error" in document and "access_token" not in document):
        raise _rejection(status, body, document)
    if document is None:
        raise TokenResponseInvalid(
            f"the token endpoint answered {status} with a body that is not a JSON object: {_snippet(body)}"
        )
    access_token = document.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseInvalid(f"the token endpoint answered {status} without an 'access_token'")
    token_type = document.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenResponseInvalid(f"the token endpoint gave token_type {_quote(token_type)}; expected 'bearer'")
    granted = document.get("scope")
    scopes = scope_key([granted] if isinstance(granted, str) and granted.strip() else requested)
    return GrantedToken(
        access_token=access_token,
        token_type=token_type,
        scopes=tuple(scopes.split()),
        expires_at=now + _expires_in(document.get("expires_in")),
    )


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _expires_in(value: object) -> float:
    if isinstance(value, str):  # some servers send "3600"
        try:
            value = float(value)
        except ValueError:
            return DEFAULT_EXPIRES_IN
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return DEFAULT_EXPIRES_IN
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if math.isnan(number):
        return DEFAULT_EXPIRES_IN
    return min(max(number, MIN_EXPIRES_IN), MAX_EXPIRES_IN)


def _rejection(status: int, body: bytes, document: dict[str, object] | None) -> TokenRequestRejected:
    error = document.get("error") if document is not None else None
    description = document.get("error_description") if document is not None else None
    error = error[:80] if isinstance(error, str) and error else None
    description = description[:200] if isinstance(description, str) and description else None
    if error is None:
        message = f"the token endpoint answered {status} without an OAuth error code: {_snippet(body)}"
    else:
        message = f"the token endpoint answered {status} with error {_quote(error)}"
        if description is not None:
            message += f" ({_quote(description)})"
        if error in _HINTS:
            message += f": {_HINTS[error]}"
    return TokenRequestRejected(message, response_status=status, error=error, error_description=description)


def _quote(value: object, limit: int = 200) -> str:
    if value is None:
        return "none"
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text[:limit])


def _snippet(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return repr(text) if text else "an empty body"

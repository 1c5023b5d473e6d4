"""Compact JWS tokens: shape, header and signature (RFC 7515/7519; lti-reference §2.1, §2.7 steps 3–7).

`read_unverified_header` and `read_unverified_claims` parse untrusted input for routing only;
`verify_signature` is the one place a payload becomes trusted. Algorithms come from an allow-list;
`none` and HMAC are never accepted. Headers that point at other keys (`jku`, `x5u`, `jwk`, `x5c`)
are ignored; a `crit` header is refused because we implement no extensions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError

from ltigate.lti.errors import (
    AlgorithmNotAllowed,
    KidMissing,
    SignatureInvalid,
    TokenMalformed,
    TokenTooLarge,
)
from ltigate.lti.keys import PublicKey, SigningKey

MAX_TOKEN_BYTES: Final = 64 * 1024
MAX_KID_LENGTH: Final = 255
ALLOWED_ALGORITHMS: Final = ("RS256",)

Claims = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Header:
    alg: str
    kid: str
    typ: str | None


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("the token is not base64url-encoded") from None


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [name for name, _ in pairs]
        duplicate = next(name for name in names if names.count(name) > 1)
        raise TokenMalformed(f"the token repeats the member '{duplicate[:80]}'")
    return result


def _json_object(raw: bytes, part: str) -> dict[str, object]:
    try:
        value = json.loads(raw, object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise TokenMalformed(f"the token {part} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenMalformed(f"the token {part} is not a JSON object")
    return value


def _segments(token: str) -> list[str]:
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenTooLarge(f"the token has {len(token)} characters; at most {MAX_TOKEN_BYTES} are accepted")
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenMalformed(f"the token has {len(segments)} segments; a signed JWT has 3")
    if not all(segments):
        raise TokenMalformed("the token has an empty segment; a signed JWT has a header, a payload and a signature")
    return segments


def read_unverified_header(token: str, algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS) -> Header:
    """Parse the JOSE header of an untrusted token.

    Raises TokenTooLarge, TokenMalformed, AlgorithmNotAllowed (alg not in `algorithms`, which never
    holds `none` or HS*), or KidMissing.
    """
    header = _json_object(_b64decode(_segments(token)[0]), "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise AlgorithmNotAllowed(f"alg '{str(alg)[:40]}' is not allowed; expected one of {', '.join(algorithms)}")
    if "crit" in header:
        raise TokenMalformed("the token header has 'crit' extensions, which are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KidMissing("the token header has no 'kid'; platforms must name the signing key")
    if len(kid) > MAX_KID_LENGTH:
        raise TokenMalformed(f"the token 'kid' has {len(kid)} characters; at most {MAX_KID_LENGTH}")
    typ = header.get("typ")
    return Header(alg=alg, kid=kid, typ=typ if isinstance(typ, str) else None)


def read_unverified_claims(token: str) -> dict[str, object]:
    """Parse the payload of an untrusted token, for choosing a registration only."""
    return _json_object(_b64decode(_segments(token)[1]), "payload")


def verify_signature(token: str, key: PublicKey, header: Header) -> dict[str, object]:
    """Verify the signature of `token` with `key` and return its payload.

    The key's own algorithm must equal the header's. Raises SignatureInvalid or TokenMalformed.
    """
    if key.alg != header.alg:
        raise SignatureInvalid(f"key '{key.kid}' is for {key.alg}, but the token is signed with {header.alg}")
    try:
        obj = jws.deserialize_compact(token, key.key, algorithms=[key.alg])
    except BadSignatureError:
        raise SignatureInvalid(f"the signature does not verify with key '{key.kid}'") from None
    except (JoseError, ValueError):
        raise TokenMalformed("the token could not be decoded") from None
    return _json_object(obj.payload, "payload")


def sign(claims: Mapping[str, object], key: SigningKey, typ: str = "JWT") -> str:
    """Sign `claims` as a compact JWT with `key`, naming its `kid`."""
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": typ}, dict(claims), key.key, algorithms=[key.alg])

"""Compact JWS tokens: shape, header and signature (RFC 7515/7519; lti-reference §2.1, §2.7 steps 3–7).

`read_unverified_header` and `read_unverified_claims` parse untrusted input for routing only;
`verify_signature` is the one place a payload becomes trusted. Algorithms come from an allow-list;
`none` and HMAC are never accepted. Headers that point at other keys (`jku`, `x5u`, `jwk`, `x5c`)
are ignored; a `crit` header is refused because we implement no extensions. Header and payload must be
JSON objects without repeated members, NUL characters or unpaired surrogates.

Signing and verifying call `cryptography` directly for the two algorithms we use (RS256, ES256): the
primitive is the key's own algorithm, never one named by the token, and the header is parsed by our
own code above. joserfc still parses and exports keys (docs/decisions/0001-jose-library.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from ltigate.lti.errors import (
    AlgorithmNotAllowed,
    KidMissing,
    SignatureInvalid,
    TokenMalformed,
    TokenTooLarge,
)
from ltigate.lti.keys import PublicKey, SigningKey
from ltigate.lti.text import may_hold_unstorable_text, storable

MAX_TOKEN_BYTES: Final = 64 * 1024
MAX_KID_LENGTH: Final = 255
ALLOWED_ALGORITHMS: Final = ("RS256",)
ES256_HALF: Final = 32  # bytes of r and of s in an ES256 signature (RFC 7518 §3.4)
# The primitives' parameters, built once (immutable descriptors; building them per call showed in profiles).
_SHA256: Final = SHA256()
_PKCS1: Final = padding.PKCS1v15()
_ECDSA: Final = ec.ECDSA(_SHA256)
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
# The last character of an unpadded segment with 2 (or 1) bytes in its last quantum: unused bits are zero.
_CANONICAL_ENDINGS: Final = ("AEIMQUYcgkosw048", "AQgw")

Claims = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Header:
    alg: str
    kid: str
    typ: str | None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode_strict(segment: str) -> bytes:
    """Canonical base64url only (RFC 7515 §2: no padding, no other alphabet, unused bits zero), so that no
    two spellings of a signed token verify."""
    pad = -len(segment) % 4
    if not _BASE64URL.fullmatch(segment) or pad == 3 or (pad and segment[-1] not in _CANONICAL_ENDINGS[pad - 1]):
        raise TokenMalformed("the token is not canonical base64url")
    return base64.urlsafe_b64decode(segment + "=" * pad)


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("the token is not base64url-encoded") from None


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:  # linear: a 64 KB token of members must not cost seconds to refuse
            if name in seen:
                raise TokenMalformed(f"the token repeats the member '{name[:80]}'")
            seen.add(name)
    return result


def _json_object(raw: bytes, part: str) -> dict[str, object]:
    try:
        value = json.loads(raw, object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise TokenMalformed(f"the token {part} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenMalformed(f"the token {part} is not a JSON object")
    if may_hold_unstorable_text(raw) and not storable(value):
        raise TokenMalformed(f"the token {part} holds a NUL character or an unpaired surrogate (\\u0000, \\ud800)")
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
    header_segment, payload_segment, signature_segment = _segments(token)
    _b64decode_strict(header_segment)
    payload, signature = _b64decode_strict(payload_segment), _b64decode_strict(signature_segment)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    if not _signature_verifies(key, signing_input, signature):
        raise SignatureInvalid(f"the signature does not verify with key '{key.kid}'")
    return _json_object(payload, "payload")


def _signature_verifies(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    public = key.key.public_key
    try:
        if key.alg == "RS256" and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, signing_input, _PKCS1, _SHA256)
            return True
        if key.alg == "ES256" and isinstance(public, ec.EllipticCurvePublicKey) and _es256_shaped(public, signature):
            r, s = int.from_bytes(signature[:ES256_HALF], "big"), int.from_bytes(signature[ES256_HALF:], "big")
            public.verify(encode_dss_signature(r, s), signing_input, _ECDSA)
            return True
    except InvalidSignature:
        return False
    return False


def _es256_shaped(public: ec.EllipticCurvePublicKey, signature: bytes) -> bool:
    return isinstance(public.curve, ec.SECP256R1) and len(signature) == 2 * ES256_HALF


def sign(claims: Mapping[str, object], key: SigningKey, typ: str = "JWT") -> str:
    """Sign `claims` as a compact JWT with `key` (RS256 or ES256), naming its `kid`."""
    header = {"alg": key.alg, "kid": key.kid, "typ": typ}
    signing_input = f"{_b64encode(_compact_json(header))}.{_b64encode(_compact_json(claims))}"
    private = key.key.private_key
    if key.alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        signature = private.sign(signing_input.encode("ascii"), _PKCS1, _SHA256)
    elif key.alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(signing_input.encode("ascii"), _ECDSA))
        signature = r.to_bytes(ES256_HALF, "big") + s.to_bytes(ES256_HALF, "big")
    else:
        raise ValueError(f"key '{key.kid}' cannot sign {key.alg}")
    return f"{signing_input}.{_b64encode(signature)}"


def _compact_json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")

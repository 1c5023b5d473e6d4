"""JSON Web Keys and key sets (RFC 7517, RFC 7638; lti-reference §10, Security Framework §6).

Only RSA keys of at least 2048 bits for RS256 (platforms and tools) and P-256 keys for ES256 (handoff
tickets) are accepted. Keys are parsed once and reused; parsing is the expensive part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from ltigate.lti.errors import KeySetInvalid

MIN_RSA_BITS: Final = 2048
# JWK `kty` → the algorithm used when a key carries no `alg` (D2L omits it; lti-reference §2.7 step 7).
_ALG_FOR_KTY: Final = {"RSA": "RS256", "EC": "ES256"}
MAX_KEYS: Final = 100

PublicJwk = dict[str, str]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verification key with its `kid` and the single algorithm it may verify."""

    kid: str
    alg: str
    key: RSAKey | ECKey


@dataclass(frozen=True, slots=True)
class KeySet:
    """Public keys by `kid`."""

    keys: Mapping[str, PublicKey]

    def find(self, kid: str) -> PublicKey | None:
        return self.keys.get(kid)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self.keys)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key used to sign, with the `kid` it is published under."""

    kid: str
    alg: str
    key: RSAKey | ECKey

    def public_jwk(self) -> PublicJwk:
        """The public half as a JWK with `kid`, `alg` and `use`."""
        jwk = {k: str(v) for k, v in self.key.as_dict(private=False).items() if k in _PUBLIC_MEMBERS}
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk

    def public_key(self) -> PublicKey:
        return PublicKey(kid=self.kid, alg=self.alg, key=_import_public(self.public_jwk()))

    def private_pem(self) -> bytes:
        return self.key.as_pem(private=True)


_PUBLIC_MEMBERS: Final = frozenset({"kty", "n", "e", "crv", "x", "y"})


def thumbprint(key: RSAKey | ECKey) -> str:
    """The RFC 7638 SHA-256 thumbprint, used as `kid` for keys we generate."""
    return key.thumbprint()


def load_signing_key(pem: bytes, alg: str, kid: str | None = None) -> SigningKey:
    """Load a PEM private key for `alg` (RS256 or ES256); `kid` defaults to the thumbprint."""
    key: RSAKey | ECKey = RSAKey.import_key(pem) if alg == "RS256" else ECKey.import_key(pem)
    return SigningKey(kid=kid or thumbprint(key), alg=alg, key=key)


def parse_key_set(document: bytes | str | Mapping[str, object]) -> KeySet:
    """Parse a JWKS document into a KeySet.

    Raises KeySetInvalid when the document is not JSON, has no `keys` list, or holds no usable key.
    Keys without `kid`, of other types, for encryption, or RSA keys under 2048 bits are skipped.
    """
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise KeySetInvalid(f"the key set is not JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise KeySetInvalid("the key set is not a JSON object")
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeySetInvalid("the key set has no 'keys' list")
    found: dict[str, PublicKey] = {}
    for entry in entries[:MAX_KEYS]:
        key = _parse_entry(entry)
        if key is not None and key.kid not in found:
            found[key.kid] = key
    if not found:
        raise KeySetInvalid(f"the key set holds no usable signing key (of {min(len(entries), MAX_KEYS)} examined)")
    return KeySet(keys=found)


def _parse_entry(entry: object) -> PublicKey | None:
    if not isinstance(entry, Mapping):
        return None
    kid, kty, use = entry.get("kid"), entry.get("kty"), entry.get("use", "sig")
    if not isinstance(kid, str) or not kid or use != "sig" or not isinstance(kty, str) or kty not in _ALG_FOR_KTY:
        return None
    alg = entry.get("alg", _ALG_FOR_KTY[str(kty)])
    if alg not in ("RS256", "ES256") or _ALG_FOR_KTY[str(kty)] != alg:
        return None
    if kty == "EC" and entry.get("crv") != "P-256":  # ES256 is defined on P-256 only (RFC 7518 §3.4)
        return None
    members = {k: v for k, v in entry.items() if k in _PUBLIC_MEMBERS and isinstance(v, str)}
    # Refuse short RSA moduli before importing: 2048 bits are about 342 base64url characters.
    if kty == "RSA" and len(members.get("n", "")) < MIN_RSA_BITS * 4 // 24:
        return None
    try:
        key = _import_public(members)
    except (JoseError, ValueError, TypeError):
        return None
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        return None
    return PublicKey(kid=kid, alg=str(alg), key=key)


def _import_public(members: Mapping[str, str]) -> RSAKey | ECKey:
    if members.get("kty") == "RSA":
        return RSAKey.import_key(dict(members))
    return ECKey.import_key(dict(members))


def key_set_document(keys: list[PublicJwk]) -> dict[str, list[PublicJwk]]:
    """The JWKS JSON document for `keys`."""
    return {"keys": keys}

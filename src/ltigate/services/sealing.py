"""Encryption at rest for private keys and secrets: AES-256-GCM under a key derived from the instance
secret key with HKDF-SHA256, a fresh 96-bit nonce per seal, and the purpose bound as associated data.
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION: Final = b"\x01"
_NONCE_BYTES: Final = 12


class UnsealError(Exception):
    """A sealed value cannot be opened: wrong secret key, or the value was altered."""


class Sealer:
    def __init__(self, secret_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ltigate sealing v1").derive(secret_key)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def unseal(self, sealed: bytes, purpose: str) -> bytes:
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise UnsealError("the sealed value has an unknown format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, purpose.encode())
        except InvalidTag:
            raise UnsealError(
                "the sealed value does not open with this secret key (was LTIGATE_SECRET_KEY changed?)"
            ) from None

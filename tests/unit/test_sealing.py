"""Encryption at rest: sealed values open only with the same secret key and purpose."""

from __future__ import annotations

import pytest

from ltigate.services.sealing import Sealer, UnsealError


def test_round_trip_and_fresh_nonces() -> None:
    sealer = Sealer(b"k" * 32)
    first, second = sealer.seal(b"private key", "tool-key:a"), sealer.seal(b"private key", "tool-key:a")
    assert first != second and b"private key" not in first
    assert sealer.unseal(first, "tool-key:a") == b"private key"


def test_another_secret_key_or_purpose_or_a_flipped_bit_fails() -> None:
    sealed = Sealer(b"k" * 32).seal(b"private key", "tool-key:a")
    with pytest.raises(UnsealError, match="LTIGATE_SECRET_KEY"):
        Sealer(b"j" * 32).unseal(sealed, "tool-key:a")
    with pytest.raises(UnsealError):
        Sealer(b"k" * 32).unseal(sealed, "tool-key:b")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(UnsealError):
        Sealer(b"k" * 32).unseal(tampered, "tool-key:a")
    with pytest.raises(UnsealError, match="unknown format"):
        Sealer(b"k" * 32).unseal(b"\x02" + sealed[1:], "tool-key:a")

"""The tool's own signing keys: generated on first start, stored sealed, published as JWKS, rotated.

Rotation publishes a `next` key first; promoting it makes it sign and retires the old key, which stays
published for the configured overlap so platforms holding cached key sets keep verifying.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc.jwk import ECKey, RSAKey

from ltigate.lti.keys import PublicJwk, SigningKey, load_signing_key, thumbprint
from ltigate.services.ports import Clock, KeyStore
from ltigate.services.records import KeyPurpose, KeyState, ToolKey
from ltigate.services.sealing import Sealer

_ALG = {KeyPurpose.LTI: "RS256", KeyPurpose.TICKET: "ES256"}


@dataclass(frozen=True, slots=True)
class RotationResult:
    activated: str | None
    published_next: str
    retired: tuple[str, ...]


class ToolKeys:
    """Keeps the active signing key per purpose in memory; reload() after another process rotated."""

    def __init__(self, store: KeyStore, sealer: Sealer, clock: Clock, overlap_seconds: float) -> None:
        self._store, self._sealer, self._clock, self._overlap = store, sealer, clock, overlap_seconds
        self._signing: dict[KeyPurpose, SigningKey] = {}
        self._published: dict[KeyPurpose, list[PublicJwk]] = {}

    def _generate(self, purpose: KeyPurpose, state: KeyState) -> ToolKey:
        key: RSAKey | ECKey = RSAKey.generate_key(2048) if purpose is KeyPurpose.LTI else ECKey.generate_key("P-256")
        signing = SigningKey(kid=thumbprint(key), alg=_ALG[purpose], key=key)
        now = self._clock()
        return ToolKey(
            kid=signing.kid,
            purpose=purpose,
            alg=signing.alg,
            state=state,
            public_jwk=signing.public_jwk(),
            sealed_private_key=self._sealer.seal(signing.private_pem(), f"tool-key:{signing.kid}"),
            created_at=now,
            activated_at=now if state is KeyState.ACTIVE else None,
        )

    async def ensure(self) -> None:
        """Generate an active and a published `next` key per purpose where missing, then load.

        A `next` key is always published ahead, so a rotation switches to a key platforms have seen.
        """
        for purpose in KeyPurpose:
            keys = await self._store.list(purpose)
            if not any(k.state is KeyState.ACTIVE for k in keys):
                await self._store.add(self._generate(purpose, KeyState.ACTIVE))
            if not any(k.state is KeyState.NEXT for k in keys):
                await self._store.add(self._generate(purpose, KeyState.NEXT))
        await self.reload()

    async def reload(self) -> None:
        now = self._clock()
        for purpose in KeyPurpose:
            keys = await self._store.list(purpose)
            active = sorted((k for k in keys if k.state is KeyState.ACTIVE), key=lambda k: k.activated_at or 0)
            if active:
                newest = active[-1]
                pem = self._sealer.unseal(newest.sealed_private_key, f"tool-key:{newest.kid}")
                self._signing[purpose] = load_signing_key(pem, newest.alg, newest.kid)
            self._published[purpose] = [
                dict(k.public_jwk) for k in keys if k.state is not KeyState.RETIRED or (k.retire_at or 0) > now
            ]

    def signing_key(self, purpose: KeyPurpose) -> SigningKey:
        return self._signing[purpose]

    def published(self, purpose: KeyPurpose) -> list[PublicJwk]:
        return list(self._published.get(purpose, []))

    async def stored(self) -> list[ToolKey]:
        """Every stored key of both purposes (`next`, active, and retired ones not yet dropped), for administrators."""
        return [key for purpose in KeyPurpose for key in await self._store.list(purpose)]

    async def rotate(self, purpose: KeyPurpose = KeyPurpose.LTI) -> RotationResult:
        """Promote the published `next` key to signing, retire the old active key (still published for
        the overlap), and publish a fresh `next` key. Without a `next` key only a new one is published.
        """
        keys = await self._store.list(purpose)
        now = self._clock()
        pending = [k for k in keys if k.state is KeyState.NEXT]
        activated, retired = None, []
        if pending:
            promoted = pending[0]
            for old in keys:
                if old.state is KeyState.ACTIVE:
                    await self._store.set_state(old.kid, KeyState.RETIRED, now, retire_at=now + self._overlap)
                    retired.append(old.kid)
            await self._store.set_state(promoted.kid, KeyState.ACTIVE, now)
            activated = promoted.kid
        fresh = self._generate(purpose, KeyState.NEXT)
        await self._store.add(fresh)
        await self._store.drop_retired(now)
        await self.reload()
        return RotationResult(activated=activated, published_next=fresh.kid, retired=tuple(retired))

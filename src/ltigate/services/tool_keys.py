"""The tool's own signing keys: generated on first start, stored sealed, published as JWKS, rotated.

Rotation publishes a `next` key first; promoting it makes it sign and retires the old key, which stays
published for the configured overlap so platforms holding cached key sets keep verifying. A process whose
secret key does not open the stored keys (it missed `ltigate rotate-secret`) refuses to add any.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc.jwk import ECKey, RSAKey

from ltigate.lti.keys import PublicJwk, SigningKey, load_signing_key, thumbprint
from ltigate.services.errors import SecretKeyMismatch
from ltigate.services.ports import Clock, KeyStore
from ltigate.services.records import KeyPurpose, KeyState, ToolKey
from ltigate.services.sealing import Sealer, UnsealError

_ALG = {KeyPurpose.LTI: "RS256", KeyPurpose.TICKET: "ES256"}


def seal_purpose(kid: str) -> str:
    """The purpose a tool key's private key is sealed for (bound to its kid)."""
    return f"tool-key:{kid}"


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
        self._loaded: dict[KeyPurpose, tuple[str, bytes]] = {}  # the kid and sealed bytes each signing key came from

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
            sealed_private_key=self._sealer.seal(signing.private_pem(), seal_purpose(signing.kid)),
            created_at=now,
            activated_at=now if state is KeyState.ACTIVE else None,
        )

    def _open(self, key: ToolKey) -> bytes:
        """The private key's PEM; raises SecretKeyMismatch when it does not open with this secret key."""
        try:
            return self._sealer.unseal(key.sealed_private_key, seal_purpose(key.kid))
        except UnsealError:
            raise SecretKeyMismatch(
                f"the {key.purpose.value} signing key '{key.kid}' does not open with this process's secret key: "
                "the database is sealed with another one (after `ltigate rotate-secret`, restart every server "
                "and worker with the new key)"
            ) from None

    async def ensure(self) -> None:
        """Generate an active and a published `next` key per purpose where missing, then load.

        A `next` key is always published ahead, so a rotation switches to a key platforms have seen.
        Raises SecretKeyMismatch, before adding anything, when the stored keys do not open.
        """
        for purpose in KeyPurpose:
            keys = await self._store.list(purpose)
            missing = [state for state in (KeyState.ACTIVE, KeyState.NEXT) if all(k.state is not state for k in keys)]
            if keys and missing:
                self._open(keys[-1])  # a key sealed with another secret would not open on the other nodes
            for state in missing:
                await self._store.add(self._generate(purpose, state))
        await self.reload()

    async def reload(self) -> None:
        now = self._clock()
        for purpose in KeyPurpose:
            keys = await self._store.list(purpose)
            active = sorted((k for k in keys if k.state is KeyState.ACTIVE), key=lambda k: k.activated_at or 0)
            if active:
                newest = active[-1]
                # The same key sealed the same way (no rotation, no `rotate-secret`): not unsealed and parsed again.
                if self._loaded.get(purpose) != (newest.kid, newest.sealed_private_key):
                    self._signing[purpose] = load_signing_key(self._open(newest), newest.alg, newest.kid)
                    self._loaded[purpose] = (newest.kid, newest.sealed_private_key)
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
        Raises SecretKeyMismatch, changing nothing, when the stored keys do not open with this secret key.
        """
        keys = await self._store.list(purpose)
        if keys:
            self._open(keys[-1])
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

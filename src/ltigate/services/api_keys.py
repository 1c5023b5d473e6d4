"""API keys for the REST API: random secrets shown once, stored as SHA-256 hashes.

A key looks like `ltg_<prefix>_<secret>`; the prefix identifies it in lists without revealing it.
SHA-256 (not a password hash) fits: the secret has 256 bits of entropy, and lookup stays O(1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ltigate.services.digest import secret_digest
from ltigate.services.errors import NotFound, Unauthorized
from ltigate.services.ports import ApiKeyStore, Clock
from ltigate.services.records import ApiKey
from ltigate.services.validation import check_text


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown once


class ApiKeys:
    def __init__(self, store: ApiKeyStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def create(self, name: str) -> IssuedApiKey:
        prefix = secrets.token_hex(4)
        secret = f"ltg_{prefix}_{secrets.token_urlsafe(32)}"
        key = ApiKey(id=secrets.token_hex(8), name=check_text(name, "name"), prefix=prefix, created_at=self._clock())
        await self._store.create(key, secret_digest(secret))
        return IssuedApiKey(key=key, secret=secret)

    async def authenticate(self, secret: str | None) -> ApiKey:
        """The key for a presented secret; raises Unauthorized when missing, unknown or revoked."""
        if not secret:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        key = await self._store.find(secret_digest(secret))
        if key is None or key.revoked_at is not None:
            raise Unauthorized("the API key is unknown or revoked")
        await self._store.touch(key.id, self._clock())
        return key

    async def list(self) -> list[ApiKey]:
        return await self._store.list()

    async def revoke(self, key_id: str) -> None:
        if not await self._store.revoke(key_id, self._clock()):
            raise NotFound(f"API key '{key_id}' does not exist")

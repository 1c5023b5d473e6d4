"""Service access tokens in Redis (the TokenCache port), one per platform and scope set, expiring with the
token; the database's TokenCache answers whenever Redis does not.

The token arrives sealed by the services layer and the whole record is sealed again, bound to its key, so
Redis holds nothing readable and a record cannot be moved to another platform. When no process holds a
usable token, one takes the request turn (`token-turn:<digest>`) and the others wait for its token a
bounded time, so nodes that need one at the same moment send one token request, not one each.
"""

from __future__ import annotations

import json
import time
from typing import Final

import anyio

from ltigate.cache.connection import RedisConnection
from ltigate.services.ports import CacheUnavailable, Clock, TokenCache
from ltigate.services.records import ServiceToken

CACHE: Final = "tokens"
_POLL_SECONDS: Final = 0.05


class RedisTokenCache:
    """TokenCache over a RedisConnection, falling back to `fallback` (the database) when Redis fails.

    `get` may wait up to `wait` seconds while another process requests the token (see the module text);
    `wait` should cover one token request (the outbound timeout).
    """

    def __init__(
        self,
        redis: RedisConnection,
        fallback: TokenCache,
        *,
        wait: float,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self._redis, self._fallback, self._wait = redis, fallback, wait
        self._clock, self._monotonic = clock, monotonic

    async def get(self, platform_id: str, scope_key: str, now: float) -> ServiceToken | None:
        """The token when it expires after `now`. On a miss the caller gets None at once when it takes the
        request turn (it is expected to `put` the token it gets); otherwise the token another process puts
        within `wait` seconds, else None."""
        try:
            token = await self._read(platform_id, scope_key, now)
            if token is not None or await self._take_turn(platform_id, scope_key):
                return token
            deadline = self._monotonic() + self._wait
            while self._monotonic() < deadline:
                await anyio.sleep(_POLL_SECONDS)
                if (token := await self._read(platform_id, scope_key, now)) is not None:
                    return token
            return None
        except CacheUnavailable:
            return await self._fallback.get(platform_id, scope_key, now)

    async def put(self, platform_id: str, scope_key: str, token: ServiceToken) -> None:
        """Store the token until it expires, and end the request turn."""
        key = self._redis.key(CACHE, platform_id, scope_key)
        turn = self._redis.key(CACHE + "-turn", platform_id, scope_key)
        lifetime = token.expires_at - self._clock()
        record = {"access_token": token.access_token, "scopes": list(token.scopes), "expires_at": token.expires_at}
        sealed = self._redis.seal(key, json.dumps(record, separators=(",", ":")).encode())
        try:
            if lifetime > 0:
                await self._redis.run(CACHE, lambda client: client.set(key, sealed, px=max(1, int(lifetime * 1000))))
            await self._redis.run(CACHE, lambda client: client.delete(turn))
        except CacheUnavailable:
            await self._fallback.put(platform_id, scope_key, token)

    async def _read(self, platform_id: str, scope_key: str, now: float) -> ServiceToken | None:
        key = self._redis.key(CACHE, platform_id, scope_key)
        sealed = await self._redis.run(CACHE, lambda client: client.get(key))
        plain = self._redis.unseal(key, sealed) if isinstance(sealed, bytes) else None
        token = _token(plain) if plain is not None else None
        return token if token is not None and token.expires_at > now else None

    async def _take_turn(self, platform_id: str, scope_key: str) -> bool:
        turn = self._redis.key(CACHE + "-turn", platform_id, scope_key)
        taken = await self._redis.run(
            CACHE, lambda client: client.set(turn, b"1", nx=True, px=max(1, int(self._wait * 1000)))
        )
        return bool(taken)


def _token(plain: bytes) -> ServiceToken | None:
    try:
        record = json.loads(plain)
        token = ServiceToken(
            access_token=str(record["access_token"]),
            scopes=tuple(str(scope) for scope in record["scopes"]),
            expires_at=float(record["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return token

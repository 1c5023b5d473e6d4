"""Platform key sets shared through Redis (the KeySetShare port), so one process's fetch serves the others
and a refetch (unknown `kid`, stale set, retry after a failure) happens once per cooldown among them all.

Per JWKS URL: `jwks:<digest>` holds the sealed record (the last good document, when it stops being fresh,
the newest fetch's failure), expiring when the stale set should no longer serve; `jwks-turn:<digest>` is
the fetch turn, `fetching` then `done`, expiring with the cooldown.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Final

from redis.asyncio import Redis

from ltigate.cache.connection import RedisConnection
from ltigate.services.ports import Clock, FetchTurn, SharedKeySet

CACHE: Final = "jwks"
# Take the turn when nobody has it; otherwise say what the holder is doing. Atomic: one caller gets "mine".
_CLAIM: Final = """
if redis.call('SET', KEYS[1], 'fetching', 'NX', 'PX', ARGV[1]) then return 'mine' end
return redis.call('GET', KEYS[1]) or 'cooling'
"""
_TURNS: Final = {b"mine": FetchTurn.MINE, b"fetching": FetchTurn.FETCHING, b"done": FetchTurn.COOLING}


class RedisKeySets:
    """KeySetShare over a RedisConnection; every method raises CacheUnavailable when Redis does not answer."""

    def __init__(self, redis: RedisConnection, clock: Clock = time.time) -> None:
        self._redis, self._clock = redis, clock  # a wall clock: the records are read by other machines
        self._claim = redis.client.register_script(_CLAIM)

    async def load(self, jwks_url: str) -> SharedKeySet | None:
        key = self._redis.key(CACHE, jwks_url)
        record = await self._record(key)
        if record is None:
            return None
        document = record.get("document")
        return SharedKeySet(
            version=str(record["version"]),
            document=base64.b64decode(document) if isinstance(document, str) else None,
            fresh_for=_seconds(record["fresh_until"]) - self._clock(),
            failure_code=_text(record.get("failure_code")),
            failure=_text(record.get("failure")),
        )

    async def publish(self, jwks_url: str, document: bytes, fresh_for: float, keep_for: float) -> str:
        record = {"document": base64.b64encode(document).decode(), "fresh_until": self._clock() + fresh_for}
        return await self._write(jwks_url, record, keep_for, keep_longer=False)

    async def publish_failure(self, jwks_url: str, code: str, message: str, keep_for: float) -> str:
        key = self._redis.key(CACHE, jwks_url)
        record = await self._record(key) or {"fresh_until": 0.0}
        record.update(failure_code=code, failure=message)
        return await self._write(jwks_url, record, keep_for, keep_longer=True)

    async def claim_fetch(self, jwks_url: str, cooldown: float) -> FetchTurn:
        key = self._redis.key(CACHE + "-turn", jwks_url)
        answer = await self._redis.run(CACHE, lambda _: self._claim(keys=[key], args=[_milliseconds(cooldown)]))
        return _TURNS.get(answer if isinstance(answer, bytes) else str(answer).encode(), FetchTurn.COOLING)

    async def _record(self, key: str) -> dict[str, object] | None:
        sealed = await self._redis.run(CACHE, lambda client: client.get(key))
        plain = self._redis.unseal(key, sealed) if isinstance(sealed, bytes) else None
        if plain is None:
            return None
        try:
            record = json.loads(plain)
        except ValueError:
            return None
        if not isinstance(record, dict) or not isinstance(record.get("version"), str):
            return None
        if not isinstance(record.get("fresh_until"), int | float):
            return None
        return record

    async def _write(self, jwks_url: str, record: dict[str, object], keep_for: float, *, keep_longer: bool) -> str:
        """Store `record` under a new version and mark the fetch turn done. With `keep_longer`, a record that
        would outlive `keep_for` keeps its expiry (a failure must not cut short the last good set)."""
        key, turn = self._redis.key(CACHE, jwks_url), self._redis.key(CACHE + "-turn", jwks_url)
        version = uuid.uuid4().hex
        sealed = self._redis.seal(key, json.dumps({**record, "version": version}, separators=(",", ":")).encode())
        milliseconds = _milliseconds(keep_for)

        async def write(client: Redis) -> None:
            keep = milliseconds
            if keep_longer:
                keep = max(keep, int(await client.pttl(key)))
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(key, sealed, px=keep)
                pipe.set(turn, b"done", xx=True, keepttl=True)
                await pipe.execute()

        await self._redis.run(CACHE, write)
        return version


def _milliseconds(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None

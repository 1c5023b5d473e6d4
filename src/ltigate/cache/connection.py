"""The one Redis client of a process: a timeout on every call, keys under the configured prefix, and
values sealed with the instance key and bound to their key name, so whoever can write to Redis can
neither read a token nor plant a key set (docs/decisions/0011).

After a failure, calls fail at once for a short pause: while Redis is down, a request pays for its
fallback, not for a timeout first.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import anyio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ltigate.services.ports import CacheUnavailable, Clock
from ltigate.services.sealing import Sealer, UnsealError

T = TypeVar("T")

PAUSE_SECONDS: Final = 5.0  # after a failure, calls fail at once this long before Redis is tried again
WARN_EVERY_SECONDS: Final = 60.0  # while Redis stays down, a warning at most this often
_PURPOSE: Final = "ltigate-cache:"

_log = logging.getLogger(__name__)


class RedisConnection:
    """Runs Redis calls with a deadline; raises CacheUnavailable instead of any Redis or network error.

    `fallbacks` counts, per cache, the calls that failed (each answered by the caller's fallback), for
    metrics. A warning is logged when Redis stops answering (then at most once a minute while it stays
    down) and a line when it answers again.
    """

    def __init__(self, url: str, *, prefix: str, timeout: float, sealer: Sealer, clock: Clock = time.monotonic) -> None:
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # the caller falls back at once; a retry would only add a timeout
            retry_on_timeout=False,
            health_check_interval=30,
            client_name="ltigate",
        )
        self._prefix, self._timeout, self._sealer, self._clock = prefix, timeout, sealer, clock
        self._paused_until = 0.0
        self._warned_at: float | None = None
        self._unsealed_warned_at: float | None = None
        self.fallbacks: dict[str, int] = {}

    def key(self, kind: str, *names: str) -> str:
        """`<prefix><kind>:<digest of names>`: bounded length whatever the URL or scope set."""
        digest = hashlib.sha256("\0".join(names).encode()).hexdigest()[:32]
        return f"{self._prefix}{kind}:{digest}"

    async def run(self, cache: str, call: Callable[[Redis], Awaitable[T]]) -> T:
        """The result of `call(client)`; raises CacheUnavailable on any failure or after `timeout` seconds."""
        if self._clock() < self._paused_until:
            self._count(cache)
            raise CacheUnavailable("Redis failed moments ago; waiting before trying it again")
        try:
            # The socket timeouts bound each read and connect; this bounds the whole call (pool, several replies).
            with anyio.fail_after(self._timeout * 2):
                result = await call(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._failed(cache, reason)
            raise CacheUnavailable(f"Redis did not answer: {reason}") from None
        if self._warned_at is not None:
            self._warned_at = None
            _log.info("Redis answers again; the shared caches are back in use")
        return result

    def seal(self, key: str, plaintext: bytes) -> bytes:
        return self._sealer.seal(plaintext, _PURPOSE + key)

    def unseal(self, key: str, sealed: bytes) -> bytes | None:
        """The plaintext, or None (logged) when the value was not sealed by this instance for this key."""
        try:
            return self._sealer.unseal(sealed, _PURPOSE + key)
        except UnsealError as exc:
            # Expected for a while after a secret key rotation (values sealed under the old key): say it once a minute.
            now = self._clock()
            if self._unsealed_warned_at is None or now >= self._unsealed_warned_at + WARN_EVERY_SECONDS:
                self._unsealed_warned_at = now
                _log.warning("ignoring a Redis value that does not open (%s): %s; it is fetched anew", key, exc)
            return None

    async def aclose(self) -> None:
        try:
            await self.client.aclose()
        except (RedisError, OSError) as exc:
            _log.info("closing the Redis connections: %s", exc)

    def _count(self, cache: str) -> None:
        self.fallbacks[cache] = self.fallbacks.get(cache, 0) + 1

    def _failed(self, cache: str, reason: str) -> None:
        self._count(cache)
        now = self._clock()
        self._paused_until = now + PAUSE_SECONDS
        if self._warned_at is None or now >= self._warned_at + WARN_EVERY_SECONDS:
            self._warned_at = now
            _log.warning(
                "Redis did not answer (%s); key sets and service tokens fall back to fetching and to the "
                "database, and Redis is tried again in %g s",
                reason,
                PAUSE_SECONDS,
            )

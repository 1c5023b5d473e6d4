"""Platform key sets cached in memory by JWKS URL (Security Framework §6.3; lti-reference §10).

Fresh sets answer without I/O; an unknown `kid` refetches at most once per cooldown; while the platform
is down the last good set keeps serving. Concurrent lookups of one URL share a single fetch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import anyio

from ltigate.lti.errors import KeySetInvalid, KeySetUnavailable, KidNotFound
from ltigate.lti.jwks import CachePolicy, fresh_for
from ltigate.lti.keys import KeySet, PublicKey, parse_key_set
from ltigate.net.client import OutboundClient
from ltigate.net.errors import OutboundError, OutboundTooLarge

DEFAULT_MAX_URLS: Final = 10_000
_ACCEPT: Final = {"Accept": "application/jwk-set+json, application/json"}
_KIDS_SHOWN: Final = 10

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    """What is known about one JWKS URL. `attempts` counts completed fetches, so waiters can tell one happened."""

    lock: anyio.Lock = field(default_factory=anyio.Lock)
    key_set: KeySet | None = None
    fresh_until: float = 0.0
    attempted_at: float | None = None
    attempts: int = 0
    failure: KeySetUnavailable | KeySetInvalid | None = None


class JwksCache:
    """Finds a platform's public key by JWKS URL and `kid`, fetching through an OutboundClient.

    Freshness comes from the response's Cache-Control, clamped by `policy`. Each URL is fetched at most
    once per `policy.refetch_cooldown`, whatever the reason (first use, stale set, unknown kid, retry
    after a failure), so bogus kids or a platform outage never turn into one fetch per launch.
    At most `max_urls` URLs are kept; the oldest is dropped first. `fetches`, `hits` (answers from a
    fresh set without fetching) and `failures` count for metrics.
    """

    def __init__(
        self,
        client: OutboundClient,
        *,
        policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_urls: int = DEFAULT_MAX_URLS,
    ) -> None:
        self._client = client
        self._policy = policy or CachePolicy()
        self._clock = clock
        self._max_urls = max_urls
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0
        self.hits = 0
        self.failures = 0

    async def key(self, jwks_url: str, kid: str) -> PublicKey:
        """The key `kid` published at `jwks_url`.

        Raises KidNotFound when a usable set lacks `kid`, KeySetUnavailable when the set cannot be fetched
        (network, status) and KeySetInvalid when it is unusable, unless a cached set still has `kid`.
        """
        entry = self._entry(jwks_url)
        now = self._clock()
        if entry.key_set is not None and now < entry.fresh_until:
            found = entry.key_set.find(kid)
            if found is not None:
                self.hits += 1
                return found
        if entry.attempted_at is None or now >= entry.attempted_at + self._policy.refetch_cooldown:
            await self._refresh(jwks_url, entry)
        return _answer(jwks_url, entry, kid)

    def _entry(self, jwks_url: str) -> _Entry:
        entry = self._entries.get(jwks_url)
        if entry is None:
            if len(self._entries) >= self._max_urls:
                del self._entries[next(iter(self._entries))]
            entry = self._entries[jwks_url] = _Entry()
        return entry

    async def _refresh(self, jwks_url: str, entry: _Entry) -> None:
        seen = entry.attempts
        async with entry.lock:
            if entry.attempts == seen:  # else another lookup fetched while this one waited
                await self._fetch(jwks_url, entry)

    async def _fetch(self, jwks_url: str, entry: _Entry) -> None:
        self.fetches += 1
        try:
            response = await self._client.get(jwks_url, headers=_ACCEPT)
            key_set = parse_key_set(response.body)
        except (OutboundError, KeySetInvalid) as exc:
            self._record_failure(entry, _failure(jwks_url, exc))
        else:
            now = self._clock()
            entry.key_set = key_set
            entry.fresh_until = now + fresh_for(response.headers.get("cache-control"), self._policy)
            entry.failure = None
            entry.attempted_at = now
            entry.attempts += 1
            _log.info("fetched %d keys from %s", len(key_set.kids), jwks_url)

    def _record_failure(self, entry: _Entry, failure: KeySetUnavailable | KeySetInvalid) -> None:
        self.failures += 1
        entry.failure = failure
        entry.attempted_at = self._clock()
        entry.attempts += 1
        serving = "serving the last good set" if entry.key_set is not None else "no set cached"
        _log.warning("%s; %s, next attempt in %g s", failure.message, serving, self._policy.refetch_cooldown)


def _failure(jwks_url: str, exc: OutboundError | KeySetInvalid) -> KeySetUnavailable | KeySetInvalid:
    if isinstance(exc, KeySetInvalid):
        return KeySetInvalid(f"the key set at {jwks_url} is unusable: {exc.message}")
    if isinstance(exc, OutboundTooLarge):
        return KeySetInvalid(f"the key set at {jwks_url} is unusable: {exc.reason}")
    return KeySetUnavailable(f"the key set at {jwks_url} could not be fetched: {exc.reason}")


def _answer(jwks_url: str, entry: _Entry, kid: str) -> PublicKey:
    if entry.key_set is not None:
        found = entry.key_set.find(kid)
        if found is not None:
            return found
    if entry.failure is not None:
        raise type(entry.failure)(entry.failure.message)
    if entry.key_set is None:  # unreachable: every completed fetch leaves a set or a failure
        raise KeySetUnavailable(f"the key set at {jwks_url} has not been fetched yet")
    raise KidNotFound(f"kid {_shorten(kid)!r} is not in the key set at {jwks_url}; it holds {_known(entry.key_set)}")


def _known(key_set: KeySet) -> str:
    kids = key_set.kids
    shown = ", ".join(repr(_shorten(kid)) for kid in kids[:_KIDS_SHOWN])
    return shown + (f" and {len(kids) - _KIDS_SHOWN} more" if len(kids) > _KIDS_SHOWN else "")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Platform key sets cached in memory by JWKS URL (Security Framework §6.3; lti-reference §10).

Fresh sets answer without I/O; an unknown `kid` refetches at most once per cooldown; while the platform
is down the last good set keeps serving. Concurrent lookups of one URL share a single fetch. With a
KeySetShare (Redis), processes share the sets they fetch and one fetch turn per URL and cooldown.
"""

from __future__ import annotations

import contextlib
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
from ltigate.services.ports import CacheUnavailable, FetchTurn, KeySetShare, SharedKeySet

DEFAULT_MAX_URLS: Final = 10_000
_ACCEPT: Final = {"Accept": "application/jwk-set+json, application/json"}
_KIDS_SHOWN: Final = 10
_SHARE_POLL_SECONDS: Final = 0.05
_FAILURES: Final = {error.code: error for error in (KeySetUnavailable, KeySetInvalid)}

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
    document: bytes | None = None  # the JWKS behind key_set, to tell a shared set from ours
    version: str | None = None  # the shared record last seen or published


class JwksCache:
    """Finds a platform's public key by JWKS URL and `kid`, fetching through an OutboundClient.

    Freshness comes from the response's Cache-Control, clamped by `policy`. Each URL is fetched at most
    once per `policy.refetch_cooldown`, whatever the reason (first use, stale set, unknown kid, retry
    after a failure), so bogus kids or a platform outage never turn into one fetch per launch.
    At most `max_urls` URLs are kept; the oldest is dropped first. `fetches`, `hits` (answers from a
    fresh set without fetching), `failures` and `shared` (sets taken from another process) count for metrics.

    With a `share`, a refresh first looks at the set other processes shared; only the process that wins the
    URL's fetch turn (one per cooldown among all) fetches, and publishes what it got, failures included. A
    process whose set lacks the `kid` while the winner fetches waits up to `share_wait` seconds for its
    result; with nothing to answer from after that, it fetches itself. When the share cannot be reached,
    the cache works as it does without one.
    """

    def __init__(
        self,
        client: OutboundClient,
        *,
        policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_urls: int = DEFAULT_MAX_URLS,
        share: KeySetShare | None = None,
        share_wait: float = 5.0,
    ) -> None:
        self._client = client
        self._policy = policy or CachePolicy()
        self._clock = clock
        self._max_urls = max_urls
        self._share, self._share_wait = share, share_wait
        self._entries: dict[str, _Entry] = {}
        self.fetches = 0
        self.hits = 0
        self.failures = 0
        self.shared = 0

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
            await self._refresh(jwks_url, entry, kid)
        return _answer(jwks_url, entry, kid)

    def _entry(self, jwks_url: str) -> _Entry:
        entry = self._entries.get(jwks_url)
        if entry is None:
            if len(self._entries) >= self._max_urls:
                del self._entries[next(iter(self._entries))]
            entry = self._entries[jwks_url] = _Entry()
        return entry

    async def _refresh(self, jwks_url: str, entry: _Entry, kid: str) -> None:
        seen = entry.attempts
        async with entry.lock:
            if entry.attempts != seen:
                return  # another lookup refreshed while this one waited
            if self._share is None or not await self._from_share(self._share, jwks_url, entry, kid):
                await self._fetch(jwks_url, entry)

    async def _from_share(self, share: KeySetShare, jwks_url: str, entry: _Entry, kid: str) -> bool:
        """Bring `entry` up to date from the share; True when no fetch is due here (the shared set has a fresh
        `kid`, or another process has the fetch turn), False when this process must fetch."""
        try:
            if self._adopt(entry, await share.load(jwks_url)) and self._answers(entry, kid, fresh=True):
                self._attempted(entry)
                return True
            turn = await share.claim_fetch(jwks_url, self._policy.refetch_cooldown)
            if turn is FetchTurn.MINE:
                return False
            if not self._answers(entry, kid, fresh=False):
                if turn is FetchTurn.FETCHING:
                    await self._await_share(share, jwks_url, entry)
                else:
                    self._adopt(entry, await share.load(jwks_url))  # published between load and claim
        except CacheUnavailable:
            return False  # logged and counted by the share
        if entry.key_set is None and entry.failure is None:
            # Nothing to answer with: the turn holder published nothing in time (it may have died), or its
            # record is gone (evicted, unreadable). Fetch here rather than fail the launch.
            return False
        self._attempted(entry)
        return True

    async def _await_share(self, share: KeySetShare, jwks_url: str, entry: _Entry) -> None:
        with anyio.move_on_after(self._share_wait):
            while True:  # polling: Redis could notify, but a fetch is rare and its wait bounded
                if self._adopt(entry, await share.load(jwks_url)):
                    return
                await anyio.sleep(_SHARE_POLL_SECONDS)

    def _adopt(self, entry: _Entry, shared: SharedKeySet | None) -> bool:
        """Take a shared record this entry has not seen; False when there is none or it is unusable."""
        if shared is None or shared.version == entry.version:
            return False
        if shared.document is not None:
            if shared.document != entry.document:
                try:
                    entry.key_set = parse_key_set(shared.document)
                except KeySetInvalid:
                    return False  # published only after parsing: altered in the share, so ignored
                entry.document = shared.document
                self.shared += 1
            entry.fresh_until = self._clock() + shared.fresh_for
        entry.version = shared.version
        entry.failure = None
        if shared.failure_code in _FAILURES:
            entry.failure = _FAILURES[shared.failure_code](shared.failure or "the key set could not be fetched")
        return True

    def _answers(self, entry: _Entry, kid: str, *, fresh: bool) -> bool:
        if entry.key_set is None or entry.key_set.find(kid) is None:
            return False
        return not fresh or self._clock() < entry.fresh_until

    def _attempted(self, entry: _Entry) -> None:
        entry.attempted_at = self._clock()
        entry.attempts += 1

    async def _fetch(self, jwks_url: str, entry: _Entry) -> None:
        self.fetches += 1
        try:
            response = await self._client.get(jwks_url, headers=_ACCEPT)
            key_set = parse_key_set(response.body)
        except (OutboundError, KeySetInvalid) as exc:
            failure = _failure(jwks_url, exc)
            self._record_failure(entry, failure)
            if self._share is not None:
                with contextlib.suppress(CacheUnavailable):
                    entry.version = await self._share.publish_failure(
                        jwks_url, failure.code, failure.message, self._policy.refetch_cooldown
                    )
        else:
            now = self._clock()
            fresh = fresh_for(response.headers.get("cache-control"), self._policy)
            entry.key_set, entry.document = key_set, response.body
            entry.fresh_until = now + fresh
            entry.failure = None
            entry.attempted_at = now
            entry.attempts += 1
            _log.info("fetched %d keys from %s", len(key_set.kids), jwks_url)
            if self._share is not None:
                with contextlib.suppress(CacheUnavailable):
                    keep = fresh + self._policy.max_ttl  # a stale set still serves while the platform is down
                    entry.version = await self._share.publish(jwks_url, response.body, fresh, keep)

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

"""Finding the platform registration for a login or a launch, by issuer and client_id.

Lookups are cached in-process for a few seconds: they run on every login and launch, and
registrations change rarely. Changes made through this process invalidate the cache at once.
"""

from __future__ import annotations

from ltigate.lti.errors import (
    AmbiguousRegistration,
    PlatformAwaitingApproval,
    PlatformInactive,
    UnknownClientId,
    UnknownIssuer,
)
from ltigate.services.ports import Clock, PlatformStore
from ltigate.services.records import Deployment, DeploymentStatus, Platform

MAX_CACHED_ISSUERS = 10_000


class Registrations:
    def __init__(self, store: PlatformStore, clock: Clock, ttl_seconds: float = 5.0) -> None:
        self._store, self._clock, self._ttl = store, clock, ttl_seconds
        self._cache: dict[str, tuple[float, list[Platform]]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def _by_issuer(self, issuer: str) -> list[Platform]:
        now = self._clock()
        cached = self._cache.get(issuer)
        if cached is not None and cached[0] > now:
            return cached[1]
        platforms = await self._store.find_by_issuer(issuer)
        if len(self._cache) >= MAX_CACHED_ISSUERS:
            self._cache.clear()
        self._cache[issuer] = (now + self._ttl, platforms)
        return platforms

    async def for_login(self, issuer: str, client_id: str | None) -> Platform:
        """The registration for a login initiation; client_id is optional there (lti-reference §1.1)."""
        platforms = await self._by_issuer(issuer)
        if not platforms:
            raise UnknownIssuer(f"issuer '{issuer[:300]}' is not registered; add a platform with this issuer")
        if client_id is not None:
            matches = [p for p in platforms if p.fields.client_id == client_id]
            if not matches:
                raise UnknownClientId(f"client_id '{client_id[:200]}' is not registered for issuer '{issuer[:300]}'")
        elif len(platforms) > 1:
            raise AmbiguousRegistration(
                f"issuer '{issuer[:300]}' has {len(platforms)} registrations and the login names no client_id"
            )
        else:
            matches = platforms
        return _active(matches[0])

    async def record_deployment(
        self, platform: Platform, deployment_id: str, status: DeploymentStatus, now: float
    ) -> Deployment:
        """Store a deployment first seen in a launch; an existing one (another node was first) wins."""
        stored = await self._store.put_deployment(platform.id, deployment_id, status, now, only_if_new=True)
        self._cache.pop(platform.fields.issuer, None)
        return stored

    async def for_launch(self, issuer: str, audiences: tuple[str, ...]) -> Platform:
        """The registration whose client_id is among the token's audiences (or the issuer's only one)."""
        platforms = await self._by_issuer(issuer)
        if not platforms:
            raise UnknownIssuer(f"issuer '{issuer[:300]}' is not registered; add a platform with this issuer")
        for platform in platforms:
            if platform.fields.client_id in audiences:
                return _active(platform)
        if len(platforms) == 1:
            # The only registration of this issuer: let the verified token's `aud` check name the problem.
            return _active(platforms[0])
        raise UnknownClientId(
            f"none of the audiences {list(audiences)[:5]} is a client_id registered for issuer '{issuer[:300]}'"
        )


def _active(platform: Platform) -> Platform:
    if not platform.active:
        raise PlatformInactive(f"platform '{platform.fields.name}' ({platform.fields.issuer}) is deactivated")
    if platform.awaiting_approval:
        raise PlatformAwaitingApproval(
            f"platform '{platform.fields.name}' ({platform.fields.issuer}, client_id '{platform.fields.client_id}') "
            "registered itself and awaits an administrator's approval"
        )
    return platform

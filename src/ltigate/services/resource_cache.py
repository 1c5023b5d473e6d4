"""Resources by slug, cached in-process for a few seconds: every launch looks its resource up, and resources
change rarely. Changes made through this process clear the cache at once; changes made by another process
(a CLI command, another node) show within the TTL, as with registrations.
"""

from __future__ import annotations

import builtins

from ltigate.services.ports import Clock, ResourceStore
from ltigate.services.records import Resource, ResourceFields

MAX_CACHED_RESOURCES = 10_000


class ResourceCache:
    """A ResourceStore answering `get` from memory for `ttl_seconds`; writes go through and clear it.

    Unknown slugs are not cached, so a resource created elsewhere can be launched at once.
    """

    def __init__(self, store: ResourceStore, clock: Clock, ttl_seconds: float = 5.0) -> None:
        self._store, self._clock, self._ttl = store, clock, ttl_seconds
        self._cache: dict[str, tuple[float, Resource]] = {}

    async def get(self, slug: str) -> Resource | None:
        now = self._clock()
        cached = self._cache.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1]
        resource = await self._store.get(slug)
        if resource is None:
            self._cache.pop(slug, None)
            return None
        if len(self._cache) >= MAX_CACHED_RESOURCES:
            self._cache.clear()
        self._cache[slug] = (now + self._ttl, resource)
        return resource

    async def create(self, resource_id: str, fields: ResourceFields, now: float) -> Resource:
        try:
            return await self._store.create(resource_id, fields, now)
        finally:
            self._cache.clear()

    async def update(self, slug: str, fields: ResourceFields, now: float) -> Resource:
        try:
            return await self._store.update(slug, fields, now)
        finally:
            self._cache.clear()

    async def delete(self, slug: str) -> bool:
        try:
            return await self._store.delete(slug)
        finally:
            self._cache.clear()

    async def list(self) -> builtins.list[Resource]:
        return await self._store.list()

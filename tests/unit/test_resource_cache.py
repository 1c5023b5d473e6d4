"""The resource cache on the launch path: found resources are served from memory for the TTL, unknown slugs
are asked every time, and every write through it clears it."""

from __future__ import annotations

import asyncio
import builtins
from dataclasses import replace

from ltigate.services.records import Resource, ResourceFields
from ltigate.services.resource_cache import ResourceCache

QUIZ = ResourceFields(slug="quiz", title="Quiz", app_url="https://app.example/quiz")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class MemoryStore:
    """A ResourceStore in a dict that counts its reads."""

    def __init__(self) -> None:
        self.rows: dict[str, Resource] = {}
        self.gets = 0

    async def create(self, resource_id: str, fields: ResourceFields, now: float) -> Resource:
        self.rows[fields.slug] = Resource(id=resource_id, fields=fields, created_at=now, updated_at=now)
        return self.rows[fields.slug]

    async def update(self, slug: str, fields: ResourceFields, now: float) -> Resource:
        old = self.rows.pop(slug)
        self.rows[fields.slug] = replace(old, fields=fields, updated_at=now)
        return self.rows[fields.slug]

    async def get(self, slug: str) -> Resource | None:
        self.gets += 1
        return self.rows.get(slug)

    async def list(self) -> builtins.list[Resource]:
        return list(self.rows.values())

    async def delete(self, slug: str) -> bool:
        return self.rows.pop(slug, None) is not None


def test_a_found_resource_is_served_from_memory_until_the_ttl_ends() -> None:
    async def scenario() -> None:
        store, clock = MemoryStore(), Clock()
        cache = ResourceCache(store, clock, ttl_seconds=5.0)
        await store.create("r1", QUIZ, 1.0)
        assert (await cache.get("quiz")) == store.rows["quiz"]
        store.rows["quiz"] = replace(store.rows["quiz"], fields=replace(QUIZ, title="Changed elsewhere"))
        clock.now += 4.9
        cached = await cache.get("quiz")
        assert cached is not None and cached.fields.title == "Quiz" and store.gets == 1
        clock.now += 0.2
        fresh = await cache.get("quiz")
        assert fresh is not None and fresh.fields.title == "Changed elsewhere" and store.gets == 2

    asyncio.run(scenario())


def test_unknown_slugs_are_not_cached() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        cache = ResourceCache(store, Clock())
        assert await cache.get("quiz") is None
        await store.create("r1", QUIZ, 1.0)  # created by another process
        assert await cache.get("quiz") == store.rows["quiz"]

    asyncio.run(scenario())


def test_writes_through_the_cache_clear_it() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        cache = ResourceCache(store, Clock())
        await cache.create("r1", QUIZ, 1.0)
        assert await cache.get("quiz") is not None
        await cache.update("quiz", replace(QUIZ, slug="quiz-2"), 2.0)
        assert await cache.get("quiz") is None
        renamed = await cache.get("quiz-2")
        assert renamed is not None and renamed.fields.slug == "quiz-2"
        assert await cache.delete("quiz-2") is True
        assert await cache.get("quiz-2") is None

    asyncio.run(scenario())

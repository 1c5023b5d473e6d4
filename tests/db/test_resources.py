"""SqlResourceStore: resources by slug, the slug unique, renames checked."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.resources import SqlResourceStore
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import ResourceFields

pytestmark = pytest.mark.anyio

INTRO = ResourceFields(slug="intro-course", title="Introduction", app_url="https://app.test/courses/intro")


@pytest.fixture
def store(engine: AsyncEngine) -> SqlResourceStore:
    return SqlResourceStore(engine)


async def test_create_and_get(store: SqlResourceStore) -> None:
    created = await store.create("r1", INTRO, now=10.0)
    assert (created.id, created.fields, created.created_at, created.updated_at) == ("r1", INTRO, 10.0, 10.0)
    assert created.fields.description == ""
    assert await store.get("intro-course") == created
    assert await store.get("unknown") is None


async def test_create_refuses_a_taken_slug(store: SqlResourceStore) -> None:
    await store.create("r1", INTRO, now=1.0)
    with pytest.raises(Conflict) as caught:
        await store.create("r2", INTRO, now=2.0)
    assert (caught.value.code, caught.value.field) == ("conflict", "slug")
    assert str(caught.value) == "a resource with slug 'intro-course' exists already (id 'r1')"


async def test_create_refuses_a_taken_id(store: SqlResourceStore) -> None:
    await store.create("r1", INTRO, now=1.0)
    with pytest.raises(Conflict, match=r"^a resource with id 'r1' exists already$"):
        await store.create("r1", ResourceFields(slug="other", title="Other", app_url="https://app.test/o"), now=2.0)


async def test_update_replaces_the_fields_and_may_rename(store: SqlResourceStore) -> None:
    await store.create("r1", INTRO, now=1.0)
    renamed = ResourceFields(slug="intro", title="Intro", app_url="https://app.test/intro", description="Start here")
    updated = await store.update("intro-course", renamed, now=2.0)
    assert (updated.id, updated.fields, updated.created_at, updated.updated_at) == ("r1", renamed, 1.0, 2.0)
    assert await store.get("intro-course") is None
    assert await store.get("intro") == updated


async def test_update_refuses_the_slug_of_another(store: SqlResourceStore) -> None:
    await store.create("r1", INTRO, now=1.0)
    await store.create("r2", ResourceFields(slug="quiz", title="Quiz", app_url="https://app.test/q"), now=2.0)
    with pytest.raises(Conflict, match=r"^a resource with slug 'intro-course' exists already \(id 'r1'\)$"):
        await store.update("quiz", INTRO, now=3.0)


async def test_update_of_a_missing_resource_is_not_found(store: SqlResourceStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.update("nope", INTRO, now=1.0)
    assert (caught.value.code, str(caught.value)) == ("not_found", "no resource with slug 'nope'")


async def test_list_is_oldest_first_and_delete(store: SqlResourceStore) -> None:
    await store.create("r2", ResourceFields(slug="b", title="B", app_url="https://app.test/b"), now=2.0)
    await store.create("r1", ResourceFields(slug="a", title="A", app_url="https://app.test/a"), now=1.0)
    assert [r.fields.slug for r in await store.list()] == ["a", "b"]
    assert await store.delete("a") is True
    assert await store.delete("a") is False
    assert [r.id for r in await store.list()] == ["r2"]


async def test_score_maximum_is_stored_and_optional(store: SqlResourceStore) -> None:
    graded = ResourceFields(slug="quiz", title="Quiz", app_url="https://app.test/q", score_maximum=60.5)
    created = await store.create("r1", graded, now=1.0)
    assert created.fields.score_maximum == 60.5
    assert await store.get("quiz") == created
    ungraded = await store.update("quiz", ResourceFields(slug="quiz", title="Quiz", app_url="https://app.test/q"), 2.0)
    assert ungraded.fields.score_maximum is None
    assert await store.get("quiz") == ungraded

"""Resources, looked up by slug on every launch (the ResourceStore port), in SQLAlchemy Core."""

from __future__ import annotations

import builtins
import json

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit, transaction
from ltigate.db.schema import resources
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import Resource, ResourceFields


def _columns(fields: ResourceFields) -> dict[str, object]:
    return {
        "slug": fields.slug,
        "title": fields.title,
        "description": fields.description,
        "app_url": fields.app_url,
        "score_maximum": fields.score_maximum,
        "picker": fields.picker,
        "review_url": fields.review_url,
        "custom": json.dumps(dict(fields.custom), sort_keys=True) if fields.custom else None,
        "tag": fields.tag,
    }


def _resource(row: Row[*tuple[object, ...]]) -> Resource:
    fields = ResourceFields(
        slug=row.slug,
        title=row.title,
        app_url=row.app_url,
        description=row.description,
        score_maximum=row.score_maximum,
        picker=bool(row.picker),
        review_url=row.review_url,
        custom=json.loads(row.custom) if row.custom else {},
        tag=row.tag,
    )
    return Resource(id=row.id, fields=fields, created_at=row.created_at, updated_at=row.updated_at)


# Built once (it runs on every launch): a statement rebuilt per call costs more than SQLite takes to run it.
_BY_SLUG = select(resources).where(resources.c.slug == bindparam("slug"))


class SqlResourceStore:
    """ResourceStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, resource_id: str, fields: ResourceFields, now: float) -> Resource:
        """Raises Conflict when the slug (or the id) is taken."""
        values = {"id": resource_id, **_columns(fields), "created_at": now, "updated_at": now}
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(resources.insert().values(values))
        except IntegrityError as exc:
            raise await self._conflict(fields.slug, resource_id) from exc
        return Resource(id=resource_id, fields=fields, created_at=now, updated_at=now)

    async def update(self, slug: str, fields: ResourceFields, now: float) -> Resource:
        """Replace the fields of the resource at `slug` (`fields.slug` may rename it).

        Raises NotFound, and Conflict when the new slug belongs to another resource.
        """
        statement = (
            update(resources)
            .where(resources.c.slug == slug)
            .values({**_columns(fields), "updated_at": now})
            .returning(resources)
        )
        try:
            async with transaction(self._engine) as connection:
                row = (await connection.execute(statement)).first()
        except IntegrityError as exc:
            raise await self._conflict(fields.slug, None) from exc
        if row is None:
            raise NotFound(f"no resource with slug '{slug}'", field="slug")
        return _resource(row)

    async def _conflict(self, slug: str, resource_id: str | None) -> Conflict:
        """Tell which uniqueness rule the failed write broke, looking in a fresh transaction."""
        async with transaction(self._engine) as connection:
            other = (await connection.execute(select(resources.c.id).where(resources.c.slug == slug))).scalar()
        if other is not None and other != resource_id:
            return Conflict(f"a resource with slug '{slug}' exists already (id '{other}')", field="slug")
        if resource_id is not None:
            return Conflict(f"a resource with id '{resource_id}' exists already", field="id")
        return Conflict(f"resource '{slug}' was changed by a concurrent request; try again")

    async def get(self, slug: str) -> Resource | None:
        async with autocommit(self._engine) as connection:
            row = (await connection.execute(_BY_SLUG, {"slug": slug})).first()
        return None if row is None else _resource(row)

    async def list(self) -> builtins.list[Resource]:
        """Every resource, oldest first."""
        statement = select(resources).order_by(resources.c.created_at, resources.c.id)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_resource(row) for row in rows]

    async def delete(self, slug: str) -> bool:
        """True when the resource existed."""
        async with transaction(self._engine) as connection:
            return bool((await connection.execute(delete(resources).where(resources.c.slug == slug))).rowcount)

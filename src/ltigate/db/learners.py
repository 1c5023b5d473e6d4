"""Learner accounts (the LearnerStore port): found or created on every launch with one upsert.

The launch path costs one statement here: `INSERT … ON CONFLICT (platform_id, sub) DO UPDATE` writes the
launch time, keeps every detail the launch does not carry, changes `updated_at` only when a detail
differs, and returns the row together with whether the learner holds a seat (a subquery in RETURNING,
which SQLite 3.35+ and PostgreSQL both accept).
"""

from __future__ import annotations

import builtins
import functools
from typing import Final

from sqlalchemy import Boolean, ColumnElement, Row, and_, bindparam, case, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit, run, transaction
from ltigate.db.prepared import Prepared
from ltigate.db.schema import learners
from ltigate.services.records import Learner, LearnerFilter, LearnerProfile, LearnerVisit

MAX_LIST: Final = 500
DETAILS: Final = ("email", "given_name", "family_name", "name", "picture", "lti11_user_id")
# Written as SQL: SQLAlchemy renders RETURNING columns unqualified, which would make this subquery ambiguous.
_SEATED: Final = literal_column(
    "EXISTS (SELECT 1 FROM seats WHERE seats.platform_id = learners.platform_id AND seats.learner_id = learners.id)",
    Boolean,
).label("seated")
_GET = select(learners).where(learners.c.id == bindparam("id"))


@functools.cache
def _visit(dialect: str) -> Prepared:
    """The upsert, built once per dialect (a statement rebuilt per call costs more than SQLite takes to run it)."""
    insert = postgresql.insert(learners) if dialect == "postgresql" else sqlite.insert(learners)
    given = insert.excluded
    changed = or_(*(and_(given[name].is_not(None), given[name].is_distinct_from(learners.c[name])) for name in DETAILS))
    updates: dict[str, ColumnElement[object]] = {name: func.coalesce(given[name], learners.c[name]) for name in DETAILS}
    return Prepared(
        insert.on_conflict_do_update(
            index_elements=["platform_id", "sub"],
            set_={
                **updates,
                "updated_at": case((changed, given.updated_at), else_=learners.c.updated_at),
                "last_launch_at": given.last_launch_at,
            },
        ).returning(*learners.c, _SEATED)
    )


def learner_record(row: Row[*tuple[object, ...]]) -> Learner:
    return Learner(
        id=row.id,
        platform_id=row.platform_id,
        sub=row.sub,
        email=row.email,
        given_name=row.given_name,
        family_name=row.family_name,
        name=row.name,
        picture=row.picture,
        lti11_user_id=row.lti11_user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_launch_at=row.last_launch_at,
    )


def _matching(q: str) -> ColumnElement[bool]:
    """Learners whose name, given or family name, email or sub hold `q`, ignoring case (LIKE wildcards in
    `q` match themselves)."""
    needle = q.lower()
    columns = (learners.c.name, learners.c.given_name, learners.c.family_name, learners.c.email, learners.c.sub)
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))


class SqlLearnerStore:
    """LearnerStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def visit(self, learner_id: str, platform_id: str, profile: LearnerProfile, now: float) -> LearnerVisit:
        values = {
            "id": learner_id,
            "platform_id": platform_id,
            "sub": profile.sub,
            "email": profile.email,
            "given_name": profile.given_name,
            "family_name": profile.family_name,
            "name": profile.name,
            "picture": profile.picture,
            "lti11_user_id": profile.lti11_user_id,
            "created_at": now,
            "updated_at": now,
            "last_launch_at": now,
        }
        async with autocommit(self._engine) as connection:
            (row,) = await run(connection, _visit(connection.dialect.name), values)
        return LearnerVisit(learner=learner_record(row), seated=bool(row.seated))

    async def get(self, learner_id: str) -> Learner | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(_GET, {"id": learner_id})).first()
        return None if row is None else learner_record(row)

    async def list(self, query: LearnerFilter) -> builtins.list[Learner]:
        statement = select(learners)
        if query.platform_id is not None:
            statement = statement.where(learners.c.platform_id == query.platform_id)
        if query.q:
            statement = statement.where(_matching(query.q))
        statement = (
            statement.order_by(learners.c.last_launch_at.desc().nulls_last(), learners.c.id)
            .limit(max(0, min(query.limit, MAX_LIST)))
            .offset(max(0, query.offset))
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [learner_record(row) for row in rows]

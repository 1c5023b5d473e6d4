"""Courses (LTI contexts) and their rosters (the RosterStore port).

A roster sync streams the NRPS pages into `members`, one transaction per page so memory stays flat
whatever the course size: each row written carries the sync's id, and when the last page is in, the
rows with another id (members no longer on the roster) are deleted. The context row names the sync
started last; an older sync still running finds that out at its next page and stops with Conflict, so
two overlapping syncs never delete each other's rows.
"""

from __future__ import annotations

import builtins
import functools
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Final

from sqlalchemy import ColumnElement, Row, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import contexts, launches, members, score_jobs
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import ContextRecord, DeliveryStatus, LaunchOutcome, Member, RosterEntry
from ltigate.services.rosters import context_key

MAX_LIST: Final = 500
# Members per page: the most the API and services.rosters accept; a lower cap here cut pages short silently.
MAX_MEMBERS: Final = 1000
# A short role name (no scheme) is a context role of the LIS vocabulary (LTI Core A.2.2; NRPS `role` filter).
CONTEXT_ROLE_PREFIX: Final = "http://purl.imsglobal.org/vocab/lis/v2/membership#"

_MEMBER_FIELDS: Final = (
    "roles",
    "status",
    "name",
    "given_name",
    "family_name",
    "email",
    "picture",
    "lis_person_sourcedid",
    "lti11_legacy_user_id",
    "sync_id",
    "updated_at",
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _context(row: Row[*tuple[object, ...]]) -> ContextRecord:
    return ContextRecord(
        id=row.id,
        platform_id=row.platform_id,
        context_id=row.context_id,
        title=row.title,
        label=row.label,
        memberships_url=row.memberships_url,
        synced_at=row.synced_at,
        member_count=row.member_count,
        deployment_id=row.deployment_id,
    )


def _member(row: Row[*tuple[object, ...]]) -> Member:
    return Member(
        user_id=row.user_id,
        roles=tuple(json.loads(row.roles)),
        status=row.status,
        name=row.name,
        given_name=row.given_name,
        family_name=row.family_name,
        email=row.email,
        picture=row.picture,
        lis_person_sourcedid=row.lis_person_sourcedid,
        lti11_legacy_user_id=row.lti11_legacy_user_id,
    )


def _member_values(context_key: str, member: Member, sync_id: str, now: float) -> dict[str, object]:
    return {
        "context_key": context_key,
        "user_id": member.user_id,
        "roles": _json(list(member.roles)),
        "status": member.status,
        "name": member.name,
        "given_name": member.given_name,
        "family_name": member.family_name,
        "email": member.email,
        "picture": member.picture,
        "lis_person_sourcedid": member.lis_person_sourcedid,
        "lti11_legacy_user_id": member.lti11_legacy_user_id,
        "sync_id": sync_id,
        "updated_at": now,
    }


def _context_insert(connection: AsyncConnection) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into contexts that can take ON CONFLICT (the same clause in both dialects' SQL)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(contexts)
    return sqlite.insert(contexts)


@functools.cache
def _member_upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """INSERT … ON CONFLICT (context_key, user_id) DO UPDATE, taking every column as a parameter."""
    insert = postgresql.insert(members) if dialect == "postgresql" else sqlite.insert(members)
    return insert.on_conflict_do_update(
        index_elements=["context_key", "user_id"],
        set_={name: insert.excluded[name] for name in _MEMBER_FIELDS},
    )


def _has_role(connection: AsyncConnection, role: str) -> ColumnElement[bool]:
    """Rows whose JSON roles hold `role` as a whole element: a full URI, or a short context role name, which
    also matches its full URI. Matched as a substring of the JSON text, case-sensitively on both databases
    (instr / strpos, not LIKE, which ignores ASCII case on SQLite and would need wildcards escaped)."""
    find = func.strpos if connection.dialect.name == "postgresql" else func.instr
    needles = [_json(role)]
    if ":" not in role:
        needles.append(_json(CONTEXT_ROLE_PREFIX + role))
    return or_(*(find(members.c.roles, needle) > 0 for needle in needles))


class SqlRosterStore:
    """RosterStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def upsert_context(
        self,
        platform_id: str,
        context_id: str,
        *,
        title: str | None,
        label: str | None,
        memberships_url: str | None,
        now: float,
        deployment_id: str | None = None,
    ) -> ContextRecord:
        """Create the context, or refresh the one known; a None title, label, memberships URL or deployment id
        keeps the value stored (a launch without it says nothing about it). Raises NotFound for an unknown
        platform."""
        values = {
            # The key the services derive from (platform, context), so a launch finds its course's roster.
            "id": context_key(platform_id, context_id),
            "platform_id": platform_id,
            "context_id": context_id,
            "title": title,
            "label": label,
            "memberships_url": memberships_url,
            "deployment_id": deployment_id,
            "synced_at": None,
            "member_count": 0,
            "sync_id": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with transaction(self._engine) as connection:
                insert = _context_insert(connection).values(values)
                statement = insert.on_conflict_do_update(
                    index_elements=["platform_id", "context_id"],
                    set_={
                        "title": func.coalesce(insert.excluded.title, contexts.c.title),
                        "label": func.coalesce(insert.excluded.label, contexts.c.label),
                        "memberships_url": func.coalesce(insert.excluded.memberships_url, contexts.c.memberships_url),
                        "deployment_id": func.coalesce(insert.excluded.deployment_id, contexts.c.deployment_id),
                        "updated_at": insert.excluded.updated_at,
                    },
                ).returning(contexts)
                row = (await connection.execute(statement)).one()
        except IntegrityError as exc:  # the foreign key: the unique pair is handled by ON CONFLICT
            raise NotFound(f"no platform with id '{platform_id}'") from exc
        return _context(row)

    async def get_context(self, context_key: str) -> ContextRecord | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(contexts).where(contexts.c.id == context_key))).first()
        return None if row is None else _context(row)

    async def find_context(self, platform_id: str, context_id: str) -> ContextRecord | None:
        same = (contexts.c.platform_id == platform_id) & (contexts.c.context_id == context_id)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(contexts).where(same))).first()
        return None if row is None else _context(row)

    async def list_contexts(self, platform_id: str | None, limit: int) -> builtins.list[ContextRecord]:
        """Contexts (of one platform, or all), the most recently launched first; at most `limit`, capped at 500."""
        statement = select(contexts)
        if platform_id is not None:
            statement = statement.where(contexts.c.platform_id == platform_id)
        limit = max(0, min(limit, MAX_LIST))
        statement = statement.order_by(contexts.c.updated_at.desc(), contexts.c.id).limit(limit)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_context(row) for row in rows]

    async def replace_members(self, context_key: str, pages: AsyncIterator[Sequence[Member]], now: float) -> int:
        """Store the members streamed page by page (one transaction each; a user id seen twice keeps its last
        entry), then remove the context's members not seen, and record the count and `now` as synced_at.

        Raises NotFound for an unknown context, and Conflict when a newer sync of the same context started
        meanwhile (this one stops and leaves the removal to it). When `pages` raises, the pages stored stay
        and nothing is removed. Returns the number of members the context now has.
        """
        try:
            return await self._replace_members(context_key, pages, now)
        finally:
            close = getattr(pages, "aclose", None)  # an async generator: stop it (and what it holds) now
            if close is not None:
                await close()

    async def _replace_members(self, context_key: str, pages: AsyncIterator[Sequence[Member]], now: float) -> int:
        sync_id = uuid.uuid4().hex
        start = update(contexts).where(contexts.c.id == context_key).values(sync_id=sync_id)
        async with transaction(self._engine) as connection:
            if (await connection.execute(start)).rowcount == 0:
                raise NotFound(f"no context with key '{context_key}'")
        async for page in pages:
            if not page:
                continue
            # One row per user id, the last entry winning.
            rows = {member.user_id: _member_values(context_key, member, sync_id, now) for member in page}
            async with transaction(self._engine) as connection:
                await self._hold(connection, context_key, sync_id)
                # The rows as parameters apart from the statement (executemany): it compiles once, not per page.
                await connection.execute(_member_upsert(connection.dialect.name), list(rows.values()))
        async with transaction(self._engine) as connection:
            await self._hold(connection, context_key, sync_id)
            gone = delete(members).where(members.c.context_key == context_key, members.c.sync_id != sync_id)
            await connection.execute(gone)
            count = select(func.count()).select_from(members).where(members.c.context_key == context_key)
            finish = (
                update(contexts)
                .where(contexts.c.id == context_key)
                .values(member_count=count.scalar_subquery(), synced_at=now)
                .returning(contexts.c.member_count)
            )
            return int((await connection.execute(finish)).scalar_one())

    @staticmethod
    async def _hold(connection: AsyncConnection, context_key: str, sync_id: str) -> None:
        """Lock the context row for this transaction (the first write: SQLite takes its write lock here) and
        check that `sync_id` is still the sync started last; raises Conflict when a newer one started."""
        mine = (contexts.c.id == context_key) & (contexts.c.sync_id == sync_id)
        if (await connection.execute(update(contexts).where(mine).values(sync_id=sync_id))).rowcount == 0:
            raise Conflict(f"a newer roster sync of context '{context_key}' started; this one stopped")

    async def members(
        self, context_key: str, *, role: str | None, limit: int, offset: int
    ) -> builtins.list[RosterEntry]:
        """A page of the context's members ordered by family name, name (missing ones last), then user id, each
        with their latest successful launch in the context and the status of that launch's newest score job.

        `role` matches a full role URI, or a short context role name ('Learner' for
        `http://purl.imsglobal.org/vocab/lis/v2/membership#Learner`). One query: the page is cut first, and
        the launch and job lookups run only for its rows. At most `limit` members, capped at 1,000.
        """
        limit = max(0, min(limit, MAX_MEMBERS))
        order = (members.c.family_name.nulls_last(), members.c.name.nulls_last(), members.c.user_id)
        async with transaction(self._engine) as connection:
            page_query = select(members).where(members.c.context_key == context_key)
            if role:
                page_query = page_query.where(_has_role(connection, role))
            page = page_query.order_by(*order).limit(limit).offset(max(0, offset)).subquery("page")
            last_launch = (
                select(launches.c.id)
                .where(
                    launches.c.sub == page.c.user_id,
                    launches.c.platform_id == contexts.c.platform_id,
                    launches.c.context_id == contexts.c.context_id,
                    launches.c.outcome == LaunchOutcome.SUCCEEDED.value,
                )
                .order_by(launches.c.created_at.desc(), launches.c.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            with_launch = (
                select(page, last_launch.label("last_launch_id"))
                .select_from(page.join(contexts, contexts.c.id == page.c.context_key))
                .subquery("with_launch")
            )
            # The job lookup and the output refer to the joined launch row, not to `last_launch_id`: PostgreSQL
            # flattens `with_launch`, and each use of that column would run the launch lookup once more.
            delivery = (
                select(score_jobs.c.status)
                .where(score_jobs.c.launch_id == launches.c.id)
                .order_by(score_jobs.c.created_at.desc(), score_jobs.c.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            statement = (
                select(
                    *(with_launch.c[column.name] for column in members.c),
                    launches.c.id.label("last_launch_id"),
                    launches.c.created_at.label("last_launch_at"),
                    delivery.label("delivery"),
                )
                .select_from(with_launch.outerjoin(launches, launches.c.id == with_launch.c.last_launch_id))
                .order_by(
                    with_launch.c.family_name.nulls_last(),
                    with_launch.c.name.nulls_last(),
                    with_launch.c.user_id,
                )
            )
            rows = (await connection.execute(statement)).all()
        return [
            RosterEntry(
                member=_member(row),
                last_launch_id=row.last_launch_id,
                last_launch_at=row.last_launch_at,
                delivery=None if row.delivery is None else DeliveryStatus(row.delivery),
            )
            for row in rows
        ]

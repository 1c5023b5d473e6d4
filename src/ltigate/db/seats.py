"""Seats (the SeatStore port): one per learner and platform, counted in `platforms.seats_used`.

The cap holds across processes because a seat is taken by a conditional increment,
`UPDATE platforms SET seats_used = seats_used + 1 WHERE id = :p AND (seats = 0 OR seats_used < seats)`,
in the transaction that inserts the seat. On PostgreSQL the UPDATE locks the platform row, and a
concurrent one waits, then re-checks its WHERE against the committed count (READ COMMITTED); on SQLite
the UPDATE takes the database's write lock. Releases lock the platform row first too, so every
transaction that changes a platform's seats takes its locks in one order (platform, then seats).
"""

from __future__ import annotations

import builtins
import functools
from typing import Final

from sqlalchemy import Delete, Row, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.learners import learner_record
from ltigate.db.schema import learners, platforms, seats
from ltigate.services.records import Seat, SeatHolder, SeatUsage
from ltigate.services.seats import seat_usage

MAX_LIST: Final = 500

_TAKE = (
    update(platforms)
    .where(
        platforms.c.id == bindparam("platform_id"),
        or_(platforms.c.seats == 0, platforms.c.seats_used < platforms.c.seats),
    )
    .values(seats_used=platforms.c.seats_used + 1)
)
# A write that changes nothing: it takes the platform row's lock (PostgreSQL) or the write lock (SQLite)
# before a release reads which seats to delete.
_LOCK = update(platforms).where(platforms.c.id == bindparam("platform_id")).values(seats_used=platforms.c.seats_used)
_GIVE_BACK = (
    update(platforms)
    .where(platforms.c.id == bindparam("platform_id"))
    .values(seats_used=platforms.c.seats_used - bindparam("count"))
)
_HELD = select(seats.c.learner_id).where(
    seats.c.platform_id == bindparam("platform_id"), seats.c.learner_id == bindparam("learner_id")
)
_USAGE = select(platforms.c.seats, platforms.c.seats_used).where(platforms.c.id == bindparam("platform_id"))
_HOLDER = select(seats.c.allocated_at, learners).join(learners, seats.c.learner_id == learners.c.id)


class _HeldAlready(Exception):
    """A concurrent launch of the same learner inserted the seat first: undo this one's increment."""


@functools.cache
def _insert_seat(dialect: str) -> postgresql.Insert | sqlite.Insert:
    insert = postgresql.insert(seats) if dialect == "postgresql" else sqlite.insert(seats)
    return insert.on_conflict_do_nothing(index_elements=["platform_id", "learner_id"])


def _holder(row: Row[*tuple[object, ...]]) -> SeatHolder:
    learner = learner_record(row)
    seat = Seat(
        platform_id=learner.platform_id,
        learner_id=learner.id,
        allocated_at=row.allocated_at,
        last_used_at=learner.last_launch_at,
    )
    return SeatHolder(seat=seat, learner=learner)


class SqlSeatStore:
    """SeatStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def allocate(self, platform_id: str, learner_id: str, now: float) -> bool:
        values = {"platform_id": platform_id, "learner_id": learner_id, "allocated_at": now}
        try:
            async with transaction(self._engine) as connection:
                if (await connection.execute(_TAKE, {"platform_id": platform_id})).rowcount == 0:
                    # Full; unless a concurrent first launch of this learner took the seat a moment ago.
                    held = {"platform_id": platform_id, "learner_id": learner_id}
                    return (await connection.execute(_HELD, held)).first() is not None
                inserted = await connection.execute(_insert_seat(connection.dialect.name), values)
                if inserted.rowcount == 0:
                    raise _HeldAlready
        except _HeldAlready:
            return True
        return True

    async def release(self, platform_id: str, learner_id: str) -> bool:
        where = (seats.c.platform_id == platform_id) & (seats.c.learner_id == learner_id)
        return await self._release(platform_id, delete(seats).where(where)) == 1

    async def release_idle(self, platform_id: str, idle_before: float) -> int:
        idle = select(learners.c.id).where(
            learners.c.platform_id == platform_id,
            func.coalesce(learners.c.last_launch_at, 0.0) < idle_before,
        )
        statement = delete(seats).where(
            seats.c.platform_id == platform_id,
            seats.c.allocated_at < idle_before,
            seats.c.learner_id.in_(idle),
        )
        return await self._release(platform_id, statement)

    async def _release(self, platform_id: str, statement: Delete) -> int:
        """Run a DELETE of seats of `platform_id` and take as many off the counter, in one transaction."""
        async with transaction(self._engine) as connection:
            if (await connection.execute(_LOCK, {"platform_id": platform_id})).rowcount == 0:
                return 0
            count = (await connection.execute(statement)).rowcount
            if count:
                await connection.execute(_GIVE_BACK, {"platform_id": platform_id, "count": count})
        return count

    async def usage(self, platform_id: str) -> SeatUsage | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(_USAGE, {"platform_id": platform_id})).first()
        return None if row is None else seat_usage(platform_id, licensed=row.seats, used=row.seats_used)

    async def get(self, platform_id: str, learner_id: str) -> Seat | None:
        statement = _HOLDER.where(seats.c.platform_id == platform_id, seats.c.learner_id == learner_id)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _holder(row).seat

    async def list(self, platform_id: str, *, limit: int, offset: int) -> builtins.list[SeatHolder]:
        statement = (
            _HOLDER.where(seats.c.platform_id == platform_id)
            .order_by(seats.c.allocated_at, seats.c.learner_id)
            .limit(max(0, min(limit, MAX_LIST)))
            .offset(max(0, offset))
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_holder(row) for row in rows]

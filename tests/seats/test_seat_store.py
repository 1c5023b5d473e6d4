"""The learner and seat stores, and the Seats use case over them, on SQLite and PostgreSQL: one upsert per
visit, the counter equal to the seats after every change, idle releases by the clock, and the cap under
concurrent allocations through the pool.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import statement_engine
from ltigate.db.learners import SqlLearnerStore
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.seats import SqlSeatStore
from ltigate.lti.errors import SeatsExhausted
from ltigate.lti.roles import MEMBERSHIP
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.records import LearnerFilter, LearnerProfile, LearnerVisit, PlatformFields, SeatUsage
from ltigate.services.seats import DAY, Seats

pytestmark = pytest.mark.anyio

LEARNER = (MEMBERSHIP + "Learner",)
FIELDS = PlatformFields(
    name="Moodle",
    issuer="https://moodle.example.edu",
    client_id="c1",
    auth_url="https://moodle.example.edu/auth",
    token_url="https://moodle.example.edu/token",
    jwks_url="https://moodle.example.edu/jwks",
    seats=2,
)


async def platform(engine: AsyncEngine, seats: int, platform_id: str = "p1") -> None:
    fields = replace(FIELDS, seats=seats, client_id=platform_id)
    await SqlPlatformStore(engine).create(platform_id, fields, now=1.0)


async def counted(engine: AsyncEngine, platform_id: str = "p1") -> tuple[int, int]:
    """(platforms.seats_used, rows in seats): the two must always be equal."""
    async with engine.connect() as connection:
        used = (
            await connection.execute(text("SELECT seats_used FROM platforms WHERE id = :p"), {"p": platform_id})
        ).scalar()
        rows = (
            await connection.execute(text("SELECT count(*) FROM seats WHERE platform_id = :p"), {"p": platform_id})
        ).scalar()
    return int(used or 0), int(rows or 0)


def profile(sub: str, **details: str | None) -> LearnerProfile:
    return LearnerProfile(sub=sub, **details)  # type: ignore[arg-type]


async def test_a_visit_is_one_statement_that_creates_then_finds_the_learner(engine: AsyncEngine) -> None:
    await platform(engine, seats=0)
    learners = SqlLearnerStore(engine)
    statements: list[str] = []
    sync = statement_engine(engine)

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(sync, "before_cursor_execute", count)
    try:
        created = await learners.visit("id-1", "p1", profile("s", email="a@x", name="Ada"), now=10.0)
        found = await learners.visit("id-2", "p1", profile("s", email="a@x", name="Ada"), now=20.0)
    finally:
        event.remove(sync, "before_cursor_execute", count)
    assert len(statements) == 2  # one upsert per visit: no read before the write
    assert created.learner.id == found.learner.id == "id-1"
    assert (found.learner.created_at, found.learner.updated_at, found.learner.last_launch_at) == (10.0, 10.0, 20.0)
    assert not found.seated

    changed = await learners.visit("id-3", "p1", profile("s", email="b@x"), now=30.0)
    assert (changed.learner.email, changed.learner.name, changed.learner.updated_at) == ("b@x", "Ada", 30.0)
    assert await learners.get("id-1") == changed.learner
    assert await learners.get("id-3") is None


async def test_allocation_counts_each_learner_once_and_stops_at_the_cap(engine: AsyncEngine) -> None:
    await platform(engine, seats=2)
    learners, seats = SqlLearnerStore(engine), SqlSeatStore(engine)
    for n in range(3):
        await learners.visit(f"l{n}", "p1", profile(f"s{n}"), now=1.0)
    assert await seats.allocate("p1", "l0", now=2.0)
    assert await seats.allocate("p1", "l0", now=3.0)  # as a concurrent first launch would: held, not counted twice
    assert await counted(engine) == (1, 1)
    assert (await learners.visit("x", "p1", profile("s0"), now=4.0)).seated
    assert await seats.allocate("p1", "l1", now=5.0)
    assert not await seats.allocate("p1", "l2", now=6.0)
    assert await counted(engine) == (2, 2)
    assert await seats.usage("p1") == SeatUsage("p1", seats_licensed=2, used=2, remaining=0)
    assert await seats.usage("nope") is None
    assert [h.learner.sub for h in await seats.list("p1", limit=10, offset=0)] == ["s0", "s1"]

    assert await seats.release("p1", "l0")
    assert not await seats.release("p1", "l0")
    assert await counted(engine) == (1, 1)
    assert await seats.allocate("p1", "l2", now=7.0)
    assert await counted(engine) == (2, 2)


async def test_the_use_case_admits_staff_and_seated_learners_and_names_the_cap(engine: AsyncEngine) -> None:
    await platform(engine, seats=1)
    learners, store = SqlLearnerStore(engine), SqlSeatStore(engine)
    now = [1000.0 * DAY]
    seats = Seats(store, lambda: now[0])
    stored = await SqlPlatformStore(engine).get("p1")
    assert stored is not None

    async def admit(sub: str, roles: tuple[str, ...] = LEARNER) -> LearnerVisit:
        visit = await learners.visit(f"id-{sub}", "p1", profile(sub), now=now[0])
        await seats.admit(stored, visit, roles, now[0])
        return visit

    await admit("ada")
    await admit("ada")
    await admit("teacher", (MEMBERSHIP + "Instructor",))
    with pytest.raises(SeatsExhausted) as caught:
        await admit("grace")
    assert (caught.value.code, caught.value.status, caught.value.culprit.value) == ("seats_exhausted", 403, "config")
    assert str(caught.value) == (
        "all seats are taken: platform 'Moodle' has 1 seats licensed and 1 in use, and this learner holds none; "
        "an administrator can release seats or raise the number"
    )

    now[0] += 31 * DAY
    assert await seats.release_idle("p1", days=31) == 0  # idle exactly 31 days: not yet more than
    now[0] += 1
    assert await seats.release_idle("p1", days=31) == 1
    assert await counted(engine) == (0, 0)
    await admit("grace")
    assert await seats.get("p1", "id-grace") is not None and await seats.get("p1", "id-ada") is None

    with pytest.raises(InvalidField, match="days is 0; give a number of days from 1 to 36500"):
        await seats.release_idle("p1", days=0)
    with pytest.raises(NotFound, match="platform 'nope' does not exist"):
        await seats.release_idle("nope", days=3)
    with pytest.raises(NotFound, match="learner 'id-ada' holds no seat on platform 'p1'"):
        await seats.release("p1", "id-ada")


async def test_learners_are_listed_latest_launch_first_and_filtered(engine: AsyncEngine) -> None:
    await platform(engine, seats=0)
    await platform(engine, seats=0, platform_id="p2")
    learners = SqlLearnerStore(engine)
    await learners.visit("a", "p1", profile("s-a", name="Ada Lovelace"), now=1.0)
    await learners.visit("b", "p1", profile("s-b", email="GRACE@navy.example"), now=2.0)
    await learners.visit("c", "p2", profile("s-c", family_name="Lovelace"), now=3.0)
    assert [x.id for x in await learners.list(LearnerFilter())] == ["c", "b", "a"]
    assert [x.id for x in await learners.list(LearnerFilter(platform_id="p1"))] == ["b", "a"]
    assert [x.id for x in await learners.list(LearnerFilter(q="lovelace"))] == ["c", "a"]
    assert [x.id for x in await learners.list(LearnerFilter(q="grace@NAVY"))] == ["b"]
    assert [x.id for x in await learners.list(LearnerFilter(limit=1, offset=1))] == ["b"]


async def test_concurrent_allocations_through_the_pool_never_pass_the_cap(engine: AsyncEngine) -> None:
    await platform(engine, seats=50)
    learners, seats = SqlLearnerStore(engine), SqlSeatStore(engine)
    for n in range(200):
        await learners.visit(f"l{n}", "p1", profile(f"s{n}"), now=1.0)
    # Twice each learner, so concurrent first launches of one learner meet as well.
    outcomes = await asyncio.gather(*(seats.allocate("p1", f"l{n % 200}", now=2.0) for n in range(400)))
    holders = {h.learner.id for h in await seats.list("p1", limit=500, offset=0)}
    assert await counted(engine) == (50, 50)
    assert sum(outcomes) == 100  # the 50 holders, each twice
    assert all(outcomes[n] == (f"l{n % 200}" in holders) for n in range(400))

"""SqlRosterStore: contexts seen in launches, rosters streamed page by page, and the roster joined with each
member's latest launch and its grade delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.launches import SqlLaunchLog
from ltigate.db.outbox import SqlScoreOutbox
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.rosters import SqlRosterStore
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import (
    ContextRecord,
    DeliveryStatus,
    LaunchOutcome,
    LaunchRecord,
    Member,
    PlatformFields,
    RosterEntry,
    Score,
    ScoreJob,
    ScoreTarget,
)

pytestmark = pytest.mark.anyio

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = MEMBERSHIP + "Learner"
INSTRUCTOR = MEMBERSHIP + "Instructor"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
NRPS = "https://lms.test/api/lti/courses/7/names_and_roles"


def fields(client_id: str) -> PlatformFields:
    return PlatformFields(
        name="LMS",
        issuer="https://lms.test",
        client_id=client_id,
        auth_url="https://lms.test/auth",
        token_url="https://lms.test/token",
        jwks_url="https://lms.test/jwks",
    )


@pytest.fixture
async def store(engine: AsyncEngine) -> SqlRosterStore:
    platforms = SqlPlatformStore(engine)
    await platforms.create("p1", fields("1"), now=1.0)
    await platforms.create("p2", fields("2"), now=1.0)
    return SqlRosterStore(engine)


@pytest.fixture
async def course(store: SqlRosterStore) -> ContextRecord:
    return await store.upsert_context(
        "p1", "course-7", title="Statistics", label="STAT 7", memberships_url=NRPS, now=5.0, deployment_id="1:abc"
    )


def learner(n: int, **changes: object) -> Member:
    member = Member(
        user_id=f"u{n:05}",
        roles=(LEARNER,),
        name=f"Given{n:05} Family{n:05}",
        given_name=f"Given{n:05}",
        family_name=f"Family{n:05}",
        email=f"u{n}@school.test",
    )
    return replace(member, **changes)  # type: ignore[arg-type]


async def paged(members: Iterable[Member], size: int) -> AsyncIterator[Sequence[Member]]:
    page: list[Member] = []
    for member in members:
        page.append(member)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


async def all_members(store: SqlRosterStore, key: str, role: str | None = None) -> list[Member]:
    found: list[Member] = []
    while page := await store.members(key, role=role, limit=500, offset=len(found)):
        found.extend(entry.member for entry in page)
    return found


# --- contexts ---------------------------------------------------------------------------------


async def test_upsert_context_creates_then_refreshes(store: SqlRosterStore, course: ContextRecord) -> None:
    assert (course.platform_id, course.context_id, course.title, course.label) == (
        "p1",
        "course-7",
        "Statistics",
        "STAT 7",
    )
    assert (course.memberships_url, course.synced_at, course.member_count) == (NRPS, None, 0)
    assert course.deployment_id == "1:abc"
    assert len(course.id) == 32
    renamed = await store.upsert_context(
        "p1", "course-7", title="Statistics II", label=None, memberships_url=None, now=6.0
    )
    assert renamed == replace(course, title="Statistics II")  # None keeps what is stored
    moved = await store.upsert_context(
        "p1", "course-7", title=None, label=None, memberships_url=NRPS + "?v=2", now=6.5, deployment_id="2:def"
    )
    assert moved == replace(renamed, memberships_url=NRPS + "?v=2", deployment_id="2:def")
    renamed = moved
    assert await store.get_context(course.id) == renamed
    assert await store.find_context("p1", "course-7") == renamed
    other = await store.upsert_context("p2", "course-7", title=None, label=None, memberships_url=None, now=7.0)
    assert other.id != course.id
    assert (other.title, other.memberships_url, other.deployment_id) == (None, None, None)


async def test_unknown_contexts(store: SqlRosterStore) -> None:
    assert await store.get_context("nope") is None
    assert await store.find_context("p1", "nope") is None
    with pytest.raises(NotFound, match=r"^no platform with id 'nope'$"):
        await store.upsert_context("nope", "c", title=None, label=None, memberships_url=None, now=1.0)


async def test_list_contexts_most_recent_first(store: SqlRosterStore) -> None:
    a = await store.upsert_context("p1", "a", title="A", label=None, memberships_url=None, now=1.0)
    b = await store.upsert_context("p2", "b", title="B", label=None, memberships_url=None, now=2.0)
    c = await store.upsert_context("p1", "c", title="C", label=None, memberships_url=None, now=3.0)
    a = await store.upsert_context("p1", "a", title=None, label=None, memberships_url=None, now=4.0)
    assert await store.list_contexts(None, limit=10) == [a, c, b]
    assert await store.list_contexts("p1", limit=10) == [a, c]
    assert await store.list_contexts(None, limit=1) == [a]
    assert await store.list_contexts("p3", limit=10) == []


# --- roster sync ------------------------------------------------------------------------------


async def test_replace_members_streams_2000_members_then_removes_the_missing(
    store: SqlRosterStore, course: ContextRecord
) -> None:
    first = [learner(n) for n in range(2_000)]
    assert await store.replace_members(course.id, paged(first, 50), now=10.0) == 2_000
    synced = await store.get_context(course.id)
    assert synced is not None and (synced.member_count, synced.synced_at) == (2_000, 10.0)
    assert await all_members(store, course.id) == first

    # The second sync: every tenth member gone, one renamed and made instructor, five new.
    second = [m for m in first if int(m.user_id[1:]) % 10 != 0]
    second[0] = replace(second[0], roles=(INSTRUCTOR,), family_name="Aaron", name="Ann Aaron", status="Inactive")
    second += [learner(n) for n in range(5_000, 5_005)]
    assert await store.replace_members(course.id, paged(second, 50), now=20.0) == 1_805
    synced = await store.get_context(course.id)
    assert synced is not None and (synced.member_count, synced.synced_at) == (1_805, 20.0)
    expected = sorted(second, key=lambda m: (m.family_name, m.name, m.user_id))
    assert await all_members(store, course.id) == expected
    assert expected[0].family_name == "Aaron"


async def test_replace_members_writes_each_page_before_reading_the_next(
    store: SqlRosterStore, course: ContextRecord, engine: AsyncEngine
) -> None:
    """Pages are stored as they come: the store never holds more than one page."""
    stored_before: list[int] = []

    async def pages() -> AsyncIterator[Sequence[Member]]:
        for start in range(0, 200, 50):
            async with engine.connect() as connection:
                count = await connection.execute(text("SELECT count(*) FROM members"))
                stored_before.append(int(count.scalar_one()))
            yield [learner(n) for n in range(start, start + 50)]

    assert await store.replace_members(course.id, pages(), now=10.0) == 200
    assert stored_before == [0, 50, 100, 150]


async def test_replace_members_is_scoped_to_its_context(store: SqlRosterStore, course: ContextRecord) -> None:
    other = await store.upsert_context("p1", "course-8", title=None, label=None, memberships_url=None, now=5.0)
    await store.replace_members(other.id, paged([learner(1), learner(2)], 50), now=9.0)
    assert await store.replace_members(course.id, paged([learner(2), learner(3)], 50), now=10.0) == 2
    assert await store.replace_members(course.id, paged([], 50), now=11.0) == 0
    assert [m.user_id for m in await all_members(store, other.id)] == ["u00001", "u00002"]
    assert await all_members(store, course.id) == []


async def test_a_user_seen_twice_keeps_the_last_entry(store: SqlRosterStore, course: ContextRecord) -> None:
    page = [learner(1), learner(2), learner(1, name="Later")]
    assert await store.replace_members(course.id, paged(page, 50), now=10.0) == 2
    repeated = [learner(1), learner(2), learner(2, name="Next page")]
    assert await store.replace_members(course.id, paged(repeated, 2), now=11.0) == 2
    assert [m.name for m in await all_members(store, course.id)] == ["Given00001 Family00001", "Next page"]


async def test_replace_members_of_an_unknown_context(store: SqlRosterStore) -> None:
    with pytest.raises(NotFound, match=r"^no context with key 'nope'$"):
        await store.replace_members("nope", paged([learner(1)], 50), now=1.0)


async def test_a_failing_sync_keeps_the_pages_stored_and_removes_nothing(
    store: SqlRosterStore, course: ContextRecord
) -> None:
    await store.replace_members(course.id, paged([learner(n) for n in range(10)], 50), now=10.0)

    async def broken() -> AsyncIterator[Sequence[Member]]:
        yield [learner(n, name="Renamed") for n in range(20, 25)]
        raise RuntimeError("the platform stopped answering")

    with pytest.raises(RuntimeError):
        await store.replace_members(course.id, broken(), now=20.0)
    assert len(await all_members(store, course.id)) == 15
    unchanged = await store.get_context(course.id)
    assert unchanged is not None and (unchanged.member_count, unchanged.synced_at) == (10, 10.0)


async def test_an_older_sync_stops_when_a_newer_one_started(store: SqlRosterStore, course: ContextRecord) -> None:
    newer = [learner(n) for n in range(100, 130)]

    closed: list[bool] = []

    async def interrupted() -> AsyncIterator[Sequence[Member]]:
        try:
            yield [learner(n) for n in range(0, 50)]
            # Another node syncs the same course to the end meanwhile.
            assert await store.replace_members(course.id, paged(newer, 10), now=15.0) == 30
            yield [learner(n) for n in range(50, 100)]
            yield [learner(n) for n in range(100, 150)]
        finally:
            closed.append(True)

    with pytest.raises(Conflict, match="a newer roster sync of context"):
        await store.replace_members(course.id, interrupted(), now=10.0)
    assert closed == [True]  # the pages still to come are not fetched
    assert await all_members(store, course.id) == newer
    synced = await store.get_context(course.id)
    assert synced is not None and (synced.member_count, synced.synced_at) == (30, 15.0)


# --- the roster -------------------------------------------------------------------------------


async def test_role_filter_with_short_and_full_names(store: SqlRosterStore, course: ContextRecord) -> None:
    roster = [
        Member("learner", (LEARNER,), family_name="A"),
        Member("teacher", (INSTRUCTOR, ADMIN), family_name="B"),
        Member("assistant", (TEACHING_ASSISTANT,), family_name="C"),
        Member("both", (INSTRUCTOR, LEARNER), family_name="D"),
        Member("legacy", ("Learner",), family_name="E"),  # a platform sending the short name
        Member("odd%_", ("Learner_x",), family_name="F"),
    ]
    await store.replace_members(course.id, paged(roster, 50), now=10.0)

    async def ids(role: str | None) -> list[str]:
        return [m.user_id for m in await all_members(store, course.id, role)]

    assert await ids("Learner") == ["learner", "both", "legacy"]
    assert await ids(LEARNER) == ["learner", "both"]
    assert await ids("Instructor") == ["teacher", "both"]  # not the sub-role
    assert await ids(TEACHING_ASSISTANT) == ["assistant"]
    assert await ids(ADMIN) == ["teacher"]
    assert await ids("learner") == []  # role names are case-sensitive on both databases
    assert await ids("Learner%") == []
    assert await ids("Learner_") == []
    assert await ids("Mentor") == []
    assert await ids(None) == ["learner", "teacher", "assistant", "both", "legacy", "odd%_"]
    assert await ids("") == await ids(None)


async def test_members_order_limit_and_offset(store: SqlRosterStore, course: ContextRecord) -> None:
    roster = [
        Member("u3", (LEARNER,), name="Zed", family_name="Berg"),
        Member("u1", (LEARNER,), name="Amy", family_name="Berg"),
        Member("u2", (LEARNER,), name=None, family_name=None),  # no names shared: last
        Member("u4", (LEARNER,), name="Bob", family_name="Adams"),
        Member("u0", (LEARNER,), name=None, family_name=None),
    ]
    await store.replace_members(course.id, paged(roster, 2), now=10.0)
    order = ["u4", "u1", "u3", "u0", "u2"]
    assert [e.member.user_id for e in await store.members(course.id, role=None, limit=50, offset=0)] == order
    assert [e.member.user_id for e in await store.members(course.id, role=None, limit=2, offset=1)] == order[1:3]
    assert await store.members(course.id, role=None, limit=2, offset=10) == []
    assert await store.members("nope", role=None, limit=2, offset=0) == []


def launch(launch_id: str, at: float, sub: str, **changes: object) -> LaunchRecord:
    record = LaunchRecord(
        id=launch_id,
        created_at=at,
        outcome=LaunchOutcome.SUCCEEDED,
        platform_id="p1",
        sub=sub,
        context_id="course-7",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def score_job(job_id: str, launch_id: str, at: float, status: DeliveryStatus) -> ScoreJob:
    return ScoreJob(
        id=job_id,
        launch_id=launch_id,
        platform_id="p1",
        user_id="-",
        score=Score("Completed", "FullyGraded", "2025-01-01T00:00:00.000+00:00", 1.0, 1.0),
        target=ScoreTarget("https://lms.test/li/1", None, None, None, None, None),
        status=status,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )


async def test_members_with_their_latest_launch_and_its_delivery(
    store: SqlRosterStore, course: ContextRecord, engine: AsyncEngine
) -> None:
    roster = [
        Member("ann", (LEARNER,), family_name="A"),
        Member("ben", (LEARNER,), family_name="B"),
        Member("cat", (LEARNER,), family_name="C"),
        Member("dan", (INSTRUCTOR,), family_name="D"),
    ]
    await store.replace_members(course.id, paged(roster, 50), now=10.0)
    log, outbox = SqlLaunchLog(engine), SqlScoreOutbox(engine)
    for record in (
        launch("ann-1", 100.0, "ann"),
        launch("ann-2", 200.0, "ann"),  # ann's latest
        launch("ann-failed", 300.0, "ann", outcome=LaunchOutcome.FAILED, error_code="nonce_replayed"),
        launch("ann-elsewhere", 400.0, "ann", context_id="course-8"),
        launch("ann-other-platform", 500.0, "ann", platform_id="p2"),
        launch("ben-1", 150.0, "ben"),
        launch("dan-1", 50.0, "dan"),
    ):
        await log.record(record)
    for queued in (
        score_job("j-ann-1", "ann-1", 101.0, DeliveryStatus.DELIVERED),
        score_job("j-ann-2a", "ann-2", 201.0, DeliveryStatus.DELIVERED),
        score_job("j-ann-2b", "ann-2", 202.0, DeliveryStatus.FAILED),  # the newest job of the latest launch
        score_job("j-other", "ann-elsewhere", 401.0, DeliveryStatus.PENDING),
        score_job("j-dan", "dan-1", 51.0, DeliveryStatus.SKIPPED),
    ):
        await outbox.enqueue(queued)

    entries = await store.members(course.id, role=None, limit=50, offset=0)
    assert [(e.member.user_id, e.last_launch_id, e.last_launch_at, e.delivery) for e in entries] == [
        ("ann", "ann-2", 200.0, DeliveryStatus.FAILED),
        ("ben", "ben-1", 150.0, None),  # launched, no score yet
        ("cat", None, None, None),  # never launched
        ("dan", "dan-1", 50.0, DeliveryStatus.SKIPPED),
    ]
    assert entries[0] == RosterEntry(roster[0], "ann-2", 200.0, DeliveryStatus.FAILED)
    learners = await store.members(course.id, role="Learner", limit=1, offset=1)
    assert [(e.member.user_id, e.last_launch_id) for e in learners] == [("ben", "ben-1")]


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Every statement any engine runs meanwhile (whichever engine a store's transactions use)."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_a_roster_page_is_one_query(store: SqlRosterStore, course: ContextRecord, engine: AsyncEngine) -> None:
    await store.replace_members(course.id, paged([learner(n) for n in range(120)], 50), now=10.0)
    log = SqlLaunchLog(engine)
    for n in range(0, 120, 2):
        await log.record(launch(f"l{n}", float(n), f"u{n:05}"))
    with counted_statements() as statements:
        entries = await store.members(course.id, role="Learner", limit=100, offset=10)
    assert len(entries) == 100
    assert sum(e.last_launch_id is not None for e in entries) == 50
    assert len([s for s in statements if "members" in s]) == 1

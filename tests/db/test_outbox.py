"""SqlScoreOutbox: jobs leased atomically to one claimer at a time, finished only under a live lease."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import replace

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import create_engine
from ltigate.db.outbox import SqlScoreOutbox
from ltigate.services.errors import Conflict
from ltigate.services.records import DeliveryStatus, JobFilter, JobResult, Score, ScoreJob, ScoreTarget

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0
SCORE = Score(
    activity_progress="Completed",
    grading_progress="FullyGraded",
    timestamp="2025-01-02T03:04:05.678+00:00",
    score_given=83.5,
    score_maximum=100.0,
    comment="Très bien — «exceptional» work.",
)
TARGET = ScoreTarget(
    lineitem_url=None,
    lineitems_url="https://lms.test/courses/7/lineitems",
    resource_link_id="link-3",
    resource_id="quiz",
    label="Quiz",
    score_maximum=100.0,
    deployment_id="1:abc",
)


def job(
    job_id: str, *, launch_id: str = "l1", created_at: float = NOW, next_attempt_at: float | None = None
) -> ScoreJob:
    return ScoreJob(
        id=job_id,
        launch_id=launch_id,
        platform_id="p1",
        user_id="user-1",
        score=SCORE,
        target=TARGET,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=created_at if next_attempt_at is None else next_attempt_at,
        created_at=created_at,
        updated_at=created_at,
    )


# Many jobs at once, straight into the table (enqueue is one transaction per job).
_INSERT = (
    "INSERT INTO score_jobs (id, launch_id, platform_id, user_id, score, status, attempts, next_attempt_at,"
    " created_at, updated_at) VALUES (:id, :launch_id, :platform_id, :user_id, :score, :status, :attempts,"
    " :next_attempt_at, :created_at, :updated_at)"
)


def _row(job_id: str) -> dict[str, object]:
    score = '{"activity_progress":"Completed","grading_progress":"FullyGraded","timestamp":"t"}'
    return {
        "id": job_id,
        "launch_id": "l1",
        "platform_id": "p1",
        "user_id": "u",
        "score": score,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


@pytest.fixture
def outbox(engine: AsyncEngine) -> SqlScoreOutbox:
    return SqlScoreOutbox(engine)


async def test_enqueue_and_get_keep_every_field(outbox: SqlScoreOutbox) -> None:
    queued = job("j1")
    await outbox.enqueue(queued)
    assert await outbox.get("j1") == queued
    assert await outbox.get("nope") is None
    bare = replace(
        job("j2"),
        score=Score("Initialized", "NotReady", "2025-01-02T03:04:05.000+00:00"),
        target=ScoreTarget("https://lms.test/li/1", None, None, None, None, None),
    )
    await outbox.enqueue(bare)
    assert await outbox.get("j2") == bare


async def test_enqueue_refuses_a_taken_id(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    with pytest.raises(Conflict, match=r"^a score job with id 'j1' exists already$"):
        await outbox.enqueue(job("j1"))


async def test_claim_leases_due_jobs_earliest_first(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("late", next_attempt_at=NOW + 10))
    await outbox.enqueue(job("b", next_attempt_at=NOW - 1))
    await outbox.enqueue(job("a", next_attempt_at=NOW - 2))
    await outbox.enqueue(job("c", next_attempt_at=NOW))
    await outbox.enqueue(replace(job("done"), status=DeliveryStatus.DELIVERED))
    first = await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=2)
    assert [j.id for j in first] == ["a", "b"]
    assert all((j.lease_owner, j.lease_until, j.attempts) == ("w1", NOW + 30, 0) for j in first)
    assert [j.id for j in await outbox.claim(owner="w2", now=NOW, lease_seconds=30, limit=10)] == ["c"]
    assert await outbox.claim(owner="w3", now=NOW, lease_seconds=30, limit=10) == []
    assert await outbox.claim(owner="w3", now=NOW, lease_seconds=30, limit=0) == []
    stored = await outbox.get("a")
    assert stored is not None
    assert (stored.lease_owner, stored.lease_until, stored.updated_at) == ("w1", NOW + 30, NOW)


async def test_an_expired_lease_is_claimed_again_and_the_first_owner_loses_it(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    assert [j.id for j in await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=5)] == ["j1"]
    assert await outbox.claim(owner="w2", now=NOW + 29, lease_seconds=30, limit=5) == []
    assert await outbox.claim(owner="w2", now=NOW + 30, lease_seconds=30, limit=5) == []  # until is inclusive
    again = await outbox.claim(owner="w2", now=NOW + 31, lease_seconds=30, limit=5)
    assert [(j.id, j.lease_owner, j.lease_until) for j in again] == [("j1", "w2", NOW + 61)]
    delivered = JobResult(DeliveryStatus.DELIVERED, http_status=200)
    assert await outbox.finish("j1", "w1", delivered, now=NOW + 32) is False
    assert await outbox.finish("j1", "w2", delivered, now=NOW + 33) is True


async def test_finish_delivered(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=1)
    result = JobResult(DeliveryStatus.DELIVERED, http_status=201, lineitem_url="https://lms.test/li/9")
    assert await outbox.finish("j1", "w1", result, now=NOW + 1) is True
    done = await outbox.get("j1")
    assert done == replace(
        job("j1"),
        status=DeliveryStatus.DELIVERED,
        attempts=1,
        updated_at=NOW + 1,
        delivered_at=NOW + 1,
        last_status=201,
        target=replace(TARGET, lineitem_url="https://lms.test/li/9"),
    )
    assert await outbox.finish("j1", "w1", result, now=NOW + 2) is False  # once only
    assert await outbox.claim(owner="w2", now=NOW + 100, lease_seconds=30, limit=1) == []


async def test_finish_pending_schedules_the_next_attempt(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    for attempt in (1, 2):
        claimed = await outbox.claim(owner="w1", now=NOW + attempt * 100, lease_seconds=30, limit=1)
        assert [j.attempts for j in claimed] == [attempt - 1]
        later = JobResult(
            DeliveryStatus.PENDING, next_attempt_at=NOW + attempt * 100 + 60, error="HTTP 503", http_status=503
        )
        assert await outbox.finish("j1", "w1", later, now=NOW + attempt * 100 + 1) is True
        assert await outbox.claim(owner="w2", now=NOW + attempt * 100 + 59, lease_seconds=30, limit=1) == []
    waiting = await outbox.get("j1")
    assert waiting is not None
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == (DeliveryStatus.PENDING, 2, NOW + 260)
    assert (waiting.last_error, waiting.last_status, waiting.lease_owner, waiting.lease_until) == (
        "HTTP 503",
        503,
        None,
        None,
    )
    assert waiting.target == TARGET  # no line item in the result: the target is unchanged
    assert waiting.delivered_at is None


async def test_finish_pending_without_a_time_is_due_at_once(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=1)
    assert await outbox.finish("j1", "w1", JobResult(DeliveryStatus.PENDING, error="network"), now=NOW + 5)
    assert [j.id for j in await outbox.claim(owner="w2", now=NOW + 5, lease_seconds=30, limit=1)] == ["j1"]


@pytest.mark.parametrize("status", [DeliveryStatus.FAILED, DeliveryStatus.SKIPPED])
async def test_finish_failed_or_skipped(outbox: SqlScoreOutbox, status: DeliveryStatus) -> None:
    await outbox.enqueue(job("j1"))
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=1)
    result = JobResult(status, error="HTTP 422: scoreMaximum missing", http_status=422)
    assert await outbox.finish("j1", "w1", result, now=NOW + 1) is True
    ended = await outbox.get("j1")
    assert ended is not None
    assert (ended.status, ended.attempts, ended.last_error, ended.last_status) == (
        status,
        1,
        "HTTP 422: scoreMaximum missing",
        422,
    )
    assert (ended.delivered_at, ended.lease_owner, ended.next_attempt_at) == (None, None, NOW)
    assert await outbox.claim(owner="w2", now=NOW + 100, lease_seconds=30, limit=1) == []


async def test_finish_without_the_lease_changes_nothing(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    delivered = JobResult(DeliveryStatus.DELIVERED, http_status=200)
    assert await outbox.finish("j1", "w1", delivered, now=NOW) is False  # never claimed
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=1)
    assert await outbox.finish("j1", "w2", delivered, now=NOW) is False  # another owner
    assert await outbox.finish("nope", "w1", delivered, now=NOW) is False
    unchanged = await outbox.get("j1")
    assert unchanged is not None
    assert (unchanged.status, unchanged.attempts, unchanged.lease_owner) == (DeliveryStatus.PENDING, 0, "w1")


async def test_retry_makes_a_failed_job_pending_and_due_now(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1"))
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=1)
    await outbox.finish("j1", "w1", JobResult(DeliveryStatus.FAILED, error="HTTP 403", http_status=403), now=NOW + 1)
    retried = await outbox.retry("j1", now=NOW + 50)
    assert retried is not None
    assert (retried.status, retried.next_attempt_at, retried.updated_at, retried.lease_owner) == (
        DeliveryStatus.PENDING,
        NOW + 50,
        NOW + 50,
        None,
    )
    assert (retried.attempts, retried.last_error) == (1, "HTTP 403")  # the history is kept
    assert await outbox.get("j1") == retried
    assert [j.id for j in await outbox.claim(owner="w2", now=NOW + 50, lease_seconds=30, limit=1)] == ["j1"]
    assert await outbox.retry("nope", now=NOW) is None


async def test_retry_leaves_delivered_and_leased_jobs_alone(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(replace(job("done"), status=DeliveryStatus.DELIVERED, delivered_at=NOW))
    await outbox.enqueue(job("busy"))
    await outbox.enqueue(job("waiting", next_attempt_at=NOW + 600))
    await outbox.claim(owner="w1", now=NOW, lease_seconds=30, limit=5)
    delivered = await outbox.get("done")
    assert await outbox.retry("done", now=NOW + 1) == delivered
    leased = await outbox.get("busy")
    assert await outbox.retry("busy", now=NOW + 1) == leased
    assert leased is not None and leased.lease_owner == "w1"
    waiting = await outbox.retry("waiting", now=NOW + 1)  # pending, nobody holds it: made due now
    assert waiting is not None and waiting.next_attempt_at == NOW + 1
    expired = await outbox.retry("busy", now=NOW + 31)  # the lease ran out
    assert expired is not None and (expired.lease_owner, expired.next_attempt_at) == (None, NOW + 31)


async def test_list_filters_newest_first(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("j1", launch_id="l1", created_at=1.0))
    await outbox.enqueue(replace(job("j2", launch_id="l2", created_at=2.0), platform_id="p2"))
    await outbox.enqueue(replace(job("j3", launch_id="l1", created_at=3.0), status=DeliveryStatus.FAILED))
    assert [j.id for j in await outbox.list(JobFilter())] == ["j3", "j2", "j1"]
    assert [j.id for j in await outbox.list(JobFilter(limit=2))] == ["j3", "j2"]
    assert [j.id for j in await outbox.list(JobFilter(status=DeliveryStatus.PENDING))] == ["j2", "j1"]
    assert [j.id for j in await outbox.list(JobFilter(platform_id="p2"))] == ["j2"]
    assert [j.id for j in await outbox.list(JobFilter(launch_id="l1"))] == ["j3", "j1"]
    assert [j.id for j in await outbox.list(JobFilter(launch_id="l1", status=DeliveryStatus.FAILED))] == ["j3"]
    assert await outbox.list(JobFilter(limit=-1)) == []


async def test_list_is_capped_at_500(outbox: SqlScoreOutbox, engine: AsyncEngine) -> None:
    rows = [{**_row(f"j{n:03}"), "created_at": float(n)} for n in range(501)]
    async with engine.begin() as connection:
        await connection.execute(text(_INSERT), rows)
    listed = await outbox.list(JobFilter(limit=10_000))
    assert len(listed) == 500
    assert listed[0].id == "j500"


async def test_latest_by_launch(outbox: SqlScoreOutbox) -> None:
    await outbox.enqueue(job("a1", launch_id="la", created_at=1.0))
    await outbox.enqueue(job("a2", launch_id="la", created_at=3.0))
    await outbox.enqueue(job("a0", launch_id="la", created_at=2.0))
    await outbox.enqueue(job("b1", launch_id="lb", created_at=5.0))
    await outbox.enqueue(job("c1", launch_id="lc", created_at=1.0))
    await outbox.enqueue(job("c2", launch_id="lc", created_at=1.0))  # a tie: the greater id
    latest = await outbox.latest_by_launch(["la", "lb", "lc", "none", "la"])
    assert {launch: j.id for launch, j in latest.items()} == {"la": "a2", "lb": "b1", "lc": "c2"}
    assert latest["la"] == await outbox.get("a2")
    assert await outbox.latest_by_launch([]) == {}


async def test_latest_by_launch_of_many_launches(outbox: SqlScoreOutbox, engine: AsyncEngine) -> None:
    rows = [{**_row(f"j{n}"), "launch_id": f"l{n}"} for n in range(1_200)]
    async with engine.begin() as connection:
        await connection.execute(text(_INSERT), rows)
    latest = await outbox.latest_by_launch([f"l{n}" for n in range(1_300)])
    assert len(latest) == 1_200
    assert latest["l1199"].id == "j1199"


async def test_last_delivered(outbox: SqlScoreOutbox) -> None:
    line_item = "https://lms.test/li/1"
    on_line_item = replace(TARGET, lineitem_url=line_item)
    await outbox.enqueue(job("other-item", created_at=1.0, next_attempt_at=100.0))  # no line item in its target

    async def deliver(job_id: str, at: float, **changes: object) -> None:
        await outbox.enqueue(replace(job(job_id, created_at=at), target=on_line_item, **changes))  # type: ignore[arg-type]
        await outbox.claim(owner="w", now=at, lease_seconds=30, limit=1)
        await outbox.finish(job_id, "w", JobResult(DeliveryStatus.DELIVERED), now=at + 1)

    assert await outbox.last_delivered("p1", "user-1", line_item) is None
    await deliver("first", 10.0)
    await deliver("second", 20.0)
    await deliver("other-user", 30.0, user_id="user-2")
    await deliver("other-platform", 40.0, platform_id="p2")
    await outbox.enqueue(replace(job("still-pending", created_at=50.0), target=on_line_item))
    found = await outbox.last_delivered("p1", "user-1", line_item)
    assert found is not None and (found.id, found.delivered_at) == ("second", 21.0)
    assert await outbox.last_delivered("p1", "user-1", "https://lms.test/li/2") is None
    # A line item resolved by a delivery counts as the job's line item.
    await outbox.claim(owner="w", now=100.0, lease_seconds=30, limit=5)
    resolved = JobResult(DeliveryStatus.DELIVERED, lineitem_url="https://lms.test/li/2")
    assert await outbox.finish("other-item", "w", resolved, now=101.0)
    found = await outbox.last_delivered("p1", "user-1", "https://lms.test/li/2")
    assert found is not None and found.id == "other-item"


async def test_counts(outbox: SqlScoreOutbox) -> None:
    assert await outbox.counts() == dict.fromkeys(DeliveryStatus, 0)
    await outbox.enqueue(job("j1"))
    await outbox.enqueue(job("j2"))
    await outbox.enqueue(replace(job("j3"), status=DeliveryStatus.FAILED))
    await outbox.enqueue(replace(job("j4"), status=DeliveryStatus.DELIVERED))
    assert await outbox.counts() == {
        DeliveryStatus.PENDING: 2,
        DeliveryStatus.DELIVERED: 1,
        DeliveryStatus.FAILED: 1,
        DeliveryStatus.SKIPPED: 0,
    }


# --- concurrency ------------------------------------------------------------------------------

JOBS = 200
CLAIMERS = 8
BATCH = 10


async def _fill(engine: AsyncEngine) -> set[str]:
    ids = {f"job-{n:03}" for n in range(JOBS)}
    async with engine.begin() as connection:
        await connection.execute(text(_INSERT), [_row(i) for i in sorted(ids)])
    return ids


async def _claim_all(outbox: SqlScoreOutbox, owner: str, *, deliver: bool) -> list[str]:
    """Claim batches until none is left; with `deliver`, finish each job (so the lease is dropped at once)."""
    got: list[str] = []
    while batch := await outbox.claim(owner=owner, now=NOW, lease_seconds=300, limit=BATCH):
        assert len(batch) <= BATCH
        assert {j.lease_owner for j in batch} == {owner}
        got.extend(j.id for j in batch)
        for claimed in batch if deliver else ():
            assert await outbox.finish(claimed.id, owner, JobResult(DeliveryStatus.DELIVERED), now=NOW)
        await asyncio.sleep(0)
    return got


def _each_once(ids: set[str], claimed: dict[str, list[str]]) -> None:
    seen = Counter(i for got in claimed.values() for i in got)
    assert set(seen) == ids
    assert [i for i, n in seen.items() if n > 1] == []


@pytest.mark.parametrize("deliver", [False, True], ids=["leased", "delivered"])
async def test_concurrent_claimers_on_their_own_engines_get_each_job_once(
    engine: AsyncEngine, database_url: str, deliver: bool
) -> None:
    """Claimers as in separate processes: one engine (pool) each, all on one event loop."""
    ids = await _fill(engine)
    engines = [create_engine(database_url) for _ in range(CLAIMERS)]
    claimed: dict[str, list[str]] = {}
    try:

        async def run(n: int) -> None:
            claimed[f"w{n}"] = await _claim_all(SqlScoreOutbox(engines[n]), f"w{n}", deliver=deliver)

        async with anyio.create_task_group() as group:
            for n in range(CLAIMERS):
                group.start_soon(run, n)
    finally:
        for each in engines:
            await each.dispose()
    _each_once(ids, claimed)
    assert len([got for got in claimed.values() if got]) > 1  # the claimers did take turns
    counts = await SqlScoreOutbox(engine).counts()
    assert counts[DeliveryStatus.DELIVERED if deliver else DeliveryStatus.PENDING] == JOBS


async def test_concurrent_claimers_sharing_one_engine_get_each_job_once(engine: AsyncEngine) -> None:
    ids = await _fill(engine)
    outbox = SqlScoreOutbox(engine)
    claimed: dict[str, list[str]] = {}

    async def run(n: int) -> None:
        claimed[f"w{n}"] = await _claim_all(outbox, f"w{n}", deliver=True)

    async with anyio.create_task_group() as group:
        for n in range(CLAIMERS):
            group.start_soon(run, n)
    _each_once(ids, claimed)
    assert len([got for got in claimed.values() if got]) > 1


async def test_claimers_in_threads_get_each_job_once(engine: AsyncEngine, database_url: str) -> None:
    """Claimers in threads, each with its own event loop and engine: real contention for the database,
    whatever the engine does on one event loop."""
    ids = await _fill(engine)
    barrier = threading.Barrier(CLAIMERS)
    claimed: dict[str, list[str]] = {}

    async def claimer(owner: str) -> list[str]:
        own = create_engine(database_url)
        try:
            return await _claim_all(SqlScoreOutbox(own), owner, deliver=False)
        finally:
            await own.dispose()

    def thread(owner: str) -> None:
        barrier.wait(timeout=30)
        claimed[owner] = asyncio.run(claimer(owner))

    async with anyio.create_task_group() as group:
        for n in range(CLAIMERS):
            group.start_soon(anyio.to_thread.run_sync, thread, f"w{n}")
    _each_once(ids, claimed)
    async with engine.connect() as connection:
        owners: dict[str, str] = dict((await connection.execute(text("SELECT id, lease_owner FROM score_jobs"))).all())
    assert owners == {i: owner for owner, got in claimed.items() for i in got}

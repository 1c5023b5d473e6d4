"""The grade outbox (the ScoreOutbox port): score jobs claimed by workers under a lease, atomically across
processes, and finished only by the worker that still holds the lease.

The claim is one UPDATE whose WHERE picks the due jobs: on PostgreSQL the pick is a
`SELECT … FOR UPDATE SKIP LOCKED` evaluated once (an ARRAY initplan, so the LIMIT holds), on SQLite a plain
subquery, the statement being atomic because SQLite runs one writer at a time. A job whose lease has run
out is due again: its worker is presumed dead.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Double,
    Integer,
    Row,
    Update,
    any_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import score_jobs
from ltigate.services.errors import Conflict, StoreUnavailable
from ltigate.services.records import DeliveryStatus, JobFilter, JobResult, Score, ScoreJob, ScoreTarget

MAX_LIST: Final = 500
# Launch ids per query in latest_by_launch: far below the bound-parameter limits of both databases.
CHUNK: Final = 500

_PENDING: Final = DeliveryStatus.PENDING.value


def _score_text(score: Score) -> str:
    value = {
        "activity_progress": score.activity_progress,
        "grading_progress": score.grading_progress,
        "timestamp": score.timestamp,
        "score_given": score.score_given,
        "score_maximum": score.score_maximum,
        "comment": score.comment,
    }
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _score(text: str) -> Score:
    value = json.loads(text)
    return Score(
        activity_progress=value["activity_progress"],
        grading_progress=value["grading_progress"],
        timestamp=value["timestamp"],
        score_given=value.get("score_given"),
        score_maximum=value.get("score_maximum"),
        comment=value.get("comment"),
    )


def _job(row: Row[*tuple[object, ...]]) -> ScoreJob:
    m = row._mapping  # by key: a tenth of the cost of reading a Row's attributes one by one
    target = ScoreTarget(
        lineitem_url=m["target_lineitem_url"],
        lineitems_url=m["target_lineitems_url"],
        resource_link_id=m["target_resource_link_id"],
        resource_id=m["target_resource_id"],
        label=m["target_label"],
        score_maximum=m["target_score_maximum"],
        deployment_id=m["target_deployment_id"],
    )
    return ScoreJob(
        id=m["id"],
        launch_id=m["launch_id"],
        platform_id=m["platform_id"],
        user_id=m["user_id"],
        score=_score(m["score"]),
        target=target,
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        delivered_at=m["delivered_at"],
        last_error=m["last_error"],
        last_status=m["last_status"],
        lease_owner=m["lease_owner"],
        lease_until=m["lease_until"],
    )


def _claimable(now: float | BindParameter[float]) -> ColumnElement[bool]:
    """Pending, due, and not leased (or the lease ran out)."""
    return (
        (score_jobs.c.status == _PENDING)
        & (score_jobs.c.next_attempt_at <= now)
        & or_(score_jobs.c.lease_until.is_(None), score_jobs.c.lease_until < now)
    )


@functools.cache
def _claim_statement(dialect: str) -> Update:
    """The claim for `dialect`, built once; parameters: now, limit, owner, lease_until.

    The WHERE picks the ids of up to `limit` claimable jobs, the earliest due first, locked on PostgreSQL.
    """
    now: BindParameter[float] = bindparam("now", type_=Double())
    due = (
        select(score_jobs.c.id)
        .where(_claimable(now))
        .order_by(score_jobs.c.next_attempt_at, score_jobs.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if dialect == "postgresql":
        # `id = ANY(ARRAY(SELECT …))` runs the locking SELECT exactly once; `id IN (SELECT … LIMIT n)` may be
        # planned as a join that re-scans it, and lock (and return) more than n rows.
        locked = due.with_for_update(skip_locked=True)
        picked: ColumnElement[bool] = (score_jobs.c.id == any_(func.array(locked.scalar_subquery()))) & _claimable(now)
    else:
        # SQLite runs the whole statement under its write lock, so the picked jobs are still claimable when
        # updated. Not repeating the conditions matters: with them the planner scans every pending job through
        # the status index (and tests each against the picked ids) instead of looking the picked ids up by key.
        picked = score_jobs.c.id.in_(due.scalar_subquery())
    return (
        update(score_jobs)
        .where(picked)
        .values(lease_owner=bindparam("owner"), lease_until=bindparam("lease_until"), updated_at=now)
        .returning(score_jobs)
    )


@functools.cache
def _finish_statement(status: DeliveryStatus, with_lineitem: bool) -> Update:
    """The UPDATE of `finish` for one kind of result, built once: the values come as parameters (job_id, owner,
    now, error, http_status, and retry_at or lineitem where used), so each call skips building the statement
    and computing its cache key."""
    values: dict[str, object] = {
        "status": status.value,
        "attempts": score_jobs.c.attempts + 1,
        "updated_at": bindparam("now"),
        "last_error": bindparam("error"),
        "last_status": bindparam("http_status"),
        "lease_owner": None,
        "lease_until": None,
    }
    if status is DeliveryStatus.DELIVERED:
        values["delivered_at"] = bindparam("now")
    elif status is DeliveryStatus.PENDING:
        values["next_attempt_at"] = bindparam("retry_at")
    if with_lineitem:
        values["target_lineitem_url"] = bindparam("lineitem")
    return (
        update(score_jobs)
        .where(
            score_jobs.c.id == bindparam("job_id"),
            score_jobs.c.lease_owner == bindparam("owner"),
            score_jobs.c.status == _PENDING,
        )
        .values(values)
    )


@dataclass(slots=True)
class _Finish:
    """A `finish` call waiting for its batch to be written."""

    job_id: str
    owner: str
    result: JobResult
    now: float
    done: asyncio.Future[bool]


def _finish_parameters(entry: _Finish) -> tuple[Update, dict[str, object]]:
    result = entry.result
    parameters: dict[str, object] = {
        "job_id": entry.job_id,
        "owner": entry.owner,
        "now": entry.now,
        "error": result.error,
        "http_status": result.http_status,
    }
    if result.status is DeliveryStatus.PENDING:
        parameters["retry_at"] = entry.now if result.next_attempt_at is None else result.next_attempt_at
    if result.lineitem_url is not None:
        parameters["lineitem"] = result.lineitem_url
    return _finish_statement(result.status, result.lineitem_url is not None), parameters


def _settle(done: asyncio.Future[bool], exc: BaseException) -> None:
    """Fail a waiting finish with `exc` (a cancelled write: StoreUnavailable, as its result is unknown)."""
    if done.done():
        return
    if isinstance(exc, Exception):
        done.set_exception(exc)
    else:
        done.set_exception(StoreUnavailable("the result was not recorded: its writer was stopped"))


class SqlScoreOutbox:
    """ScoreOutbox over SQLite (3.35+, for RETURNING) or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._finishing: builtins.list[_Finish] = []  # finishes waiting to be written
        self._written: asyncio.Event | None = None  # set when the batch being written is done

    async def enqueue(self, job: ScoreJob) -> None:
        """Store the job as given; raises Conflict when its id exists."""
        values = {
            "id": job.id,
            "launch_id": job.launch_id,
            "platform_id": job.platform_id,
            "user_id": job.user_id,
            "score": _score_text(job.score),
            "target_lineitem_url": job.target.lineitem_url,
            "target_lineitems_url": job.target.lineitems_url,
            "target_resource_link_id": job.target.resource_link_id,
            "target_resource_id": job.target.resource_id,
            "target_label": job.target.label,
            "target_score_maximum": job.target.score_maximum,
            "target_deployment_id": job.target.deployment_id,
            "status": job.status.value,
            "attempts": job.attempts,
            "next_attempt_at": job.next_attempt_at,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "delivered_at": job.delivered_at,
            "last_error": job.last_error,
            "last_status": job.last_status,
            "lease_owner": job.lease_owner,
            "lease_until": job.lease_until,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(score_jobs.insert().values(values))
        except IntegrityError as exc:
            raise Conflict(f"a score job with id '{job.id}' exists already") from exc

    async def claim(self, *, owner: str, now: float, lease_seconds: float, limit: int) -> builtins.list[ScoreJob]:
        """Lease up to `limit` due pending jobs to `owner` until `now + lease_seconds`, the earliest due first.

        One statement: concurrent claimers (in any process) never get the same job while its lease is live.
        Attempts are not counted here but in `finish`.
        """
        if limit <= 0:
            return []
        parameters = {"now": now, "limit": limit, "owner": owner, "lease_until": now + lease_seconds}
        async with transaction(self._engine) as connection:
            statement = _claim_statement(connection.dialect.name)
            rows = (await connection.execute(statement, parameters)).all()
        return sorted((_job(row) for row in rows), key=lambda job: (job.next_attempt_at, job.id))

    async def finish(self, job_id: str, owner: str, result: JobResult, now: float) -> bool:
        """Apply the result of an attempt and drop the lease, counting the attempt; False (nothing changed)
        when `owner` no longer holds the job's lease or the job is no longer pending.

        DELIVERED stamps `delivered_at`; PENDING sets the next attempt (`now` when the result gives none);
        every result records its error and HTTP status; a resolved line item URL replaces the target's.

        Finishes called while others are being written are written together, in one transaction (a group
        commit): under load a worker pays one commit per batch of results instead of one per job. Each call
        still gets its own answer, and raises StoreUnavailable when its batch could not be written.
        """
        entry = _Finish(job_id, owner, result, now, asyncio.get_running_loop().create_future())
        self._finishing.append(entry)
        try:
            while not entry.done.done():
                if self._written is None:
                    await self._write_queued()  # this call writes the batch, its own entry included
                else:
                    await self._written.wait()  # a batch is being written; this entry goes in the next one
        except BaseException:
            if entry in self._finishing:
                self._finishing.remove(entry)
            if not entry.done.done():
                entry.done.cancel()  # written or not, nobody waits for the answer any more
            elif not entry.done.cancelled():
                entry.done.exception()  # retrieved: the caller sees what stopped it instead
            raise
        return entry.done.result()

    async def _write_queued(self) -> None:
        written = self._written = asyncio.Event()

        def done(_: object = None) -> None:
            self._written = None
            written.set()

        try:
            await asyncio.sleep(0)  # the finishes ready in this turn of the loop join the batch
        except BaseException:
            done()
            raise
        batch, self._finishing = self._finishing, []
        if not batch:
            done()
            return
        task = asyncio.ensure_future(self._write_finishes(batch))
        task.add_done_callback(done)
        await asyncio.shield(task)  # a cancelled caller leaves the batch, the others' results, to be written

    async def _write_finishes(self, batch: builtins.list[_Finish]) -> None:
        """One transaction for the batch, every result applied with its own conditions; each entry's future
        gets whether its row changed, or the exception that stopped the transaction."""
        try:
            changed: builtins.list[bool] = []
            async with transaction(self._engine) as connection:
                for entry in batch:
                    statement, parameters = _finish_parameters(entry)
                    changed.append((await connection.execute(statement, parameters)).rowcount == 1)
        except BaseException as exc:
            for entry in batch:
                _settle(entry.done, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for entry, applied in zip(batch, changed, strict=True):
            if not entry.done.done():
                entry.done.set_result(applied)

    async def get(self, job_id: str) -> ScoreJob | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(score_jobs).where(score_jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def list(self, query: JobFilter) -> builtins.list[ScoreJob]:
        """Jobs matching every given filter, newest first; at most `query.limit`, capped at 500."""
        statement = select(score_jobs)
        if query.status is not None:
            statement = statement.where(score_jobs.c.status == query.status.value)
        if query.platform_id is not None:
            statement = statement.where(score_jobs.c.platform_id == query.platform_id)
        if query.launch_id is not None:
            statement = statement.where(score_jobs.c.launch_id == query.launch_id)
        limit = max(0, min(query.limit, MAX_LIST))
        statement = statement.order_by(score_jobs.c.created_at.desc(), score_jobs.c.id.desc()).limit(limit)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_job(row) for row in rows]

    async def retry(self, job_id: str, now: float) -> ScoreJob | None:
        """Make a failed or skipped job (or a pending one nobody holds) pending and due now, without a lease.

        A delivered job, and a pending one under a live lease (a worker is sending it), come back unchanged.
        The attempt count and the last error are kept. None when the job is unknown.
        """
        retryable = or_(
            score_jobs.c.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value]),
            (score_jobs.c.status == _PENDING) & or_(score_jobs.c.lease_until.is_(None), score_jobs.c.lease_until < now),
        )
        statement = (
            update(score_jobs)
            .where(score_jobs.c.id == job_id, retryable)
            .values(status=_PENDING, next_attempt_at=now, updated_at=now, lease_owner=None, lease_until=None)
            .returning(score_jobs)
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
            if row is None:
                row = (await connection.execute(select(score_jobs).where(score_jobs.c.id == job_id))).first()
        return None if row is None else _job(row)

    async def latest_by_launch(self, launch_ids: Sequence[str]) -> dict[str, ScoreJob]:
        """For each launch id that has jobs, its newest job (by created_at, then id); one query per 500 ids."""
        wanted = list(dict.fromkeys(launch_ids))
        found: dict[str, ScoreJob] = {}
        async with transaction(self._engine) as connection:
            for start in range(0, len(wanted), CHUNK):
                rank = (
                    func.row_number()
                    .over(
                        partition_by=score_jobs.c.launch_id,
                        order_by=(score_jobs.c.created_at.desc(), score_jobs.c.id.desc()),
                    )
                    .label("rank")
                )
                ranked = (
                    select(score_jobs, rank).where(score_jobs.c.launch_id.in_(wanted[start : start + CHUNK])).subquery()
                )
                statement = select(*(ranked.c[column.name] for column in score_jobs.c)).where(ranked.c.rank == 1)
                for row in (await connection.execute(statement)).all():
                    found[row.launch_id] = _job(row)
        return found

    async def last_delivered(self, platform_id: str, user_id: str, lineitem_url: str) -> ScoreJob | None:
        """The job delivered last (by delivered_at) for this user and line item on the platform; None if none."""
        statement = (
            select(score_jobs)
            .where(
                score_jobs.c.platform_id == platform_id,
                score_jobs.c.user_id == user_id,
                score_jobs.c.target_lineitem_url == lineitem_url,
                score_jobs.c.status == DeliveryStatus.DELIVERED.value,
            )
            .order_by(score_jobs.c.delivered_at.desc(), score_jobs.c.created_at.desc(), score_jobs.c.id.desc())
            .limit(1)
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _job(row)

    async def counts(self) -> dict[DeliveryStatus, int]:
        """The number of jobs in each status, every status present (0 when none)."""
        statement = select(score_jobs.c.status, func.count()).group_by(score_jobs.c.status)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        counts = dict.fromkeys(DeliveryStatus, 0)
        for status, count in rows:
            counts[DeliveryStatus(status)] = count
        return counts

"""SqlLaunchLog: every attempt recorded with its claims, filtered newest first, tickets redeemed once."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import statement_engine, transaction
from ltigate.db.launches import SqlLaunchLog
from ltigate.db.schema import launches
from ltigate.services.errors import Conflict
from ltigate.services.records import LaunchFilter, LaunchOutcome, LaunchRecord

pytestmark = pytest.mark.anyio

SUCCEEDED = LaunchRecord(
    id="l1",
    created_at=1_700_000_000.25,
    outcome=LaunchOutcome.SUCCEEDED,
    platform_id="p1",
    issuer="https://canvas.test",
    client_id="10000000000001",
    deployment_id="1:abc",
    message_type="LtiResourceLinkRequest",
    sub="user-1",
    user_name="Zoë Ångström",
    context_id="course-9",
    resource_link_id="link-3",
    resource_slug="intro",
    claims={"sub": "user-1", "https://purl.imsglobal.org/spec/lti/claim/roles": ["Learner"], "n": {"x": 1.5}},
    ticket_jti="jti-1",
)
FAILED = LaunchRecord(
    id="l0",
    created_at=1_699_999_999.0,
    outcome=LaunchOutcome.FAILED,
    error_code="nonce_replayed",
    error_message="the nonce 'abc' was used before",
    issuer="https://canvas.test",
)


@pytest.fixture
def log(engine: AsyncEngine) -> SqlLaunchLog:
    return SqlLaunchLog(engine)


async def test_record_and_get_keep_every_field(log: SqlLaunchLog) -> None:
    await log.record(SUCCEEDED)
    await log.record(FAILED)
    got = await log.get("l1")
    assert got == SUCCEEDED
    assert got is not None
    assert got.claims == SUCCEEDED.claims
    assert await log.get("l0") == FAILED
    assert await log.get("unknown") is None


async def test_record_refuses_a_known_id(log: SqlLaunchLog) -> None:
    await log.record(FAILED)
    with pytest.raises(Conflict) as caught:
        await log.record(FAILED)
    assert (caught.value.code, str(caught.value)) == ("conflict", "a launch with id 'l0' is in the log already")


async def test_list_filters_and_orders_newest_first(log: SqlLaunchLog) -> None:
    records = [
        LaunchRecord(id="a", created_at=1.0, outcome=LaunchOutcome.SUCCEEDED, platform_id="p1", sub="u1"),
        LaunchRecord(id="b", created_at=2.0, outcome=LaunchOutcome.FAILED, platform_id="p1", error_code="e1"),
        LaunchRecord(id="c", created_at=3.0, outcome=LaunchOutcome.SUCCEEDED, platform_id="p2", sub="u1"),
        LaunchRecord(id="d", created_at=4.0, outcome=LaunchOutcome.FAILED, error_code="e2"),
        LaunchRecord(id="e", created_at=5.0, outcome=LaunchOutcome.SUCCEEDED, platform_id="p1", sub="u2"),
    ]
    for record in records:
        await log.record(record)

    async def ids(**filters: object) -> list[str]:
        return [r.id for r in await log.list(LaunchFilter(**filters))]  # type: ignore[arg-type]

    assert await ids() == ["e", "d", "c", "b", "a"]
    assert await ids(outcome=LaunchOutcome.FAILED) == ["d", "b"]
    assert await ids(platform_id="p1") == ["e", "b", "a"]
    assert await ids(error_code="e2") == ["d"]
    assert await ids(sub="u1") == ["c", "a"]
    assert await ids(outcome=LaunchOutcome.SUCCEEDED, platform_id="p1", sub="u1") == ["a"]
    assert await ids(limit=2) == ["e", "d"]
    assert await ids(limit=2, before=4.0) == ["c", "b"]
    assert await ids(limit=2, before=2.0) == ["a"]
    assert await ids(sub="nobody") == []


async def test_list_returns_at_most_500(log: SqlLaunchLog, engine: AsyncEngine) -> None:
    rows = [{"id": f"l{i:04}", "created_at": float(i), "outcome": "failed"} for i in range(510)]
    async with engine.begin() as connection:
        await connection.execute(launches.insert(), rows)
    listed = await log.list(LaunchFilter(limit=10_000))
    assert len(listed) == 500
    assert (listed[0].id, listed[-1].id) == ("l0509", "l0010")


async def test_redeem_ticket_once_with_the_right_jti(log: SqlLaunchLog) -> None:
    await log.record(SUCCEEDED)
    await log.record(FAILED)
    assert await log.redeem_ticket("l1", "other-jti", now=5.0) is False
    assert await log.redeem_ticket("unknown", "jti-1", now=5.0) is False
    assert await log.redeem_ticket("l0", "jti-1", now=5.0) is False
    assert await log.redeem_ticket("l1", "jti-1", now=6.0) is True
    assert await log.redeem_ticket("l1", "jti-1", now=7.0) is False
    assert await log.get("l1") == replace(SUCCEEDED, ticket_redeemed_at=6.0)


async def test_concurrent_redemptions_let_one_win(log: SqlLaunchLog) -> None:
    await log.record(SUCCEEDED)
    results: list[bool] = []

    async def redeem(index: int) -> None:
        results.append(await log.redeem_ticket("l1", "jti-1", now=10.0 + index))

    async with anyio.create_task_group() as group:
        for index in range(20):
            group.start_soon(redeem, index)
    assert sorted(results) == [False] * 19 + [True]


async def test_failures_are_listed_through_the_failures_only_indexes(log: SqlLaunchLog, engine: AsyncEngine) -> None:
    await log.record(SUCCEEDED)
    await log.record(FAILED)
    seen: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sync = statement_engine(engine)
    event.listen(sync, "before_cursor_execute", capture)
    try:
        failed = await log.list(LaunchFilter(outcome=LaunchOutcome.FAILED))
        by_code = await log.list(LaunchFilter(error_code="nonce_replayed"))
    finally:
        event.remove(sync, "before_cursor_execute", capture)
    assert [r.id for r in failed] == [r.id for r in by_code] == ["l0"]
    assert await log.list(LaunchFilter(outcome=LaunchOutcome.SUCCEEDED)) == [SUCCEEDED]

    plans = []
    async with transaction(engine) as connection:
        for statement, parameters in seen:
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            if engine.dialect.name == "postgresql":  # the bound values inline, as a custom plan would see them
                await connection.exec_driver_sql("SET enable_seqscan = off")
            rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()  # type: ignore[arg-type]
            plans.append(" ".join(str(value) for row in rows for value in row))
    failures_only = ("ix_launches_failed_created_at", "ix_launches_error_code_created_at")
    assert any(name in plans[0] for name in failures_only), plans[0]  # PostgreSQL may take either on few rows
    assert "ix_launches_error_code_created_at" in plans[1], plans[1]
    if engine.dialect.name == "sqlite":
        assert "ix_launches_failed_created_at" in plans[0], plans[0]

"""SqlPlatformStore: registrations with their deployments, uniqueness of (issuer, client_id), one-query lookup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import statement_engine
from ltigate.db.platforms import SqlPlatformStore
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import (
    Deployment,
    DeploymentPolicy,
    DeploymentStatus,
    OutcomeRule,
    PlatformFields,
)

pytestmark = pytest.mark.anyio

CANVAS = PlatformFields(
    name="Canvas",
    issuer="https://canvas.test",
    client_id="10000000000001",
    auth_url="https://canvas.test/api/lti/authorize_redirect",
    token_url="https://canvas.test/login/oauth2/token",
    jwks_url="https://canvas.test/api/lti/security/jwks",
    deployment_ids=("1:abc", "2:def"),
    seats=25,
    grade_passback=False,
    licence_note="Licence 2025-07 — 25 seats, renews in July.",
    deployment_policy=DeploymentPolicy.APPROVE,
    token_audience="https://canvas.test/login/oauth2/token",
)


@pytest.fixture
def store(engine: AsyncEngine) -> SqlPlatformStore:
    return SqlPlatformStore(engine)


@contextmanager
def counted_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(statement_engine(engine), "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(statement_engine(engine), "before_cursor_execute", count)


async def test_create_stores_every_field_and_approves_the_deployment_ids(store: SqlPlatformStore) -> None:
    created = await store.create("p1", CANVAS, now=100.0)
    assert created.id == "p1"
    assert created.fields == CANVAS
    assert created.active is True
    assert (created.created_at, created.updated_at) == (100.0, 100.0)
    assert created.deployments == (
        Deployment("1:abc", DeploymentStatus.APPROVED, 100.0),
        Deployment("2:def", DeploymentStatus.APPROVED, 100.0),
    )
    assert await store.get("p1") == created


async def test_create_with_defaults_and_repeated_deployment_ids(store: SqlPlatformStore) -> None:
    fields = PlatformFields(
        name="Moodle",
        issuer="https://moodle.test",
        client_id="abc",
        auth_url="https://moodle.test/mod/lti/auth.php",
        token_url="https://moodle.test/mod/lti/token.php",
        jwks_url="https://moodle.test/mod/lti/certs.php",
        deployment_ids=("7", "7"),
    )
    created = await store.create("p2", fields, now=1.5)
    assert created.fields == replace(fields, deployment_ids=("7",))
    assert created.fields.token_audience is None
    assert created.fields.deployment_policy is DeploymentPolicy.PENDING
    assert [d.deployment_id for d in created.deployments] == ["7"]


async def test_create_refuses_a_taken_issuer_and_client_id(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    with pytest.raises(Conflict) as caught:
        await store.create("p2", replace(CANVAS, name="Canvas again"), now=2.0)
    assert caught.value.code == "conflict"
    assert caught.value.field == "client_id"
    assert str(caught.value) == (
        "a platform with issuer 'https://canvas.test' and client_id '10000000000001' exists already (id 'p1')"
    )
    assert await store.get("p2") is None


async def test_create_refuses_a_taken_id(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    with pytest.raises(Conflict, match=r"^a platform with id 'p1' exists already$"):
        await store.create("p1", replace(CANVAS, client_id="other"), now=2.0)


async def test_one_issuer_may_have_several_client_ids(store: SqlPlatformStore) -> None:
    first = await store.create("p1", CANVAS, now=1.0)
    second = await store.create("p2", replace(CANVAS, client_id="20000000000002", deployment_ids=()), now=2.0)
    await store.create("p3", replace(CANVAS, issuer="https://other.test"), now=3.0)
    assert await store.find_by_issuer("https://canvas.test") == [first, second]
    assert await store.find_by_issuer("https://unknown.test") == []


async def test_find_by_issuer_is_one_query(store: SqlPlatformStore, engine: AsyncEngine) -> None:
    await store.create("p1", CANVAS, now=1.0)
    await store.create("p2", replace(CANVAS, client_id="2"), now=2.0)
    with counted_statements(engine) as statements:
        found = await store.find_by_issuer(CANVAS.issuer)
    assert [len(p.deployments) for p in found] == [2, 2]
    assert len([s for s in statements if "platforms" in s]) == 1


async def test_update_replaces_fields_and_adds_deployments_without_removing(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    await store.put_deployment("p1", "3:pending", DeploymentStatus.PENDING, now=2.0, only_if_new=True)
    changed = replace(CANVAS, name="Canvas prod", seats=0, deployment_ids=("2:def", "3:pending", "4:new"))
    updated = await store.update("p1", changed, now=5.0)
    assert updated.fields.name == "Canvas prod"
    assert updated.fields.seats == 0
    assert (updated.created_at, updated.updated_at) == (1.0, 5.0)
    assert updated.deployments == (
        Deployment("1:abc", DeploymentStatus.APPROVED, 1.0),
        Deployment("2:def", DeploymentStatus.APPROVED, 1.0),
        Deployment("3:pending", DeploymentStatus.PENDING, 2.0),
        Deployment("4:new", DeploymentStatus.APPROVED, 5.0),
    )
    assert updated.fields.deployment_ids == ("1:abc", "2:def", "4:new")
    assert await store.get("p1") == updated


async def test_update_of_a_missing_platform_is_not_found(store: SqlPlatformStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.update("nope", CANVAS, now=1.0)
    assert caught.value.code == "not_found"
    assert str(caught.value) == "no platform with id 'nope'"


async def test_update_refuses_the_issuer_and_client_id_of_another(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    await store.create("p2", replace(CANVAS, client_id="2"), now=2.0)
    with pytest.raises(Conflict) as caught:
        await store.update("p2", replace(CANVAS, deployment_ids=("9",)), now=3.0)
    assert str(caught.value) == (
        "a platform with issuer 'https://canvas.test' and client_id '10000000000001' exists already (id 'p1')"
    )
    unchanged = await store.get("p2")
    assert unchanged is not None
    assert unchanged.fields.client_id == "2"
    assert unchanged.deployment("9") is None


async def test_set_active(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    inactive = await store.set_active("p1", False, now=2.0)
    assert (inactive.active, inactive.updated_at) == (False, 2.0)
    assert await store.get("p1") == inactive
    assert (await store.set_active("p1", True, now=3.0)).active is True
    with pytest.raises(NotFound, match=r"^no platform with id 'nope'$"):
        await store.set_active("nope", True, now=3.0)


async def test_list_is_oldest_first(store: SqlPlatformStore) -> None:
    assert await store.list() == []
    await store.create("b", replace(CANVAS, client_id="b"), now=2.0)
    await store.create("a", replace(CANVAS, client_id="a", deployment_ids=()), now=1.0)
    listed = await store.list()
    assert [p.id for p in listed] == ["a", "b"]
    assert [len(p.deployments) for p in listed] == [0, 2]


async def test_put_deployment_adds_or_keeps_or_changes(store: SqlPlatformStore) -> None:
    await store.create("p1", replace(CANVAS, deployment_ids=()), now=1.0)
    added = await store.put_deployment("p1", "5", DeploymentStatus.PENDING, now=2.0, only_if_new=True)
    assert added == Deployment("5", DeploymentStatus.PENDING, 2.0)
    kept = await store.put_deployment("p1", "5", DeploymentStatus.APPROVED, now=3.0, only_if_new=True)
    assert kept == added
    changed = await store.put_deployment("p1", "5", DeploymentStatus.REJECTED, now=4.0, only_if_new=False)
    assert changed == Deployment("5", DeploymentStatus.REJECTED, 2.0)
    platform = await store.get("p1")
    assert platform is not None
    assert platform.deployments == (changed,)
    assert platform.fields.deployment_ids == ()


async def test_put_deployment_on_a_missing_platform_is_not_found(store: SqlPlatformStore) -> None:
    for only_if_new in (True, False):
        with pytest.raises(NotFound, match=r"^no platform with id 'nope'$"):
            await store.put_deployment("nope", "1", DeploymentStatus.PENDING, now=1.0, only_if_new=only_if_new)


async def test_delete_deployment(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    assert await store.delete_deployment("p1", "1:abc") is True
    assert await store.delete_deployment("p1", "1:abc") is False
    assert await store.delete_deployment("nope", "2:def") is False
    platform = await store.get("p1")
    assert platform is not None
    assert [d.deployment_id for d in platform.deployments] == ["2:def"]


async def test_deleting_a_platform_row_cascades_to_its_deployments(
    store: SqlPlatformStore, engine: AsyncEngine
) -> None:
    await store.create("p1", CANVAS, now=1.0)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM platforms WHERE id = 'p1'"))
        left = (await connection.execute(text("SELECT count(*) FROM deployments"))).scalar()
    assert left == 0


GRADING = replace(
    CANVAS,
    send_deployment_id=True,
    preserve_manual_grades=True,
    outcome_rules=(
        OutcomeRule("completed", "Completed", "FullyGraded", 0.75, 1.0),
        OutcomeRule("disconnected", "InProgress", "NotReady"),
        OutcomeRule("timeout", "Submitted", "PendingManual", None, 10.0),
    ),
)


async def test_grading_fields_are_stored_and_default_off(store: SqlPlatformStore) -> None:
    created = await store.create("p1", GRADING, now=1.0)
    assert created.fields == GRADING
    assert await store.get("p1") == created
    plain = await store.create("p2", replace(CANVAS, client_id="2"), now=2.0)
    assert (plain.fields.send_deployment_id, plain.fields.preserve_manual_grades) == (False, False)
    assert plain.fields.outcome_rules == ()


async def test_outcome_rules_are_a_json_list_and_none_is_null(store: SqlPlatformStore, engine: AsyncEngine) -> None:
    await store.create("p1", GRADING, now=1.0)
    await store.update("p1", replace(GRADING, outcome_rules=()), now=2.0)
    await store.create("p2", replace(GRADING, client_id="2", outcome_rules=GRADING.outcome_rules[:1]), now=3.0)
    async with engine.connect() as connection:
        stored: dict[str, str | None] = dict(
            (await connection.execute(text("SELECT id, outcome_rules FROM platforms"))).all()
        )
    assert stored == {
        "p1": None,
        "p2": '[{"outcome":"completed","activity_progress":"Completed","grading_progress":"FullyGraded",'
        '"score_given":0.75,"score_maximum":1.0}]',
    }
    updated = await store.get("p1")
    assert updated is not None
    assert updated.fields == replace(GRADING, outcome_rules=())


async def test_update_changes_the_grading_fields(store: SqlPlatformStore) -> None:
    await store.create("p1", CANVAS, now=1.0)
    updated = await store.update("p1", GRADING, now=2.0)
    assert updated.fields == GRADING
    back = await store.update("p1", CANVAS, now=3.0)
    assert back.fields == CANVAS

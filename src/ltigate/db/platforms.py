"""Platform registrations and their deployments (the PlatformStore port), in SQLAlchemy Core.

A platform is read with its deployments in one query (a left join); `find_by_issuer` is on the launch path.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Row, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import deployments, platforms
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import (
    Deployment,
    DeploymentPolicy,
    DeploymentStatus,
    OutcomeRule,
    Platform,
    PlatformFields,
    RegisteredVia,
)

_LOAD = (
    select(
        platforms,
        deployments.c.deployment_id,
        deployments.c.status,
        deployments.c.created_at.label("deployment_created_at"),
    )
    .select_from(platforms.outerjoin(deployments))
    .order_by(platforms.c.created_at, platforms.c.id)
)


def _columns(fields: PlatformFields) -> dict[str, object]:
    return {
        "name": fields.name,
        "issuer": fields.issuer,
        "client_id": fields.client_id,
        "auth_url": fields.auth_url,
        "token_url": fields.token_url,
        "jwks_url": fields.jwks_url,
        "token_audience": fields.token_audience,
        "seats": fields.seats,
        "grade_passback": fields.grade_passback,
        "licence_note": fields.licence_note,
        "deployment_policy": fields.deployment_policy.value,
        "send_deployment_id": fields.send_deployment_id,
        "preserve_manual_grades": fields.preserve_manual_grades,
        "outcome_rules": _rules_text(fields.outcome_rules),
    }


def _rules_text(rules: Sequence[OutcomeRule]) -> str | None:
    """The rules as a JSON list of objects; none (the default rules) as NULL."""
    if not rules:
        return None
    objects = [
        {
            "outcome": rule.outcome,
            "activity_progress": rule.activity_progress,
            "grading_progress": rule.grading_progress,
            "score_given": rule.score_given,
            "score_maximum": rule.score_maximum,
        }
        for rule in rules
    ]
    return json.dumps(objects, ensure_ascii=False, separators=(",", ":"))


def _rules(text: str | None) -> tuple[OutcomeRule, ...]:
    if text is None:
        return ()
    return tuple(
        OutcomeRule(
            outcome=item["outcome"],
            activity_progress=item["activity_progress"],
            grading_progress=item["grading_progress"],
            score_given=item.get("score_given"),
            score_maximum=item.get("score_maximum"),
        )
        for item in json.loads(text)
    )


def _platform(row: Row[*tuple[object, ...]], found: list[Deployment]) -> Platform:
    found.sort(key=lambda d: (d.created_at, d.deployment_id))
    fields = PlatformFields(
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        auth_url=row.auth_url,
        token_url=row.token_url,
        jwks_url=row.jwks_url,
        deployment_ids=tuple(d.deployment_id for d in found if d.status is DeploymentStatus.APPROVED),
        seats=row.seats,
        grade_passback=row.grade_passback,
        licence_note=row.licence_note,
        deployment_policy=DeploymentPolicy(row.deployment_policy),
        token_audience=row.token_audience,
        send_deployment_id=row.send_deployment_id,
        preserve_manual_grades=row.preserve_manual_grades,
        outcome_rules=_rules(row.outcome_rules),
    )
    return Platform(
        id=row.id,
        fields=fields,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deployments=tuple(found),
        seats_used=row.seats_used,
        awaiting_approval=row.awaiting_approval,
        registered_via=RegisteredVia(row.registered_via),
        product_family_code=row.product_family_code,
    )


async def _load(connection: AsyncConnection, where: ColumnElement[bool] | None = None) -> list[Platform]:
    """Platforms matching `where`, oldest first, each with its deployments (fields.deployment_ids: the approved)."""
    rows = (await connection.execute(_LOAD if where is None else _LOAD.where(where))).all()
    grouped: dict[str, tuple[Row[*tuple[object, ...]], list[Deployment]]] = {}
    for row in rows:
        _, found = grouped.setdefault(row.id, (row, []))
        if row.deployment_id is not None:
            found.append(Deployment(row.deployment_id, DeploymentStatus(row.status), row.deployment_created_at))
    return [_platform(row, found) for row, found in grouped.values()]


def _deployment_insert(connection: AsyncConnection) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take ON CONFLICT (the same clause in both dialects' SQL)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(deployments)
    return sqlite.insert(deployments)


async def _add_approved(
    connection: AsyncConnection, platform_id: str, deployment_ids: Sequence[str], now: float
) -> None:
    """Insert the deployment ids not yet on the platform as approved; existing ones keep their status."""
    if not deployment_ids:
        return
    rows = [
        {"platform_id": platform_id, "deployment_id": d, "status": DeploymentStatus.APPROVED.value, "created_at": now}
        for d in dict.fromkeys(deployment_ids)
    ]
    statement = _deployment_insert(connection).on_conflict_do_nothing(index_elements=["platform_id", "deployment_id"])
    await connection.execute(statement, rows)


class SqlPlatformStore:
    """PlatformStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        platform_id: str,
        fields: PlatformFields,
        now: float,
        *,
        awaiting_approval: bool = False,
        registered_via: RegisteredVia = RegisteredVia.MANUAL,
        product_family_code: str | None = None,
    ) -> Platform:
        """Insert the platform with its deployment ids (approved) in one transaction; raises Conflict."""
        values = {
            "id": platform_id,
            **_columns(fields),
            "active": True,
            "created_at": now,
            "updated_at": now,
            "awaiting_approval": awaiting_approval,
            "registered_via": registered_via.value,
            "product_family_code": product_family_code,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(platforms.insert().values(values))
                await _add_approved(connection, platform_id, fields.deployment_ids, now)
                return (await _load(connection, platforms.c.id == platform_id))[0]
        except IntegrityError as exc:
            raise await self._conflict(platform_id, fields, creating=True) from exc

    async def update(self, platform_id: str, fields: PlatformFields, now: float) -> Platform:
        """Replace the fields; deployment ids in `fields` not on the platform are added as approved, none are
        removed. Raises NotFound, Conflict (issuer and client_id of another platform)."""
        statement = (
            update(platforms).where(platforms.c.id == platform_id).values({**_columns(fields), "updated_at": now})
        )
        try:
            async with transaction(self._engine) as connection:
                if (await connection.execute(statement)).rowcount == 0:
                    raise NotFound(f"no platform with id '{platform_id}'")
                await _add_approved(connection, platform_id, fields.deployment_ids, now)
                return (await _load(connection, platforms.c.id == platform_id))[0]
        except IntegrityError as exc:
            raise await self._conflict(platform_id, fields, creating=False) from exc

    async def _conflict(self, platform_id: str, fields: PlatformFields, *, creating: bool) -> Conflict:
        """Tell which uniqueness rule the failed write broke, looking in a fresh transaction."""
        pair = (platforms.c.issuer == fields.issuer) & (platforms.c.client_id == fields.client_id)
        async with transaction(self._engine) as connection:
            other = (await connection.execute(select(platforms.c.id).where(pair))).scalar()
            same_id = select(platforms.c.id).where(platforms.c.id == platform_id)
            taken = creating and (await connection.execute(same_id)).scalar() is not None
        if other is not None and other != platform_id:
            pair_text = f"issuer '{fields.issuer}' and client_id '{fields.client_id}'"
            return Conflict(f"a platform with {pair_text} exists already (id '{other}')", field="client_id")
        if taken:
            return Conflict(f"a platform with id '{platform_id}' exists already", field="id")
        return Conflict(f"platform '{platform_id}' was changed by a concurrent request; try again")

    async def set_active(self, platform_id: str, active: bool, now: float) -> Platform:
        """Raises NotFound."""
        statement = update(platforms).where(platforms.c.id == platform_id).values(active=active, updated_at=now)
        async with transaction(self._engine) as connection:
            if (await connection.execute(statement)).rowcount == 0:
                raise NotFound(f"no platform with id '{platform_id}'")
            return (await _load(connection, platforms.c.id == platform_id))[0]

    async def approve(self, platform_id: str, now: float) -> Platform:
        """Raises NotFound."""
        statement = (
            update(platforms).where(platforms.c.id == platform_id).values(awaiting_approval=False, updated_at=now)
        )
        async with transaction(self._engine) as connection:
            if (await connection.execute(statement)).rowcount == 0:
                raise NotFound(f"no platform with id '{platform_id}'")
            return (await _load(connection, platforms.c.id == platform_id))[0]

    async def get(self, platform_id: str) -> Platform | None:
        async with transaction(self._engine) as connection:
            found = await _load(connection, platforms.c.id == platform_id)
        return found[0] if found else None

    async def list(self) -> builtins.list[Platform]:
        """Every platform, oldest first."""
        async with transaction(self._engine) as connection:
            return await _load(connection)

    async def find_by_issuer(self, issuer: str) -> builtins.list[Platform]:
        """The platforms registered for `issuer` (one per client_id), with their deployments; one query."""
        async with transaction(self._engine) as connection:
            return await _load(connection, platforms.c.issuer == issuer)

    async def put_deployment(
        self, platform_id: str, deployment_id: str, status: DeploymentStatus, now: float, *, only_if_new: bool
    ) -> Deployment:
        """Add a deployment or change its status (its created_at is kept); with only_if_new an existing one is
        returned unchanged. Raises NotFound when the platform does not exist."""
        values = {"platform_id": platform_id, "deployment_id": deployment_id, "status": status.value, "created_at": now}
        key = ["platform_id", "deployment_id"]
        try:
            async with transaction(self._engine) as connection:
                insert = _deployment_insert(connection).values(values)
                if only_if_new:
                    statement = insert.on_conflict_do_nothing(index_elements=key)
                else:
                    statement = insert.on_conflict_do_update(
                        index_elements=key, set_={"status": insert.excluded.status}
                    )
                row = (await connection.execute(statement.returning(deployments))).first()
                if row is None:  # only_if_new, and it exists
                    same = (deployments.c.platform_id == platform_id) & (deployments.c.deployment_id == deployment_id)
                    row = (await connection.execute(select(deployments).where(same))).one()
        except IntegrityError as exc:  # the foreign key: the primary key is handled by ON CONFLICT
            raise NotFound(f"no platform with id '{platform_id}'") from exc
        return Deployment(row.deployment_id, DeploymentStatus(row.status), row.created_at)

    async def delete_deployment(self, platform_id: str, deployment_id: str) -> bool:
        """True when the deployment existed."""
        same = (deployments.c.platform_id == platform_id) & (deployments.c.deployment_id == deployment_id)
        async with transaction(self._engine) as connection:
            return bool((await connection.execute(delete(deployments).where(same))).rowcount)

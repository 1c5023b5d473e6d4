"""The launch log (the LaunchLog port): every launch attempt, and the once-only redemption of its ticket."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Final

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit, run, transaction
from ltigate.db.prepared import Prepared
from ltigate.db.schema import launches
from ltigate.services.errors import Conflict
from ltigate.services.records import LaunchFilter, LaunchOutcome, LaunchRecord

MAX_LIST: Final = 500
# Built once: a statement rebuilt per call costs more in SQLAlchemy than SQLite takes to run it.
_COLUMNS: Final = (
    "id", "created_at", "outcome", "error_code", "error_message", "platform_id", "issuer", "client_id",
    "deployment_id", "message_type", "sub", "user_name", "context_id", "resource_link_id", "resource_slug",
    "claims", "ticket_jti", "ticket_redeemed_at", "learner_id",
)  # fmt: skip
_INSERT = Prepared(launches.insert().values({name: bindparam(name) for name in _COLUMNS}))


def _claims_text(claims: Mapping[str, object] | None) -> str | None:
    return None if claims is None else json.dumps(dict(claims), ensure_ascii=False, separators=(",", ":"))


def _record(row: Row[*tuple[object, ...]]) -> LaunchRecord:
    return LaunchRecord(
        id=row.id,
        created_at=row.created_at,
        outcome=LaunchOutcome(row.outcome),
        error_code=row.error_code,
        error_message=row.error_message,
        platform_id=row.platform_id,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_id=row.deployment_id,
        message_type=row.message_type,
        sub=row.sub,
        user_name=row.user_name,
        context_id=row.context_id,
        resource_link_id=row.resource_link_id,
        resource_slug=row.resource_slug,
        claims=None if row.claims is None else json.loads(row.claims),
        ticket_jti=row.ticket_jti,
        ticket_redeemed_at=row.ticket_redeemed_at,
        learner_id=row.learner_id,
    )


class SqlLaunchLog:
    """LaunchLog over SQLite or PostgreSQL; claims are stored as JSON text."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, launch: LaunchRecord) -> None:
        """Raises Conflict when the id is in the log already."""
        values = {
            "id": launch.id,
            "created_at": launch.created_at,
            "outcome": launch.outcome.value,
            "error_code": launch.error_code,
            "error_message": launch.error_message,
            "platform_id": launch.platform_id,
            "issuer": launch.issuer,
            "client_id": launch.client_id,
            "deployment_id": launch.deployment_id,
            "message_type": launch.message_type,
            "sub": launch.sub,
            "user_name": launch.user_name,
            "context_id": launch.context_id,
            "resource_link_id": launch.resource_link_id,
            "resource_slug": launch.resource_slug,
            "claims": _claims_text(launch.claims),
            "ticket_jti": launch.ticket_jti,
            "ticket_redeemed_at": launch.ticket_redeemed_at,
            "learner_id": launch.learner_id,
        }
        try:
            async with autocommit(self._engine) as connection:
                await run(connection, _INSERT, values)
        except IntegrityError as exc:
            raise Conflict(f"a launch with id '{launch.id}' is in the log already") from exc

    async def get(self, launch_id: str) -> LaunchRecord | None:
        async with transaction(self._engine) as connection:
            row = (await connection.execute(select(launches).where(launches.c.id == launch_id))).first()
        return None if row is None else _record(row)

    async def list(self, query: LaunchFilter) -> builtins.list[LaunchRecord]:
        """Launches matching every given filter, newest first; at most `query.limit`, capped at 500.

        Page with `before`: pass the `created_at` of the last launch of the previous page.
        """
        statement = select(launches)
        if query.outcome is not None:
            statement = statement.where(launches.c.outcome == query.outcome.value)
            if query.outcome is LaunchOutcome.FAILED:  # lets the planner use the failures-only indexes
                statement = statement.where(launches.c.error_code.is_not(None))
        if query.platform_id is not None:
            statement = statement.where(launches.c.platform_id == query.platform_id)
        if query.error_code is not None:
            statement = statement.where(launches.c.error_code == query.error_code)
        if query.sub is not None:
            statement = statement.where(launches.c.sub == query.sub)
        if query.before is not None:
            statement = statement.where(launches.c.created_at < query.before)
        limit = max(0, min(query.limit, MAX_LIST))
        statement = statement.order_by(launches.c.created_at.desc(), launches.c.id.desc()).limit(limit)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_record(row) for row in rows]

    async def redeem_ticket(self, launch_id: str, jti: str, now: float) -> bool:
        """Mark the launch's ticket redeemed; False when the launch is unknown, the jti is another, or the
        ticket was redeemed before. One conditional UPDATE, so only one of concurrent redemptions wins."""
        statement = (
            update(launches)
            .where(launches.c.id == launch_id, launches.c.ticket_jti == jti, launches.c.ticket_redeemed_at.is_(None))
            .values(ticket_redeemed_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1

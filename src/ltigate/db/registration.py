"""Dynamic Registration storage: one-time registration links (found by the SHA-256 of their secret, claimed by
one conditional UPDATE, atomic on SQLite and PostgreSQL) and the registration attempt log.
"""

from __future__ import annotations

import builtins
from typing import Final

from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import registration_attempts, registration_links
from ltigate.services.errors import Conflict
from ltigate.services.records import AttemptOutcome, RegistrationAttempt, RegistrationLink

MAX_LIST: Final = 500

_LINK_COLUMNS = (
    registration_links.c.id,
    registration_links.c.note,
    registration_links.c.created_at,
    registration_links.c.expires_at,
    registration_links.c.used_at,
    registration_links.c.revoked_at,
    registration_links.c.platform_id,
)


def _link(row: Row[*tuple[object, ...]]) -> RegistrationLink:
    return RegistrationLink(
        id=row.id,
        note=row.note,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
        platform_id=row.platform_id,
    )


class SqlRegistrationLinkStore:
    """RegistrationLinkStore over SQLite or PostgreSQL; the secret itself is never stored."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, link: RegistrationLink, secret_hash: str) -> None:
        """Raises Conflict when the id or the secret hash is taken."""
        values = {
            "id": link.id,
            "secret_hash": secret_hash,
            "note": link.note,
            "created_at": link.created_at,
            "expires_at": link.expires_at,
            "used_at": link.used_at,
            "revoked_at": link.revoked_at,
            "platform_id": link.platform_id,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(registration_links.insert().values(values))
        except IntegrityError as exc:
            raise Conflict(f"a registration link with id '{link.id}' or the same secret exists already") from exc

    async def find(self, secret_hash: str) -> RegistrationLink | None:
        statement = select(*_LINK_COLUMNS).where(registration_links.c.secret_hash == secret_hash)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _link(row)

    async def list(self) -> builtins.list[RegistrationLink]:
        statement = select(*_LINK_COLUMNS).order_by(registration_links.c.created_at.desc(), registration_links.c.id)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_link(row) for row in rows]

    async def claim(self, link_id: str, now: float) -> bool:
        """One conditional UPDATE: of two concurrent claims exactly one changes the row."""
        statement = (
            update(registration_links)
            .where(
                registration_links.c.id == link_id,
                registration_links.c.used_at.is_(None),
                registration_links.c.revoked_at.is_(None),
                registration_links.c.expires_at > now,
            )
            .values(used_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def release(self, link_id: str) -> None:
        statement = (
            update(registration_links)
            .where(registration_links.c.id == link_id, registration_links.c.platform_id.is_(None))
            .values(used_at=None)
        )
        async with transaction(self._engine) as connection:
            await connection.execute(statement)

    async def complete(self, link_id: str, platform_id: str) -> None:
        statement = update(registration_links).where(registration_links.c.id == link_id).values(platform_id=platform_id)
        async with transaction(self._engine) as connection:
            await connection.execute(statement)

    async def revoke(self, link_id: str, now: float) -> bool:
        statement = (
            update(registration_links)
            .where(
                registration_links.c.id == link_id,
                registration_links.c.revoked_at.is_(None),
                registration_links.c.used_at.is_(None),
            )
            .values(revoked_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1


def _attempt(row: Row[*tuple[object, ...]]) -> RegistrationAttempt:
    return RegistrationAttempt(
        id=row.id,
        created_at=row.created_at,
        outcome=AttemptOutcome(row.outcome),
        stage=row.stage,
        error_code=row.error_code,
        error_message=row.error_message,
        configuration_url=row.configuration_url,
        issuer=row.issuer,
        client_id=row.client_id,
        product_family_code=row.product_family_code,
        platform_id=row.platform_id,
        link_id=row.link_id,
    )


class SqlRegistrationAttemptLog:
    """RegistrationAttemptLog over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, attempt: RegistrationAttempt) -> None:
        values = {
            "id": attempt.id,
            "created_at": attempt.created_at,
            "outcome": attempt.outcome.value,
            "stage": attempt.stage,
            "error_code": attempt.error_code,
            "error_message": attempt.error_message,
            "configuration_url": attempt.configuration_url,
            "issuer": attempt.issuer,
            "client_id": attempt.client_id,
            "product_family_code": attempt.product_family_code,
            "platform_id": attempt.platform_id,
            "link_id": attempt.link_id,
        }
        async with transaction(self._engine) as connection:
            await connection.execute(registration_attempts.insert().values(values))

    async def list(self, limit: int) -> builtins.list[RegistrationAttempt]:
        statement = (
            select(registration_attempts)
            .order_by(registration_attempts.c.created_at.desc(), registration_attempts.c.id)
            .limit(max(1, min(limit, MAX_LIST)))
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_attempt(row) for row in rows]

    async def purge(self, before: float) -> int:
        statement = delete(registration_attempts).where(registration_attempts.c.created_at < before)
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount

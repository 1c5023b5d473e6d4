"""Console administrators, sessions and failed sign-ins (the AdminStore, ConsoleSessionStore and
SignInFailureStore ports) over SQLite or PostgreSQL.
"""

from __future__ import annotations

import builtins

from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import administrators, console_sessions, sign_in_failures
from ltigate.services.console_ports import Administrator, ConsoleSession
from ltigate.services.errors import Conflict

_ADMIN_COLUMNS = (
    administrators.c.id,
    administrators.c.name,
    administrators.c.created_at,
    administrators.c.updated_at,
    administrators.c.disabled_at,
    administrators.c.last_sign_in_at,
)


def _admin(row: Row[*tuple[object, ...]]) -> Administrator:
    return Administrator(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        disabled_at=row.disabled_at,
        last_sign_in_at=row.last_sign_in_at,
    )


class SqlAdminStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, admin: Administrator, password_hash: str) -> None:
        """Raises Conflict (field 'name') when the name is taken."""
        values = {
            "id": admin.id,
            "name": admin.name,
            "password_hash": password_hash,
            "created_at": admin.created_at,
            "updated_at": admin.updated_at,
            "disabled_at": admin.disabled_at,
            "last_sign_in_at": admin.last_sign_in_at,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(administrators.insert().values(values))
        except IntegrityError as exc:
            raise Conflict(f"an administrator named '{admin.name}' exists already", field="name") from exc

    async def find(self, name: str) -> tuple[Administrator, str] | None:
        statement = select(*_ADMIN_COLUMNS, administrators.c.password_hash).where(administrators.c.name == name)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else (_admin(row), row.password_hash)

    async def get(self, admin_id: str) -> Administrator | None:
        statement = select(*_ADMIN_COLUMNS).where(administrators.c.id == admin_id)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _admin(row)

    async def list(self) -> builtins.list[Administrator]:
        statement = select(*_ADMIN_COLUMNS).order_by(administrators.c.name)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_admin(row) for row in rows]

    async def set_password(self, admin_id: str, password_hash: str, now: float) -> bool:
        statement = (
            update(administrators)
            .where(administrators.c.id == admin_id)
            .values(password_hash=password_hash, updated_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def set_disabled(self, admin_id: str, disabled_at: float | None, now: float) -> bool:
        statement = (
            update(administrators)
            .where(administrators.c.id == admin_id)
            .values(disabled_at=disabled_at, updated_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def note_sign_in(self, admin_id: str, now: float) -> None:
        statement = update(administrators).where(administrators.c.id == admin_id).values(last_sign_in_at=now)
        async with transaction(self._engine) as connection:
            await connection.execute(statement)


class SqlConsoleSessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, session: ConsoleSession) -> None:
        values = {
            "id_hash": session.id_hash,
            "admin_id": session.admin_id,
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
            "expires_at": session.expires_at,
            "client_address": session.client_address,
        }
        async with transaction(self._engine) as connection:
            await connection.execute(console_sessions.insert().values(values))

    async def get(self, id_hash: str) -> tuple[ConsoleSession, Administrator] | None:
        statement = (
            select(
                console_sessions,
                administrators.c.name,
                administrators.c.created_at.label("admin_created_at"),
                administrators.c.updated_at.label("admin_updated_at"),
                administrators.c.disabled_at,
                administrators.c.last_sign_in_at,
            )
            .join(administrators, administrators.c.id == console_sessions.c.admin_id)
            .where(console_sessions.c.id_hash == id_hash)
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            return None
        session = ConsoleSession(
            id_hash=row.id_hash,
            admin_id=row.admin_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            client_address=row.client_address,
        )
        admin = Administrator(
            id=row.admin_id,
            name=row.name,
            created_at=row.admin_created_at,
            updated_at=row.admin_updated_at,
            disabled_at=row.disabled_at,
            last_sign_in_at=row.last_sign_in_at,
        )
        return session, admin

    async def touch(self, id_hash: str, now: float) -> None:
        statement = update(console_sessions).where(console_sessions.c.id_hash == id_hash).values(last_seen_at=now)
        async with transaction(self._engine) as connection:
            await connection.execute(statement)

    async def delete(self, id_hash: str) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash))

    async def delete_for_admin(self, admin_id: str) -> int:
        async with transaction(self._engine) as connection:
            result = await connection.execute(delete(console_sessions).where(console_sessions.c.admin_id == admin_id))
            return result.rowcount

    async def purge(self, idle_before: float, now: float) -> int:
        ended = or_(console_sessions.c.last_seen_at < idle_before, console_sessions.c.expires_at <= now)
        async with transaction(self._engine) as connection:
            return (await connection.execute(delete(console_sessions).where(ended))).rowcount


class SqlSignInFailureStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, name: str, client_address: str, at: float) -> None:
        values = {"name": name, "client_address": client_address, "at": at}
        async with transaction(self._engine) as connection:
            await connection.execute(sign_in_failures.insert().values(values))

    async def recent(self, name: str, client_address: str, since: float) -> tuple[list[float], list[float]]:
        t = sign_in_failures.c
        by_name = select(t.at).where(t.name == name, t.at >= since).order_by(t.at)
        by_address = select(t.at).where(t.client_address == client_address, t.at >= since).order_by(t.at)
        async with transaction(self._engine) as connection:
            names = list((await connection.scalars(by_name)).all())
            addresses = list((await connection.scalars(by_address)).all())
        return names, addresses

    async def clear(self, name: str) -> None:
        async with transaction(self._engine) as connection:
            await connection.execute(delete(sign_in_failures).where(sign_in_failures.c.name == name))

    async def purge(self, before: float) -> int:
        async with transaction(self._engine) as connection:
            return (await connection.execute(delete(sign_in_failures).where(sign_in_failures.c.at < before))).rowcount

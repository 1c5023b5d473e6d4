"""API keys of the REST API (the ApiKeyStore port): found by the SHA-256 hash of their secret."""

from __future__ import annotations

import builtins

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import api_keys
from ltigate.services.errors import Conflict
from ltigate.services.records import ApiKey

_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


def _api_key(row: Row[*tuple[object, ...]]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlApiKeyStore:
    """ApiKeyStore over SQLite or PostgreSQL; the secret itself is never stored."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, key: ApiKey, secret_hash: str) -> None:
        """Raises Conflict when the id or the secret hash is taken."""
        values = {
            "id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "secret_hash": secret_hash,
            "created_at": key.created_at,
            "last_used_at": key.last_used_at,
            "revoked_at": key.revoked_at,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(api_keys.insert().values(values))
        except IntegrityError as exc:
            async with transaction(self._engine) as connection:
                lookup = select(api_keys.c.id).where(api_keys.c.secret_hash == secret_hash)
                other = (await connection.execute(lookup)).scalar()
            if other is not None and other != key.id:
                raise Conflict(f"an API key with the same secret exists already (id '{other}')") from exc
            raise Conflict(f"an API key with id '{key.id}' exists already", field="id") from exc

    async def find(self, secret_hash: str) -> ApiKey | None:
        """The key with this secret hash, revoked or not."""
        statement = select(*_KEY_COLUMNS).where(api_keys.c.secret_hash == secret_hash)
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _api_key(row)

    async def touch(self, key_id: str, now: float) -> None:
        """Record a use; an unknown id is ignored."""
        statement = update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
        async with transaction(self._engine) as connection:
            await connection.execute(statement)

    async def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        statement = select(*_KEY_COLUMNS).order_by(api_keys.c.created_at, api_keys.c.id)
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_api_key(row) for row in rows]

    async def revoke(self, key_id: str, now: float) -> bool:
        """True when the key existed and was not revoked before (the first revocation time is kept)."""
        statement = (
            update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        async with transaction(self._engine) as connection:
            return (await connection.execute(statement)).rowcount == 1

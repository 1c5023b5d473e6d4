"""Service access tokens shared by every process (the TokenCache port), one per platform and scope set.

The token is stored as the services layer gives it: sealed before `put`, unsealed after `get`.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import service_tokens
from ltigate.services.records import ServiceToken


def _insert(connection: AsyncConnection) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take ON CONFLICT (the same clause in both dialects' SQL)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(service_tokens)
    return sqlite.insert(service_tokens)


class SqlTokenCache:
    """TokenCache over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, platform_id: str, scope_key: str, now: float) -> ServiceToken | None:
        """The stored token when it expires after `now`; None otherwise."""
        statement = select(service_tokens).where(
            service_tokens.c.platform_id == platform_id,
            service_tokens.c.scope_key == scope_key,
            service_tokens.c.expires_at > now,
        )
        async with transaction(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            return None
        return ServiceToken(
            access_token=row.access_token, scopes=tuple(json.loads(row.scopes)), expires_at=row.expires_at
        )

    async def put(self, platform_id: str, scope_key: str, token: ServiceToken) -> None:
        """Store the token, replacing the one held for the same platform and scope key."""
        values = {
            "platform_id": platform_id,
            "scope_key": scope_key,
            "access_token": token.access_token,
            "scopes": json.dumps(list(token.scopes), ensure_ascii=False, separators=(",", ":")),
            "expires_at": token.expires_at,
        }
        async with transaction(self._engine) as connection:
            insert = _insert(connection).values(values)
            statement = insert.on_conflict_do_update(
                index_elements=["platform_id", "scope_key"],
                set_={
                    "access_token": insert.excluded.access_token,
                    "scopes": insert.excluded.scopes,
                    "expires_at": insert.excluded.expires_at,
                },
            )
            await connection.execute(statement)

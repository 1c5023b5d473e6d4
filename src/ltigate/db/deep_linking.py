"""Deep-link sessions (the DeepLinkSessionStore port): one response per deep-linking request, decided by a
single conditional UPDATE so two answers racing in two processes cannot both be sent.
"""

from __future__ import annotations

import json

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit
from ltigate.db.schema import deep_link_sessions as sessions
from ltigate.services.records import DeepLinkSession


class SqlDeepLinkSessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open(self, session: DeepLinkSession) -> None:
        values = {
            "launch_id": session.launch_id,
            "platform_id": session.platform_id,
            "deployment_id": session.deployment_id,
            "resource_slug": session.resource_slug,
            "settings": json.dumps(dict(session.settings), separators=(",", ":")),
            "token_hash": session.token_hash,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "answered_at": None,
        }
        async with autocommit(self._engine) as connection:
            await connection.execute(sessions.insert(), values)

    async def get(self, launch_id: str) -> DeepLinkSession | None:
        async with autocommit(self._engine) as connection:
            row = (await connection.execute(select(sessions).where(sessions.c.launch_id == launch_id))).first()
        if row is None:
            return None
        return DeepLinkSession(
            launch_id=row.launch_id,
            platform_id=row.platform_id,
            deployment_id=row.deployment_id,
            resource_slug=row.resource_slug,
            settings=json.loads(row.settings),
            token_hash=row.token_hash,
            created_at=row.created_at,
            expires_at=row.expires_at,
            answered_at=row.answered_at,
        )

    async def answer(self, launch_id: str, now: float) -> bool:
        statement = (
            update(sessions)
            .where(sessions.c.launch_id == launch_id, sessions.c.answered_at.is_(None), sessions.c.expires_at > now)
            .values(answered_at=now)
        )
        async with autocommit(self._engine) as connection:
            return bool((await connection.execute(statement)).rowcount)

    async def purge(self, now: float, keep_answered_for: float) -> int:
        statement = delete(sessions).where(
            or_(
                and_(sessions.c.answered_at.is_(None), sessions.c.expires_at < now),
                sessions.c.answered_at < now - keep_answered_for,
            )
        )
        async with autocommit(self._engine) as connection:
            return int((await connection.execute(statement)).rowcount)

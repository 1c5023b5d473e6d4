"""One-time login states (the StateStore port): consumed with a single conditional UPDATE, so a state is
used once across every process sharing the database (lti-reference §1.2, state and nonce).
"""

from __future__ import annotations

from sqlalchemy import Row, and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import autocommit, run, transaction
from ltigate.db.prepared import Prepared
from ltigate.db.schema import login_states
from ltigate.services.errors import Conflict
from ltigate.services.records import ConsumedState, LoginState

_STATE_COLUMNS = (
    login_states.c.nonce,
    login_states.c.platform_id,
    login_states.c.target_link_uri,
    login_states.c.expires_at,
    login_states.c.storage_target,
)
# Built once: a statement rebuilt per call costs more in SQLAlchemy than SQLite takes to run it.
_INSERT = Prepared(
    login_states.insert().values(
        {
            name: bindparam(name)
            for name in ("state_hash", "nonce", "platform_id", "target_link_uri", "expires_at", "storage_target")
        }
    )
)
_MARK_USED = Prepared(
    update(login_states)
    .where(login_states.c.state_hash == bindparam("hash"), login_states.c.consumed_at.is_(None))
    .values(consumed_at=bindparam("now"))
    .returning(*_STATE_COLUMNS)
)
_LOOKUP = select(*_STATE_COLUMNS).where(login_states.c.state_hash == bindparam("hash"))
_PEEK = select(*_STATE_COLUMNS, login_states.c.consumed_at).where(login_states.c.state_hash == bindparam("hash"))


class SqlStateStore:
    """StateStore over SQLite (3.35+, for RETURNING) or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(self, state: LoginState) -> None:
        """Raises Conflict when a state with the same hash exists (a reused state value)."""
        values = {
            "state_hash": state.state_hash,
            "nonce": state.nonce,
            "platform_id": state.platform_id,
            "target_link_uri": state.target_link_uri,
            "expires_at": state.expires_at,
            "storage_target": state.storage_target,
        }
        try:
            async with autocommit(self._engine) as connection:
                await run(connection, _INSERT, values)
        except IntegrityError as exc:
            raise Conflict("a login state with this hash exists already") from exc

    async def consume(self, state_hash: str, now: float) -> ConsumedState | None:
        """Mark the state used and return it with first_use=True; exactly one caller ever gets True.

        A state used before comes back with first_use=False; None when unknown or purged. Expiry is not
        checked here: the caller compares `expires_at` with its clock.
        """
        # The conditional UPDATE alone decides first use; the lookup after it only tells a replay from an
        # unknown state, so both run without a surrounding transaction.
        async with autocommit(self._engine) as connection:
            rows = await run(connection, _MARK_USED, {"hash": state_hash, "now": now})
            row = rows[0] if rows else None
            first_use = row is not None
            if row is None:
                row = (await connection.execute(_LOOKUP, {"hash": state_hash})).first()
        if row is None:
            return None
        return ConsumedState(state=_login_state(state_hash, row), first_use=first_use)

    async def peek(self, state_hash: str) -> ConsumedState | None:
        """The state as stored, first_use=True while it is unused; None when unknown or purged. Nothing is
        changed: a launch whose browser must still confirm the state (platform storage) looks first."""
        async with autocommit(self._engine) as connection:
            row = (await connection.execute(_PEEK, {"hash": state_hash})).first()
        if row is None:
            return None
        return ConsumedState(state=_login_state(state_hash, row), first_use=row.consumed_at is None)

    async def purge(self, now: float, keep_consumed_for: float) -> int:
        """Delete unused states past `expires_at`, and used ones consumed more than `keep_consumed_for`
        seconds ago (kept until then so a replay is told apart from an unknown state). Returns the count."""
        unused_expired = and_(login_states.c.consumed_at.is_(None), login_states.c.expires_at <= now)
        used_long_ago = login_states.c.consumed_at <= now - keep_consumed_for
        async with transaction(self._engine) as connection:
            result = await connection.execute(delete(login_states).where(or_(unused_expired, used_long_ago)))
        return result.rowcount


def _login_state(state_hash: str, row: Row[*tuple[object, ...]]) -> LoginState:
    return LoginState(
        state_hash=state_hash,
        nonce=row.nonce,
        platform_id=row.platform_id,
        target_link_uri=row.target_link_uri,
        expires_at=row.expires_at,
        storage_target=row.storage_target,
    )

"""The tool's own signing keys (the KeyStore port): public JWK as JSON text, private key sealed as bytes."""

from __future__ import annotations

import builtins
import json

from sqlalchemy import Row, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import tool_keys
from ltigate.services.errors import Conflict, NotFound
from ltigate.services.records import KeyPurpose, KeyState, ToolKey


def _key(row: Row[*tuple[object, ...]]) -> ToolKey:
    return ToolKey(
        kid=row.kid,
        purpose=KeyPurpose(row.purpose),
        alg=row.alg,
        state=KeyState(row.state),
        public_jwk=json.loads(row.public_jwk),
        sealed_private_key=bytes(row.sealed_private_key),
        created_at=row.created_at,
        activated_at=row.activated_at,
        retire_at=row.retire_at,
    )


class SqlKeyStore:
    """KeyStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, key: ToolKey) -> None:
        """Raises Conflict when the kid exists."""
        values = {
            "kid": key.kid,
            "purpose": key.purpose.value,
            "alg": key.alg,
            "state": key.state.value,
            "public_jwk": json.dumps(dict(key.public_jwk), sort_keys=True),
            "sealed_private_key": key.sealed_private_key,
            "created_at": key.created_at,
            "activated_at": key.activated_at,
            "retire_at": key.retire_at,
        }
        try:
            async with transaction(self._engine) as connection:
                await connection.execute(tool_keys.insert().values(values))
        except IntegrityError as exc:
            raise Conflict(f"a tool key with kid '{key.kid}' exists already") from exc

    async def list(self, purpose: KeyPurpose) -> builtins.list[ToolKey]:
        """The keys of `purpose`, oldest first."""
        statement = (
            select(tool_keys)
            .where(tool_keys.c.purpose == purpose.value)
            .order_by(tool_keys.c.created_at, tool_keys.c.kid)
        )
        async with transaction(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [_key(row) for row in rows]

    async def set_state(self, kid: str, state: KeyState, at: float, retire_at: float | None = None) -> None:
        """Move a key to `state` at time `at`.

        ACTIVE sets `activated_at` to `at`; RETIRED sets `retire_at` to the given time (default `at`);
        NEXT and ACTIVE set `retire_at` to the given value (None clears it). Raises NotFound.
        """
        values: dict[str, object] = {"state": state.value, "retire_at": retire_at}
        if state is KeyState.ACTIVE:
            values["activated_at"] = at
        elif state is KeyState.RETIRED and retire_at is None:
            values["retire_at"] = at
        statement = update(tool_keys).where(tool_keys.c.kid == kid).values(values)
        async with transaction(self._engine) as connection:
            if (await connection.execute(statement)).rowcount == 0:
                raise NotFound(f"no tool key with kid '{kid}'")

    async def drop_retired(self, now: float) -> int:
        """Delete retired keys whose `retire_at` has come; returns how many."""
        due = (tool_keys.c.state == KeyState.RETIRED.value) & (tool_keys.c.retire_at <= now)
        async with transaction(self._engine) as connection:
            return (await connection.execute(delete(tool_keys).where(due))).rowcount

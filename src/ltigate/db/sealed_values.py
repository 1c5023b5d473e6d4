"""Every value the database holds sealed with the instance secret key (the SealedValueStore port), for
`ltigate rotate-secret`: the tool keys' private keys and the cached service tokens (sealed bytes as hex text).

A new sealed column belongs in SEALED_COLUMNS and in `rewrite`, or a rotation would leave it under the old key
(tests/db/test_sealed_values.py checks every binary column of the schema is listed).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Final

from sqlalchemy import Column, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ltigate.db.engine import transaction
from ltigate.db.schema import service_tokens, tool_keys
from ltigate.services.secret_rotation import SealedKind, SealedValue

SEALED_COLUMNS: Final[tuple[Column[object], ...]] = (tool_keys.c.sealed_private_key, service_tokens.c.access_token)


def _unhex(text: str) -> bytes:
    """A service token's sealed bytes; empty (which opens with no key) when the text is not hex."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


async def _read(connection: AsyncConnection) -> builtins.list[SealedValue]:
    keys = await connection.execute(select(tool_keys.c.kid, tool_keys.c.sealed_private_key).order_by(tool_keys.c.kid))
    tokens = await connection.execute(
        select(service_tokens.c.platform_id, service_tokens.c.scope_key, service_tokens.c.access_token).order_by(
            service_tokens.c.platform_id, service_tokens.c.scope_key
        )
    )
    return [
        *(SealedValue(SealedKind.TOOL_KEY, (row.kid,), bytes(row.sealed_private_key)) for row in keys),
        *(
            SealedValue(SealedKind.SERVICE_TOKEN, (row.platform_id, row.scope_key), _unhex(row.access_token))
            for row in tokens
        ),
    ]


async def _hold_writers(connection: AsyncConnection) -> None:
    """Make writers of the sealed tables wait until this transaction ends, so no value is written between
    the read and the rewrite: the write lock at once on SQLite (a deferred transaction would read first and
    fail on upgrading), a lock that lets readers through on PostgreSQL."""
    if connection.dialect.name == "postgresql":
        names = ", ".join(table.name for table in (tool_keys, service_tokens))
        await connection.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
    else:
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


class SqlSealedValueStore:
    """SealedValueStore over SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(self) -> builtins.list[SealedValue]:
        """Every sealed value: tool keys by kid, then service tokens by platform and scope key."""
        async with transaction(self._engine) as connection:
            return await _read(connection)

    async def rewrite(self, reseal: Callable[[SealedValue], bytes | None]) -> None:
        """Replace every sealed value with `reseal(value)` (None: delete it) in one transaction; an exception
        from `reseal` rolls all of it back. Raises StoreUnavailable as `transaction()` does."""
        async with transaction(self._engine) as connection:
            await _hold_writers(connection)
            for value in await _read(connection):
                sealed = reseal(value)
                if value.kind is SealedKind.TOOL_KEY:
                    where = tool_keys.c.kid == value.ref[0]
                    await connection.execute(
                        delete(tool_keys).where(where)
                        if sealed is None
                        else update(tool_keys).where(where).values(sealed_private_key=sealed)
                    )
                else:
                    platform_id, scope_key = value.ref
                    where = (service_tokens.c.platform_id == platform_id) & (service_tokens.c.scope_key == scope_key)
                    await connection.execute(
                        delete(service_tokens).where(where)
                        if sealed is None
                        else update(service_tokens).where(where).values(access_token=sealed.hex())
                    )

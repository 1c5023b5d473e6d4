"""SqlSealedValueStore and the secret key rotation on each database: every sealed value listed, rewritten
in one transaction or not at all, and a gateway that starts on the new key with the same signing keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import LargeBinary
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.bootstrap import build_gateway, secret_rotation
from ltigate.config import load_settings
from ltigate.db.engine import create_engine, dispose
from ltigate.db.keys import SqlKeyStore
from ltigate.db.schema import metadata
from ltigate.db.sealed_values import SEALED_COLUMNS, SqlSealedValueStore
from ltigate.db.tokens import SqlTokenCache
from ltigate.services.errors import SecretKeyMismatch
from ltigate.services.records import KeyPurpose, KeyState, ServiceToken, ToolKey
from ltigate.services.sealing import Sealer, UnsealError
from ltigate.services.secret_rotation import Outcome, SealedKind, SealedValue
from ltigate.services.service_tokens import SEAL_PURPOSE

pytestmark = pytest.mark.anyio

SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def tool_key(kid: str, sealed: bytes) -> ToolKey:
    return ToolKey(
        kid=kid,
        purpose=KeyPurpose.LTI,
        alg="RS256",
        state=KeyState.NEXT,
        public_jwk={"kty": "RSA", "kid": kid, "n": "0vx7agoebGc", "e": "AQAB"},
        sealed_private_key=sealed,
        created_at=1.0,
    )


async def cache(engine: AsyncEngine, platform_id: str, sealed: bytes) -> None:
    await SqlTokenCache(engine).put(platform_id, SCOPE, ServiceToken(sealed.hex(), (SCOPE,), 5_000.0))


@pytest.fixture
async def filled(engine: AsyncEngine) -> SqlSealedValueStore:
    await SqlKeyStore(engine).add(tool_key("k2", b"\x01sealed-k2"))
    await SqlKeyStore(engine).add(tool_key("k1", b"\x01sealed-k1"))
    await cache(engine, "p1", b"\x01sealed-t1")
    await cache(engine, "p2", b"\x01sealed-t2")
    return SqlSealedValueStore(engine)


def test_every_binary_column_of_the_schema_is_a_sealed_column() -> None:
    binary = {
        column for table in metadata.tables.values() for column in table.columns if isinstance(column.type, LargeBinary)
    }

    assert binary <= set(SEALED_COLUMNS)


async def test_lists_tool_keys_then_service_tokens(filled: SqlSealedValueStore) -> None:
    assert await filled.list() == [
        SealedValue(SealedKind.TOOL_KEY, ("k1",), b"\x01sealed-k1"),
        SealedValue(SealedKind.TOOL_KEY, ("k2",), b"\x01sealed-k2"),
        SealedValue(SealedKind.SERVICE_TOKEN, ("p1", SCOPE), b"\x01sealed-t1"),
        SealedValue(SealedKind.SERVICE_TOKEN, ("p2", SCOPE), b"\x01sealed-t2"),
    ]


async def test_rewrite_replaces_each_value_and_deletes_where_told(filled: SqlSealedValueStore) -> None:
    await filled.rewrite(lambda value: None if value.ref[0] == "p2" else b"\x02" + value.sealed[1:])

    assert await filled.list() == [
        SealedValue(SealedKind.TOOL_KEY, ("k1",), b"\x02sealed-k1"),
        SealedValue(SealedKind.TOOL_KEY, ("k2",), b"\x02sealed-k2"),
        SealedValue(SealedKind.SERVICE_TOKEN, ("p1", SCOPE), b"\x02sealed-t1"),
    ]


async def test_an_error_in_the_middle_of_a_rewrite_changes_nothing(filled: SqlSealedValueStore) -> None:
    before = await filled.list()

    def reseal(value: SealedValue) -> bytes | None:
        if value.ref[0] == "p1":  # after both tool keys were updated in the transaction
            raise SecretKeyMismatch("stop")
        return b"\x02" + value.sealed[1:]

    with pytest.raises(SecretKeyMismatch):
        await filled.rewrite(reseal)

    assert await filled.list() == before


async def test_rotation_on_this_database(database_url: str, tmp_path: Path) -> None:
    env = {
        "LTIGATE_DATA_DIR": str(tmp_path / "node"),
        "LTIGATE_BASE_URL": "https://lti.example.edu",
        "LTIGATE_DATABASE_URL": database_url,
    }
    settings = load_settings(env=env)
    gateway = await build_gateway(settings)  # makes the tool keys
    signing = gateway.tool_keys.signing_key(KeyPurpose.LTI)
    published = gateway.tool_keys.published(KeyPurpose.LTI)
    await gateway.close()
    engine = create_engine(database_url)
    await cache(engine, "p1", Sealer(settings.secret_key).seal(b"access", SEAL_PURPOSE))

    async with secret_rotation(settings) as rotation:
        dry = await rotation.rotate(dry_run=True)
        report = await rotation.rotate()

    assert dry.dry_run and [(c.kind, c.resealed, c.dropped) for c in dry.counts] == [
        (SealedKind.TOOL_KEY, 4, 0),
        (SealedKind.SERVICE_TOKEN, 1, 0),
    ]
    assert report.outcome is Outcome.ROTATED and report.counts == dry.counts
    restarted = await build_gateway(load_settings(env=env))
    try:
        assert restarted.settings.secret_key != settings.secret_key
        for value in await SqlSealedValueStore(engine).list():
            with pytest.raises(UnsealError):
                Sealer(settings.secret_key).unseal(value.sealed, value.purpose)
            Sealer(restarted.settings.secret_key).unseal(value.sealed, value.purpose)
        assert restarted.tool_keys.signing_key(KeyPurpose.LTI).kid == signing.kid
        assert restarted.tool_keys.signing_key(KeyPurpose.LTI).private_pem() == signing.private_pem()
        assert restarted.tool_keys.published(KeyPurpose.LTI) == published
    finally:
        await restarted.close()
        await dispose(engine)

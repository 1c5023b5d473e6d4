"""SqlTokenCache: one token per platform and scope key, returned only while it has not expired."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.tokens import SqlTokenCache
from ltigate.services.records import ServiceToken

pytestmark = pytest.mark.anyio

SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
KEY = f"{LINEITEM} {SCORE}"
TOKEN = ServiceToken(access_token="a1b2c3-sealed", scopes=(LINEITEM, SCORE), expires_at=1_000.0)


@pytest.fixture
def cache(engine: AsyncEngine) -> SqlTokenCache:
    return SqlTokenCache(engine)


async def test_put_and_get_until_expiry(cache: SqlTokenCache) -> None:
    assert await cache.get("p1", KEY, now=0.0) is None
    await cache.put("p1", KEY, TOKEN)
    assert await cache.get("p1", KEY, now=999.5) == TOKEN
    assert await cache.get("p1", KEY, now=1_000.0) is None  # expires_at must be after now
    assert await cache.get("p1", KEY, now=2_000.0) is None


async def test_tokens_are_kept_per_platform_and_scope_key(cache: SqlTokenCache) -> None:
    other_scopes = ServiceToken(access_token="only-score", scopes=(SCORE,), expires_at=1_000.0)
    other_platform = ServiceToken(access_token="other-platform", scopes=(LINEITEM, SCORE), expires_at=1_000.0)
    await cache.put("p1", KEY, TOKEN)
    await cache.put("p1", SCORE, other_scopes)
    await cache.put("p2", KEY, other_platform)
    assert await cache.get("p1", KEY, now=0.0) == TOKEN
    assert await cache.get("p1", SCORE, now=0.0) == other_scopes
    assert await cache.get("p2", KEY, now=0.0) == other_platform
    assert await cache.get("p2", SCORE, now=0.0) is None


async def test_put_replaces_the_token(cache: SqlTokenCache) -> None:
    await cache.put("p1", KEY, TOKEN)
    renewed = ServiceToken(access_token="renewed", scopes=(SCORE,), expires_at=5_000.0)
    await cache.put("p1", KEY, renewed)
    assert await cache.get("p1", KEY, now=2_000.0) == renewed
    shorter = ServiceToken(access_token="shorter", scopes=(), expires_at=10.0)
    await cache.put("p1", KEY, shorter)  # the last put wins, even with an earlier expiry
    assert await cache.get("p1", KEY, now=0.0) == shorter
    assert await cache.get("p1", KEY, now=2_000.0) is None

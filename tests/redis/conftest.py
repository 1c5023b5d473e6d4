"""The Redis tests talk to the server named by LTIGATE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) and skip
cleanly without one. Each test writes under its own key prefix and removes its keys afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

REDIS_ENV = "LTIGATE_TEST_REDIS_URL"


@dataclass(frozen=True)
class SharedRedis:
    url: str
    prefix: str
    client: redis.Redis

    def stored_keys(self) -> list[bytes]:
        return sorted(self.client.scan_iter(match=self.prefix + "*", count=500))

    def values(self) -> dict[bytes, bytes]:
        return {key: value for key in self.stored_keys() if (value := self.client.get(key)) is not None}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set (e.g. {REDIS_ENV}=redis://127.0.0.1:6379/0)")
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis answers at {REDIS_ENV}={url}: {exc}")
    finally:
        client.close()
    yield url


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[SharedRedis]:
    """The test server with a prefix of this test's own; its keys are deleted afterwards."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    handle = SharedRedis(url=redis_url, prefix=f"ltigate-test-{uuid.uuid4().hex[:12]}:", client=client)
    try:
        yield handle
    finally:
        keys = handle.stored_keys()
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""Platform key sets shared through Redis: several JwksCaches (as several processes, each with its own
Redis connection) and one platform, a MockTransport handler that counts its fetches.
"""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from joserfc.jwk import RSAKey

from ltigate.cache.connection import RedisConnection
from ltigate.cache.key_sets import RedisKeySets
from ltigate.lti.errors import KeySetUnavailable, KidNotFound
from ltigate.lti.jwks import CachePolicy
from ltigate.lti.keys import SigningKey
from ltigate.net.client import OutboundClient
from ltigate.net.jwks_cache import JwksCache
from ltigate.services.sealing import Sealer
from tests.redis.conftest import SharedRedis
from tests.redis.sockets import SilentServer, redis_url_at
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

JWKS_URL = "https://canvas.test/api/lti/security/jwks"
POLICY = CachePolicy(min_ttl=60, default_ttl=600, max_ttl=86400, refetch_cooldown=30)
SECRET = b"s" * 32


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {kid: SigningKey(kid=kid, alg="RS256", key=RSAKey.generate_key(2048)) for kid in ("k1", "k2")}


class Platform:
    def __init__(self, published: list[SigningKey]) -> None:
        self.published = published
        self.calls = 0
        self.status = 200
        self.delay = 0.0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.delay:
            await anyio.sleep(self.delay)
        document = {"keys": [key.public_jwk() for key in self.published]}
        return httpx.Response(self.status, json=document, headers={"Cache-Control": "max-age=300"})


class WallClock:
    """The clock the Redis records are written with, shared by every 'process' of a test."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def node(platform: Platform, url: str, prefix: str, *, wall: WallClock | None = None, secret: bytes = SECRET):
    """One process: its own Redis connection and its own JwksCache."""
    redis = RedisConnection(url, prefix=prefix, timeout=0.5, sealer=Sealer(secret))
    share = RedisKeySets(redis, clock=wall) if wall is not None else RedisKeySets(redis)
    client = OutboundClient(transport=httpx.MockTransport(platform), allow_private_addresses=True)
    return JwksCache(client, policy=POLICY, share=share, share_wait=2.0), redis


def end_turns(shared_redis: SharedRedis) -> None:
    """As if the cooldown of the last fetch had passed for the fetch turn shared by all processes."""
    shared_redis.client.delete(*[k for k in shared_redis.stored_keys() if b":jwks-turn:" in k])


async def test_a_set_fetched_by_one_process_serves_the_others(
    shared_redis: SharedRedis, keys: dict[str, SigningKey]
) -> None:
    platform = Platform([keys["k1"]])
    (a, ra), (b, rb), (c, rc) = (node(platform, shared_redis.url, shared_redis.prefix) for _ in range(3))
    try:
        assert (await a.key(JWKS_URL, "k1")).kid == "k1"
        assert (await b.key(JWKS_URL, "k1")).kid == "k1"
        assert (await c.key(JWKS_URL, "k1")).kid == "k1"
        assert platform.calls == 1
        assert (a.fetches, b.fetches, c.fetches) == (1, 0, 0)
        assert (b.shared, c.shared) == (1, 1)
        assert (await b.key(JWKS_URL, "k1")).kid == "k1"  # now from b's own memory
        assert b.hits == 1 and platform.calls == 1
    finally:
        for redis in (ra, rb, rc):
            await redis.aclose()


async def test_processes_meeting_a_new_kid_at_once_fetch_it_once(
    shared_redis: SharedRedis, keys: dict[str, SigningKey]
) -> None:
    platform = Platform([keys["k1"]])
    nodes = [node(platform, shared_redis.url, shared_redis.prefix) for _ in range(4)]
    try:
        for cache, _ in nodes:
            await cache.key(JWKS_URL, "k1")
        assert platform.calls == 1
        # The platform rotates: k2 appears; four processes see launches signed with it at the same moment.
        platform.published = [keys["k2"], keys["k1"]]
        platform.delay = 0.3
        found: list[str] = []

        async def look(cache: JwksCache) -> None:
            found.append((await cache.key(JWKS_URL, "k2")).kid)

        # The cooldown since that fetch is over, for each process and for the shared turn.
        for cache, _ in nodes:
            cache._entries[JWKS_URL].attempted_at = -1e9  # test: age the local attempt
        end_turns(shared_redis)
        async with anyio.create_task_group() as group:
            for cache, _ in nodes:
                group.start_soon(look, cache)
        assert found == ["k2"] * 4
        assert platform.calls == 2
    finally:
        for _, redis in nodes:
            await redis.aclose()


async def test_bogus_kids_cost_one_fetch_per_cooldown_among_all_processes(
    shared_redis: SharedRedis, keys: dict[str, SigningKey]
) -> None:
    platform = Platform([keys["k1"]])
    nodes = [node(platform, shared_redis.url, shared_redis.prefix) for _ in range(3)]
    try:
        await nodes[0][0].key(JWKS_URL, "k1")
        for index in range(30):
            cache = nodes[index % 3][0]
            with pytest.raises(KidNotFound) as raised:
                await cache.key(JWKS_URL, f"bogus-{index}")
            assert f"kid 'bogus-{index}' is not in the key set at {JWKS_URL}; it holds 'k1'" == raised.value.message
        assert platform.calls == 1  # the first fetch's turn (cooldown 30 s) still stands for everyone
        turn = shared_redis.client.pttl(next(k for k in shared_redis.stored_keys() if b":jwks-turn:" in k))
        assert 0 < turn <= 30_000
    finally:
        for _, redis in nodes:
            await redis.aclose()


async def test_a_failed_fetch_is_shared_too(shared_redis: SharedRedis, keys: dict[str, SigningKey]) -> None:
    platform = Platform([keys["k1"]])
    platform.status = 503
    (a, ra), (b, rb) = (node(platform, shared_redis.url, shared_redis.prefix) for _ in range(2))
    try:
        with pytest.raises(KeySetUnavailable) as first:
            await a.key(JWKS_URL, "k1")
        with pytest.raises(KeySetUnavailable) as second:
            await b.key(JWKS_URL, "k1")
        assert platform.calls == 1
        assert first.value.code == second.value.code == "jwks_unavailable"
        assert second.value.message == first.value.message
        assert f"the key set at {JWKS_URL} could not be fetched" in second.value.message
    finally:
        await ra.aclose()
        await rb.aclose()


async def test_records_expire_with_the_cache_policy_and_freshness_is_shared(
    shared_redis: SharedRedis, keys: dict[str, SigningKey]
) -> None:
    platform = Platform([keys["k1"]])
    wall = WallClock()
    (a, ra), (b, rb) = (node(platform, shared_redis.url, shared_redis.prefix, wall=wall) for _ in range(2))
    try:
        await a.key(JWKS_URL, "k1")
        [record] = [k for k in shared_redis.stored_keys() if b":jwks:" in k]
        # max-age=300 is fresh for 300 s; the set is kept a max_ttl longer to serve while the platform is down.
        assert (300 + 86400) * 1000 - 5000 < shared_redis.client.pttl(record) <= (300 + 86400) * 1000
        wall.now += 301  # the record says: stale (b's own clock is a fresh monotonic one)
        await b.key(JWKS_URL, "k1")
        assert platform.calls == 1  # the turn of a's fetch still stands: b serves the stale set
        end_turns(shared_redis)
        b._entries[JWKS_URL].attempted_at = -1e9  # test: b's own cooldown over too
        await b.key(JWKS_URL, "k1")
        assert platform.calls == 2  # stale everywhere: refetched once
    finally:
        await ra.aclose()
        await rb.aclose()


async def test_redis_holds_only_sealed_records_and_ignores_planted_ones(
    shared_redis: SharedRedis, keys: dict[str, SigningKey]
) -> None:
    platform = Platform([keys["k1"]])
    (a, ra), (b, rb) = (node(platform, shared_redis.url, shared_redis.prefix) for _ in range(2))
    (intruder, ri) = node(platform, shared_redis.url, shared_redis.prefix, secret=b"x" * 32)
    try:
        await a.key(JWKS_URL, "k1")
        [record] = [k for k in shared_redis.stored_keys() if b":jwks:" in k]
        sealed = shared_redis.client.get(record)
        assert sealed is not None and keys["k1"].public_jwk()["n"].encode() not in sealed
        # A record written under another secret key (or by hand) is not trusted: b fetches itself.
        shared_redis.client.set(record, json.dumps({"version": "x", "fresh_until": 9e9}).encode())
        await b.key(JWKS_URL, "k1")
        assert (b.fetches, b.shared) == (1, 0)
        platform.published = [keys["k2"]]
        await intruder.key(JWKS_URL, "k2")  # publishes k2 sealed under its own secret
        b._entries[JWKS_URL].attempted_at = -1e9
        end_turns(shared_redis)
        platform.published = [keys["k1"]]
        with pytest.raises(KidNotFound):
            await b.key(JWKS_URL, "k2")  # not taken from the intruder's record; b's own fetch has no k2
        assert b.fetches == 2 and b.shared == 0
    finally:
        for redis in (ra, rb, ri):
            await redis.aclose()


@pytest.mark.parametrize("down", ["closed port", "silent server"])
async def test_without_redis_each_process_fetches_for_itself(
    redis_url: str, keys: dict[str, SigningKey], down: str, caplog: pytest.LogCaptureFixture
) -> None:
    platform = Platform([keys["k1"]])
    with SilentServer() as silent:
        url = redis_url_at(redis_url, silent.port if down == "silent server" else free_port())
        cache, redis = node(platform, url, "ltigate-test:")
        try:
            with anyio.fail_after(3):  # one Redis timeout (0.5 s per call, 1 s per run) at most, then no waiting
                for _ in range(3):
                    assert (await cache.key(JWKS_URL, "k1")).kid == "k1"
            assert platform.calls == 1 and cache.fetches == 1
            assert redis.fallbacks["jwks"] >= 1
            warnings = [r.getMessage() for r in caplog.records if r.name == "ltigate.cache.connection"]
            assert len(warnings) == 1  # once, not once per call
            assert warnings[0].startswith("Redis did not answer (")
            assert "fall back to fetching and to the database, and Redis is tried again in 5 s" in warnings[0]
        finally:
            await redis.aclose()

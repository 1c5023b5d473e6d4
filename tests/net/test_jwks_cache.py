"""JwksCache: freshness from Cache-Control, refetch on unknown kid with a cooldown, last good set while
the platform is down, coalesced concurrent fetches. The platform is a MockTransport handler.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
from joserfc.jwk import RSAKey

from ltigate.lti.errors import KeySetInvalid, KeySetUnavailable, KidNotFound
from ltigate.lti.jwks import CachePolicy
from ltigate.lti.keys import PublicKey, SigningKey
from ltigate.net.client import OutboundClient
from ltigate.net.jwks_cache import JwksCache

pytestmark = pytest.mark.anyio

JWKS_URL = "https://canvas.test/api/lti/security/jwks"
POLICY = CachePolicy(min_ttl=60, default_ttl=600, max_ttl=86400, refetch_cooldown=30)


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    return {kid: SigningKey(kid=kid, alg="RS256", key=RSAKey.generate_key(2048)) for kid in ("k1", "k2", "k3")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Platform:
    """A JWKS endpoint: publishes `published`, or fails the way a test sets it to."""

    def __init__(self, published: list[SigningKey]) -> None:
        self.published = published
        self.cache_control: str | None = None
        self.failure: httpx.TransportError | None = None
        self.status = 200
        self.body: bytes | None = None
        self.delay = 0.0
        self.calls: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        if self.delay:
            await anyio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        headers = {"Cache-Control": self.cache_control} if self.cache_control else {}
        if self.body is not None:
            return httpx.Response(self.status, headers=headers, content=self.body)
        document = {"keys": [key.public_jwk() for key in self.published]}
        return httpx.Response(self.status, headers=headers, json=document)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(keys: dict[str, SigningKey]) -> Platform:
    return Platform([keys["k1"]])


@pytest.fixture
def cache(platform: Platform, clock: Clock) -> JwksCache:
    return cache_for(platform, clock)


def cache_for(platform: Platform, clock: Clock, *, max_urls: int = 10_000) -> JwksCache:
    # `.test` names do not resolve, so the private-address guard (tested in test_client) is off here.
    client = OutboundClient(transport=httpx.MockTransport(platform), allow_private_addresses=True)
    return JwksCache(client, policy=POLICY, clock=clock, max_urls=max_urls)


def same_key(found: PublicKey, expected: SigningKey) -> bool:
    published = expected.public_jwk()
    mine = found.key.as_dict(private=False)
    return found.kid == expected.kid and (mine["n"], mine["e"]) == (published["n"], published["e"])


async def test_fresh_set_answers_without_fetching(
    cache: JwksCache, platform: Platform, keys: dict[str, SigningKey]
) -> None:
    found = [await cache.key(JWKS_URL, "k1") for _ in range(100)]

    assert platform.calls == [JWKS_URL]
    assert all(same_key(key, keys["k1"]) for key in found)
    assert found[0].alg == "RS256"
    assert (cache.fetches, cache.hits, cache.failures) == (1, 99, 0)


async def test_request_asks_for_a_key_set(cache: JwksCache, keys: dict[str, SigningKey]) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"keys": [keys["k1"].public_jwk()]})

    client = OutboundClient(transport=httpx.MockTransport(record), allow_private_addresses=True)
    await JwksCache(client).key(JWKS_URL, "k1")

    assert "application/jwk-set+json" in seen[0].headers["accept"]


@pytest.mark.parametrize(
    ("cache_control", "fresh_seconds"),
    [
        (None, 600),
        ("max-age=300", 300),
        ("public, max-age=5", 60),
        ("no-store", 60),
        ("max-age=999999", 86400),
    ],
)
async def test_freshness_follows_cache_control_within_the_policy(
    cache: JwksCache, platform: Platform, clock: Clock, cache_control: str | None, fresh_seconds: int
) -> None:
    platform.cache_control = cache_control
    await cache.key(JWKS_URL, "k1")

    clock.advance(fresh_seconds - 1)
    await cache.key(JWKS_URL, "k1")
    assert len(platform.calls) == 1

    clock.advance(1)
    await cache.key(JWKS_URL, "k1")
    assert len(platform.calls) == 2


async def test_stale_set_is_refetched_and_replaced(
    cache: JwksCache, platform: Platform, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    platform.cache_control = "max-age=300"
    await cache.key(JWKS_URL, "k1")
    platform.published = [keys["k2"]]

    clock.advance(301)
    assert same_key(await cache.key(JWKS_URL, "k2"), keys["k2"])
    with pytest.raises(KidNotFound):
        await cache.key(JWKS_URL, "k1")
    assert len(platform.calls) == 2


async def test_unknown_kid_refetches_once_then_raises_kid_not_found(
    cache: JwksCache, platform: Platform, clock: Clock
) -> None:
    await cache.key(JWKS_URL, "k1")
    clock.advance(31)

    with pytest.raises(KidNotFound) as caught:
        await cache.key(JWKS_URL, "bogus")

    assert len(platform.calls) == 2
    assert caught.value.code == "kid_not_found"
    assert str(caught.value) == f"kid 'bogus' is not in the key set at {JWKS_URL}; it holds 'k1'"


async def test_bogus_kids_cause_at_most_one_fetch_per_cooldown(
    cache: JwksCache, platform: Platform, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    await cache.key(JWKS_URL, "k1")
    clock.advance(31)

    for n in range(1000):
        with pytest.raises(KidNotFound):
            await cache.key(JWKS_URL, f"bogus-{n}")
        clock.advance(0.01)  # 1000 lookups spread over 10 s, inside one cooldown
    assert len(platform.calls) == 2

    clock.advance(30)
    with pytest.raises(KidNotFound):
        await cache.key(JWKS_URL, "bogus-again")
    assert len(platform.calls) == 3
    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])


async def test_unknown_kid_right_after_a_fetch_waits_for_the_cooldown(
    cache: JwksCache, platform: Platform, clock: Clock
) -> None:
    await cache.key(JWKS_URL, "k1")
    clock.advance(29)

    with pytest.raises(KidNotFound):
        await cache.key(JWKS_URL, "k2")
    assert len(platform.calls) == 1


async def test_rotated_key_is_fetched_once_then_served_from_cache(
    cache: JwksCache, platform: Platform, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    await cache.key(JWKS_URL, "k1")
    platform.published = [keys["k1"], keys["k2"]]
    clock.advance(40)

    found = [await cache.key(JWKS_URL, "k2") for _ in range(100)]

    assert len(platform.calls) == 2
    assert all(same_key(key, keys["k2"]) for key in found)
    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])
    assert len(platform.calls) == 2


async def test_platform_down_keeps_serving_the_last_good_set(
    cache: JwksCache, platform: Platform, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    await cache.key(JWKS_URL, "k1")
    platform.failure = httpx.ConnectError("connection refused")
    clock.advance(601)

    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])
    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])
    assert len(platform.calls) == 2
    assert cache.failures == 1

    clock.advance(30)
    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])
    assert len(platform.calls) == 3


async def test_platform_down_and_kid_not_cached_raises_unavailable(
    cache: JwksCache, platform: Platform, clock: Clock
) -> None:
    await cache.key(JWKS_URL, "k1")
    platform.failure = httpx.ConnectError("connection refused")
    clock.advance(31)

    with pytest.raises(KeySetUnavailable) as caught:
        await cache.key(JWKS_URL, "k2")

    assert caught.value.code == "jwks_unavailable"
    assert f"the key set at {JWKS_URL} could not be fetched: could not connect" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "failure", "fragment"),
    [
        (200, httpx.ConnectError("connection refused"), "could not connect (connection refused)"),
        (200, httpx.ReadTimeout("slow"), "reading the response timed out"),
        (503, None, "answered HTTP 503"),
        (302, None, "answered HTTP 302"),
    ],
)
async def test_platform_down_without_cached_set_raises_unavailable_and_waits_out_the_cooldown(
    cache: JwksCache,
    platform: Platform,
    clock: Clock,
    status: int,
    failure: httpx.TransportError | None,
    fragment: str,
) -> None:
    platform.status, platform.failure = status, failure

    for _ in range(100):
        with pytest.raises(KeySetUnavailable) as caught:
            await cache.key(JWKS_URL, "k1")
        assert caught.value.code == "jwks_unavailable"
        assert str(caught.value).startswith(f"the key set at {JWKS_URL} could not be fetched: ")
        assert fragment in str(caught.value)
    assert len(platform.calls) == 1
    assert (cache.fetches, cache.failures) == (1, 1)

    platform.status, platform.failure = 200, None
    clock.advance(30)
    assert (await cache.key(JWKS_URL, "k1")).kid == "k1"
    assert len(platform.calls) == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>Service Unavailable</html>", "the key set is not JSON"),
        (b'{"keys": []}', "the key set holds no usable signing key (of 0 examined)"),
        (b'{"kid": "k1"}', "the key set has no 'keys' list"),
        (b"[" * 1024 * 1024 + b"]", "byte cap"),
    ],
)
async def test_garbage_key_set_raises_invalid(cache: JwksCache, platform: Platform, body: bytes, fragment: str) -> None:
    platform.body = body

    with pytest.raises(KeySetInvalid) as caught:
        await cache.key(JWKS_URL, "k1")

    assert caught.value.code == "jwks_invalid"
    assert str(caught.value).startswith(f"the key set at {JWKS_URL} is unusable: ")
    assert fragment in str(caught.value)


async def test_garbage_after_a_good_set_keeps_the_good_set(
    cache: JwksCache, platform: Platform, clock: Clock, keys: dict[str, SigningKey]
) -> None:
    await cache.key(JWKS_URL, "k1")
    platform.body = b"garbage"
    clock.advance(601)

    assert same_key(await cache.key(JWKS_URL, "k1"), keys["k1"])
    with pytest.raises(KeySetInvalid):
        await cache.key(JWKS_URL, "k2")
    assert len(platform.calls) == 2


async def test_concurrent_lookups_share_one_fetch(
    cache: JwksCache, platform: Platform, keys: dict[str, SigningKey]
) -> None:
    platform.delay = 0.05
    found: list[PublicKey] = []

    async def look_up() -> None:
        found.append(await cache.key(JWKS_URL, "k1"))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(look_up)

    assert len(platform.calls) == 1
    assert len(found) == 50
    assert all(same_key(key, keys["k1"]) for key in found)


async def test_concurrent_unknown_kids_share_one_refetch(cache: JwksCache, platform: Platform, clock: Clock) -> None:
    await cache.key(JWKS_URL, "k1")
    clock.advance(31)
    platform.delay = 0.05
    errors: list[KidNotFound] = []

    async def look_up(n: int) -> None:
        try:
            await cache.key(JWKS_URL, f"bogus-{n}")
        except KidNotFound as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for n in range(50):
            group.start_soon(look_up, n)

    assert len(platform.calls) == 2
    assert len(errors) == 50


async def test_concurrent_lookups_while_down_share_one_failed_fetch(cache: JwksCache, platform: Platform) -> None:
    platform.delay = 0.05
    platform.status = 500
    codes: list[str] = []

    async def look_up() -> None:
        try:
            await cache.key(JWKS_URL, "k1")
        except KeySetUnavailable as exc:
            codes.append(exc.code)

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(look_up)

    assert len(platform.calls) == 1
    assert codes == ["jwks_unavailable"] * 50


async def test_urls_are_cached_separately_and_the_oldest_is_dropped(platform: Platform, clock: Clock) -> None:
    cache = cache_for(platform, clock, max_urls=2)
    urls = [f"https://lms{n}.test/jwks" for n in range(3)]

    for url in urls:
        await cache.key(url, "k1")
    await cache.key(urls[2], "k1")
    await cache.key(urls[1], "k1")
    assert platform.calls == urls

    await cache.key(urls[0], "k1")
    assert platform.calls == [*urls, urls[0]]


async def test_kid_not_found_lists_at_most_ten_known_kids(clock: Clock, keys: dict[str, SigningKey]) -> None:
    jwk = keys["k1"].public_jwk()
    document = {"keys": [{**jwk, "kid": f"key-{n}"} for n in range(12)]}

    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=document)

    client = OutboundClient(transport=httpx.MockTransport(respond), allow_private_addresses=True)
    cache = JwksCache(client, policy=POLICY, clock=clock)

    with pytest.raises(KidNotFound) as caught:
        await cache.key(JWKS_URL, "x" * 300)

    message = str(caught.value)
    assert f"kid '{'x' * 79}…' is not in the key set" in message
    assert message.endswith("'key-8', 'key-9' and 2 more")


async def test_key_set_with_a_non_string_kty_is_invalid(cache: JwksCache, platform: Platform) -> None:
    platform.body = b'{"keys": [{"kid": "k1", "kty": ["RSA"]}]}'

    with pytest.raises(KeySetInvalid) as caught:
        await cache.key(JWKS_URL, "k1")

    assert caught.value.code == "jwks_invalid"

"""A platform's key set slow, down or serving garbage, over real HTTP: launches signed with a cached key keep
working, launches with an unknown kid get the error that names the fault, and the gateway asks the platform
again at most once per refetch cooldown (LTIGATE_JWKS_REFETCH_COOLDOWN_SECONDS), never once per launch.
Afterwards the platform's new key is fetched and used.

The key set is served by uvicorn behind a TcpProxy, which can refuse connections; the gateway's fetches are
counted twice: by the key-set server (requests that reached it) and by the gateway (/metrics).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ltigate.lti.keys import SigningKey, key_set_document
from tests.faults.conftest import launch, register, seed_resource
from tests.support.gateway import GatewayHarness, running_gateway
from tests.support.platform import Browser, ScriptedPlatform, error_code, new_key
from tests.support.servers import ServerThread
from tests.support.tcp_proxy import TcpProxy

COOLDOWN = 1.0  # LTIGATE_JWKS_REFETCH_COOLDOWN_SECONDS (its minimum)
TIMEOUT = 1.0  # LTIGATE_OUTBOUND_TIMEOUT_SECONDS (its minimum)
CACHED_LAUNCHES = 50
THREADS = 5
UNKNOWN_KID_SECONDS = 1.2  # how long launches with an unknown kid keep coming, once the cooldown has passed
BIG = 2 * 1024 * 1024  # over the outbound client's 1 MiB cap


@dataclass
class KeySetServer:
    """A platform's JWKS endpoint that misbehaves on command; `requests` counts those that reached it."""

    platform: ScriptedPlatform
    mode: str = "ok"  # ok | slow | not_json | no_keys | huge | bad_rsa
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            with self._lock:
                self.requests += 1
            mode = self.mode
            published = [key.public_jwk() for key in self.platform.keys]
            if mode == "slow":
                await anyio.sleep(TIMEOUT + 1.0)
            elif mode == "not_json":
                return Response("<html><body>Maintenance</body></html>", media_type="text/html")
            elif mode == "no_keys":
                return JSONResponse({"error": "temporarily unavailable"})
            elif mode == "huge":
                return StreamingResponse(_padding(), media_type="application/json")  # chunked: no Content-Length
            elif mode == "bad_rsa":
                return JSONResponse({"keys": [broken for jwk in published for broken in _broken(jwk)]})
            return JSONResponse(key_set_document(published), headers={"Cache-Control": "max-age=300"})

        return Starlette(routes=[Route("/jwks", jwks)])


async def _padding() -> AsyncIterator[bytes]:
    yield b'{"keys": [], "padding": "'
    for _ in range(BIG // 65536):
        yield b"x" * 65536
    yield b'"}'


def _broken(jwk: dict[str, str]) -> list[dict[str, str]]:
    """The key with values no usable RSA public key has: an exponent of 1, an even exponent, a modulus that is
    not base64url, a 1024-bit modulus."""
    return [
        {**jwk, "e": "AQ"},
        {**jwk, "e": "AQAA"},
        {**jwk, "n": "!" + jwk["n"][1:]},
        {**jwk, "n": jwk["n"][: len(jwk["n"]) // 2]},
    ]


@dataclass
class Gateway:
    harness: GatewayHarness
    api_key: str

    def fetches(self) -> int:
        """The gateway's own count of key-set fetches (every platform's), from /metrics."""
        return fetches(self.harness.url, self.api_key)


@dataclass
class Setup:
    gateway: Gateway
    platform: ScriptedPlatform
    server: KeySetServer
    proxy: TcpProxy
    jwks_url: str
    primed_at: float = 0.0  # when the gateway last fetched this key set


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp: Path = tmp_path_factory.mktemp("jwks")
    settings = {
        "LTIGATE_JWKS_REFETCH_COOLDOWN_SECONDS": str(int(COOLDOWN)),
        "LTIGATE_OUTBOUND_TIMEOUT_SECONDS": str(int(TIMEOUT)),
    }
    with running_gateway(tmp, **settings) as harness:
        seed_resource(harness)
        yield Gateway(harness, harness.api_key())


@pytest.fixture(scope="module")
def platforms(gateway: Gateway) -> Iterator[dict[str, Setup]]:
    """For each fault a fresh platform (its own key-set URL, so its own cache entry), registered, its key set
    behind a proxy, and one launch made so the gateway holds its key. Made together at the start, so by the
    time a test begins, the refetch cooldown after that first fetch has mostly passed."""
    with ExitStack() as stack:
        setups: dict[str, Setup] = {}
        for fault in FAULTS:
            platform = ScriptedPlatform()
            server = KeySetServer(platform)
            served = stack.enter_context(ServerThread(server.app(), lifespan="off"))
            proxy = stack.enter_context(TcpProxy(served.port))
            base = f"http://127.0.0.1:{proxy.port}"
            platform.issuer = f"{base}/lms"
            register(gateway.harness, platform, base)
            setups[fault] = Setup(gateway, platform, server, proxy, f"{base}/jwks")
        browser = Browser(gateway.harness.url)
        try:
            for setup in setups.values():
                assert launch(browser, setup.platform).status_code == 303
                setup.primed_at = time.monotonic()
        finally:
            browser.close()
        yield setups


def fetches(url: str, api_key: str) -> int:
    answer = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    match = re.search(r"^ltigate_jwks_fetches_total (\d+)", answer.text, re.MULTILINE)
    assert match is not None, answer.text[:500]
    return int(match.group(1))


# fault → (code of a launch with an unknown kid, what its page says about the key set)
FAULTS = {
    "refused": ("jwks_unavailable", "could not be fetched"),
    "slow": ("jwks_unavailable", f"no complete answer within {TIMEOUT:g} s"),
    "not_json": ("jwks_invalid", "not JSON"),
    "no_keys": ("jwks_invalid", "no &#39;keys&#39; list"),
    "huge": ("jwks_invalid", f"the body exceeds the {1024 * 1024} byte cap"),
    "bad_rsa": ("jwks_invalid", "no usable signing key (of 4 examined)"),
}


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None
    page: str
    seconds: float  # the launch request alone (its login not counted)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_cached_keys_keep_launches_working_and_refetches_wait_for_the_cooldown(
    platforms: dict[str, Setup], fault: str
) -> None:
    setup = platforms[fault]
    gateway, platform, server, primed_at = setup.gateway, setup.platform, setup.server, setup.primed_at
    browser = Browser(gateway.harness.url)
    try:
        assert server.requests == 1  # the first launch's fetch
        before = gateway.fetches()

        rotated = new_key()  # the platform's next key: its kid is unknown to the gateway
        if fault == "refused":
            setup.proxy.down()
        else:
            server.mode = fault
        fault_at = time.monotonic()
        not_before = max(fault_at, primed_at + COOLDOWN)  # an unknown kid may make the gateway refetch from then
        cached, unknown = _launch_during_the_fault(gateway.harness.url, platform, rotated, not_before)
        fault_seconds = time.monotonic() - fault_at
        refetches, reached = gateway.fetches() - before, server.requests - 1

        assert len(cached) == CACHED_LAUNCHES
        assert {a.status for a in cached} == {303}, cached[:3]
        # A cached key answers without waiting for the key set (which a slow platform holds for TIMEOUT).
        assert max(a.seconds for a in cached) < TIMEOUT, sorted(a.seconds for a in cached)[-3:]
        code, says = FAULTS[fault]
        assert unknown and {(a.status, a.code) for a in unknown} == {(502, code)}, unknown[:3]
        assert all(says in a.page and setup.jwks_url in a.page for a in unknown), unknown[0].page[-1500:]
        # At most one attempt per cooldown over the fault, however many launches asked; at least one.
        bound = math.ceil(fault_seconds / COOLDOWN) + 1
        assert 1 <= refetches <= bound, (refetches, bound, len(unknown))
        assert reached == (0 if fault == "refused" else refetches)
        print(
            f"\n[{fault}] {len(cached)} launches with the cached kid and {len(unknown)} with an unknown kid in"
            f" {fault_seconds:.1f} s: {refetches} refetch attempts (bound {bound}), {reached} reached the platform"
        )

        # The platform recovers and publishes its new key: after the cooldown the gateway takes it.
        setup.proxy.up()
        server.mode = "ok"
        platform.keys.append(rotated)
        time.sleep(COOLDOWN + 0.1)
        assert launch(browser, platform, "user-new-key", key=rotated).status_code == 303
        assert launch(browser, platform, "user-old-key").status_code == 303
        assert gateway.fetches() - before == refetches + 1
    finally:
        browser.close()


def _launch_during_the_fault(
    url: str, platform: ScriptedPlatform, unknown_key: SigningKey, not_before: float
) -> tuple[list[Answer], list[Answer]]:
    """CACHED_LAUNCHES launches with the cached kid from THREADS browsers, spread over the fault, while two
    more browsers launch with `unknown_key` from `not_before` for UNKNOWN_KID_SECONDS. The answers to each
    kind."""
    cached: list[Answer] = []
    unknown: list[Answer] = []
    lock = threading.Lock()
    per_thread = CACHED_LAUNCHES // THREADS
    deadline = not_before + UNKNOWN_KID_SECONDS

    def record(into: list[Answer], response: httpx.Response) -> None:
        answer = Answer(response.status_code, error_code(response), response.text, response.elapsed.total_seconds())
        with lock:
            into.append(answer)

    def with_cached_kid(n: int) -> None:
        browser = Browser(url)
        try:
            for i in range(per_thread):
                record(cached, launch(browser, platform, f"user-{n}-{i}"))
                time.sleep(max(0.0, deadline - time.monotonic()) / (per_thread - i))  # spread over the fault
        finally:
            browser.close()

    def with_unknown_kid() -> None:
        browser = Browser(url)
        try:
            time.sleep(max(0.0, not_before - time.monotonic()))
            for _ in range(100):  # bounded: about 10 a second until the deadline
                if time.monotonic() >= deadline:
                    break
                record(unknown, launch(browser, platform, "user-unknown-kid", key=unknown_key))
                time.sleep(0.1)
        finally:
            browser.close()

    threads = [threading.Thread(target=with_cached_kid, args=(n,)) for n in range(THREADS)]
    threads += [threading.Thread(target=with_unknown_kid) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "launches did not finish within 60 s"
    return cached, unknown

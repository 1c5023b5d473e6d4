"""Hostile input against a served gateway: each module gets its own gateway and a fresh database (the `env`
of tests/e2e, on SQLite and, when configured, PostgreSQL), platforms registered with their own JWKS servers,
and a bounded Hypothesis budget so the folder stays fast.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ltigate.lti.keys import SigningKey
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeploymentPolicy, PlatformFields
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Env, Registered
from tests.support.platform import Browser, Login, ScriptedPlatform, error_code, new_key
from tests.support.servers import ServerThread

# The fixtures of tests/e2e: `env` (a served gateway on a fresh database, per module), `register`, `browser`.
env, register, browser = e2e.env, e2e.register, e2e.browser

# Few examples, no per-example deadline: the gateway is a real server, and the folder must stay fast.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Register = Callable[..., Registered]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_with_header(
    header: Mapping[str, object] | bytes, payload: Mapping[str, object] | bytes, key: SigningKey
) -> str:
    """A real RS256 signature under any header (jku, crit, duplicate members…) over any payload bytes."""
    head = json.dumps(header).encode() if isinstance(header, Mapping) else header
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(head)}.{b64url(body)}"
    private = key.key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    signature = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), SHA256())
    return f"{signing_input}.{b64url(signature)}"


def assert_coded_4xx(response: httpx.Response) -> str:
    """A client error page carrying an error code (never a 500, never a bare framework error)."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    code = error_code(response)
    assert code, f"{response.status_code} without an error code: {response.text[:300]}"
    return code


def target(browser: Browser, resource: str = "quiz") -> str:
    return f"{browser.gateway_url}/lti/launch?resource={resource}"


def fresh_login(browser: Browser, reg: Registered, resource: str = "quiz") -> Login:
    """A new login whose state cookie is the only one the browser holds."""
    browser.http.cookies.clear()
    return browser.login(reg.platform, resource)


@pytest.fixture(scope="module")
def approved(env: Env) -> Iterator[Registered]:
    """One platform for the module (as tests/e2e's `register` makes them, which is per test): its own JWKS
    server, deployment dep-1 approved, new deployments approved by policy. Tests that count its key-set
    fetches make their own with `register`."""
    platform = ScriptedPlatform()
    with ServerThread(platform.app(), lifespan="off") as server:
        platform.issuer = f"{server.url}/lms-module"
        fields = platform.platform_fields(server.url, deployment_policy=DeploymentPolicy.APPROVE)

        async def create(gateway: Gateway) -> str:
            return (await gateway.platforms.create(PlatformFields(**fields))).id  # type: ignore[arg-type]

        yield Registered(platform=platform, id=env.gateway.run(create), url=server.url)


@dataclass
class Trap:
    """An HTTP server on 127.0.0.1 that answers anything and records what it is asked: a URL the gateway must
    never fetch (a token's jku or x5u). It serves the key set of `key`, the attacker's, under any *.json path."""

    url: str
    key: SigningKey
    requests: list[str]


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    seen: list[str] = []
    key = new_key()

    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith(".json"):
            return Response(json.dumps({"keys": [key.public_jwk()]}), media_type="application/json")
        return PlainTextResponse("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")

    app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST", "HEAD"])])
    with ServerThread(app, lifespan="off") as server:
        yield Trap(url=server.url, key=key, requests=seen)


class RawClient:
    """A plain socket to the gateway, for requests whose timing matters (send headers, then wait)."""

    def __init__(self, url: str) -> None:
        host, port = httpx.URL(url).host, httpx.URL(url).port
        assert host == "127.0.0.1" and port is not None
        self.sock = socket.create_connection((host, port), timeout=10)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, timeout: float = 5.0) -> bytes:
        """Whatever the server sent within `timeout` seconds: at least the status line and headers."""
        self.sock.settimeout(timeout)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            if b"</html>" in body or (head and b"content-length: 0" in head.lower()):
                break
        return received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(env: Env) -> Iterator[RawClient]:
    client = RawClient(env.gateway.url)
    yield client
    client.close()

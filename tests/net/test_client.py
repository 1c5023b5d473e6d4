"""OutboundClient: deadline, size cap, no redirects, User-Agent and the private-address guard."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx
import pytest

import ltigate
from ltigate.net.client import OutboundClient
from ltigate.net.errors import (
    OutboundRefused,
    OutboundStatus,
    OutboundTimeout,
    OutboundTooLarge,
    OutboundUnreachable,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Recorder:
    """A MockTransport handler that records the requests it sees and answers with `respond`."""

    def __init__(self, respond: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._respond is not None:
            return await self._respond(request)
        return httpx.Response(200, json={"ok": True})


def client_for(
    handler: Recorder, *, timeout: float = 5.0, max_body_bytes: int = 1024 * 1024, allow_private_addresses: bool = True
) -> OutboundClient:
    # `.test` names do not resolve, so the guard is off by default here; its own tests use IP literals and localhost.
    return OutboundClient(
        transport=httpx.MockTransport(handler),
        timeout=timeout,
        max_body_bytes=max_body_bytes,
        allow_private_addresses=allow_private_addresses,
    )


async def test_get_sends_user_agent_and_returns_lowercase_headers() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[("Content-Type", "application/json"), ("Link", "<a>"), ("Link", "<b>")])

    handler = Recorder(respond)
    async with client_for(handler) as client:
        response = await client.get("https://platform.test/jwks", headers={"Accept": "application/json"})

    sent = handler.requests[0]
    assert sent.headers["user-agent"] == f"ltigate/{ltigate.__version__}"
    assert sent.headers["accept"] == "application/json"
    assert response.status == 200
    assert response.url == "https://platform.test/jwks"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["link"] == "<a>, <b>"
    assert all(name == name.lower() for name in response.headers)


async def test_post_form_sends_urlencoded_body() -> None:
    handler = Recorder()
    async with client_for(handler) as client:
        await client.post_form("https://platform.test/token", {"grant_type": "client_credentials", "scope": "a b"})

    sent = handler.requests[0]
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.content == b"grant_type=client_credentials&scope=a+b"


async def test_post_json_sends_body_under_the_given_content_type_once() -> None:
    handler = Recorder()
    score_type = "application/vnd.ims.lis.v1.score+json"
    async with client_for(handler) as client:
        response = await client.post_json(
            "https://platform.test/lineitems/1/scores",
            {"scoreGiven": 7, "comment": "très bien"},
            headers={"content-type": "text/plain", "Authorization": "Bearer t"},
            content_type=score_type,
        )

    sent = handler.requests[0]
    assert sent.headers.get_list("content-type") == [score_type]
    assert json.loads(sent.content) == {"scoreGiven": 7, "comment": "très bien"}
    assert response.body == b'{"ok":true}'


async def test_deadline_bounds_the_whole_exchange() -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200)

    started = time.monotonic()
    async with client_for(Recorder(never), timeout=0.05) as client:
        with pytest.raises(OutboundTimeout) as caught:
            await client.get("https://platform.test/slow")

    assert time.monotonic() - started < 2
    assert caught.value.code == "outbound_timeout"
    assert caught.value.url == "https://platform.test/slow"
    assert str(caught.value) == "https://platform.test/slow: no complete answer within 0.05 s"


@pytest.mark.parametrize(
    ("failure", "error", "code", "fragment"),
    [
        (httpx.ConnectTimeout("t"), OutboundTimeout, "outbound_timeout", "connecting timed out"),
        (httpx.ReadTimeout("t"), OutboundTimeout, "outbound_timeout", "reading the response timed out"),
        (httpx.ConnectError("refused"), OutboundUnreachable, "outbound_unreachable", "could not connect (refused)"),
        (httpx.RemoteProtocolError("bad"), OutboundUnreachable, "outbound_unreachable", "connection failed (bad)"),
    ],
)
async def test_transport_failures_map_to_typed_errors(
    failure: httpx.TransportError, error: type[Exception], code: str, fragment: str
) -> None:
    async def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    async with client_for(Recorder(fail)) as client:
        with pytest.raises(error) as caught:
            await client.get("https://platform.test/x")

    assert getattr(caught.value, "code") == code
    assert fragment in str(caught.value)


async def test_body_over_the_cap_stops_reading() -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 1000

    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with client_for(Recorder(respond), max_body_bytes=10_000) as client:
        with pytest.raises(OutboundTooLarge) as caught:
            await client.get("https://platform.test/huge")

    assert produced <= 11
    assert caught.value.code == "outbound_too_large"
    assert "exceeds the 10000 byte cap" in str(caught.value)


async def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2001)

    async with client_for(Recorder(respond), max_body_bytes=2000) as client:
        with pytest.raises(OutboundTooLarge, match="declares 2001 bytes, over the 2000 byte cap"):
            await client.get("https://platform.test/big")


async def test_body_exactly_at_the_cap_is_accepted() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2000)

    async with client_for(Recorder(respond), max_body_bytes=2000) as client:
        response = await client.get("https://platform.test/fits")

    assert len(response.body) == 2000


async def test_redirect_is_an_error_and_not_followed() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest"})

    handler = Recorder(respond)
    async with client_for(handler) as client:
        with pytest.raises(OutboundStatus) as caught:
            await client.get("https://platform.test/jwks")

    assert len(handler.requests) == 1
    assert caught.value.code == "outbound_status"
    assert caught.value.status == 302
    assert caught.value.headers["location"] == "http://169.254.169.254/latest"
    assert "answered HTTP 302 redirecting to http://169.254.169.254/latest (redirects are not followed)" in str(
        caught.value
    )


async def test_error_status_carries_headers_and_at_most_2_kb_of_body() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "120"}, text='{"error": "down"}' + " " * 5000)

    async with client_for(Recorder(respond)) as client:
        with pytest.raises(OutboundStatus) as caught:
            await client.post_form("https://platform.test/token", {"grant_type": "client_credentials"})

    assert caught.value.status == 503
    assert caught.value.headers["retry-after"] == "120"
    assert caught.value.body_text.startswith('{"error": "down"}')
    assert len(caught.value.body_text) <= 2048
    assert str(caught.value) == 'https://platform.test/token: answered HTTP 503: {"error": "down"}'


async def test_messages_leave_out_credentials_and_query() -> None:
    async def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    async with client_for(Recorder(respond)) as client:
        with pytest.raises(OutboundStatus) as caught:
            await client.get("https://user:hunter2@platform.test/hook?token=s3cret")

    assert str(caught.value) == "https://platform.test/hook?…: answered HTTP 500"
    assert caught.value.url == "https://user:hunter2@platform.test/hook?token=s3cret"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "non-global"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://localhost/", "loopback"),
    ],
)
async def test_private_destinations_are_refused_without_connecting(url: str, kind: str) -> None:
    handler = Recorder()
    async with client_for(handler, allow_private_addresses=False) as client:
        with pytest.raises(OutboundRefused) as caught:
            await client.get(url)

    assert handler.requests == []
    assert caught.value.code == "outbound_refused"
    assert f"is a {kind} address; private destinations are not allowed" in str(caught.value)


async def test_public_address_passes_the_guard() -> None:
    handler = Recorder()
    async with client_for(handler, allow_private_addresses=False) as client:
        response = await client.get("https://8.8.8.8/jwks")

    assert response.status == 200
    assert len(handler.requests) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://10.0.0.1/"])
async def test_private_destinations_are_allowed_when_configured(url: str) -> None:
    handler = Recorder()
    async with client_for(handler, allow_private_addresses=True) as client:
        response = await client.get(url)

    assert response.status == 200
    assert len(handler.requests) == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://platform.test/keys", "/relative/path"])
async def test_other_schemes_are_refused_even_when_private_is_allowed(url: str) -> None:
    handler = Recorder()
    async with client_for(handler, allow_private_addresses=True) as client:
        with pytest.raises(OutboundRefused, match="only http and https URLs are fetched"):
            await client.get(url)

    assert handler.requests == []

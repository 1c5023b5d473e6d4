"""OutboundClient over its own HTTP/1.1 transport, against real servers on 127.0.0.1 that misbehave on
command (tests.net.raw_server): keep-alive and the pool bound, framing, size caps, timeouts, stale
connections, malformed answers, redirects, the private-address guard and TLS.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import re
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ltigate
from ltigate.net.client import OutboundClient
from ltigate.net.destination import addresses_to_connect
from ltigate.net.errors import (
    OutboundRefused,
    OutboundStatus,
    OutboundTimeout,
    OutboundTooLarge,
    OutboundUnreachable,
)
from ltigate.net.transport import Http11Transport
from tests.net.raw_server import RawServer, Request, response

pytestmark = pytest.mark.anyio


def client(**options: object) -> OutboundClient:
    settings: dict[str, object] = {"timeout": 5.0, "allow_private_addresses": True, **options}
    return OutboundClient(**settings)  # type: ignore[arg-type]


def transport_of(outbound: OutboundClient) -> Http11Transport:
    transport = outbound.transport
    assert isinstance(transport, Http11Transport)
    return transport


# --- keep-alive and the pool --------------------------------------------------------------------------


async def test_sequential_requests_share_one_kept_alive_connection() -> None:
    async with RawServer() as server, client() as outbound:
        for n in range(20):
            answer = await outbound.exchange("POST", server.url(f"/scores/{n}"), headers={}, body=b"{}")
            assert (answer.status, answer.body) == (200, b'{"ok":true}')

    assert server.connections == 1
    assert [r.number for r in server.requests] == list(range(1, 21))
    assert transport_of(outbound).pool.opened == 1


async def test_request_carries_host_user_agent_and_content_length() -> None:
    async with RawServer() as server, client() as outbound:
        await outbound.post_json(server.url("/lineitems?x=1"), {"a": 1}, headers={"Authorization": "Bearer t"})
        await outbound.get(server.url("/jwks"), headers={"Accept": "application/jwk-set+json"})

    post, get = server.requests
    assert (post.method, post.target) == ("POST", "/lineitems?x=1")
    assert post.headers["host"] == f"127.0.0.1:{server.port}"
    assert post.headers["user-agent"] == f"ltigate/{ltigate.__version__}"
    assert post.headers["authorization"] == "Bearer t"
    assert post.headers["content-type"] == "application/json"
    assert (post.headers["content-length"], post.body) == ("7", b'{"a":1}')
    assert get.headers["accept"] == "application/jwk-set+json"
    assert "content-length" not in get.headers


async def test_concurrent_requests_never_open_more_connections_than_the_bound() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.02)
        writer.write(response(200, request.target.encode()))
        return True

    async with RawServer(slow) as server, client(max_connections_per_origin=3) as outbound:
        answers = await asyncio.gather(*(outbound.get(server.url(f"/{n}")) for n in range(30)))

    assert [a.body for a in answers] == [f"/{n}".encode() for n in range(30)]
    assert server.most_open <= 3
    assert server.connections == 3


async def test_a_cancelled_wait_for_a_connection_leaves_the_pool_usable() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1)
        writer.write(response(200, b"x"))
        return True

    async with RawServer(slow) as server, client(max_connections_per_origin=1) as outbound:
        first = asyncio.ensure_future(outbound.get(server.url("/1")))
        waiting = asyncio.ensure_future(outbound.get(server.url("/2")))
        await asyncio.sleep(0.02)
        waiting.cancel()
        assert (await first).status == 200
        assert (await outbound.get(server.url("/3"))).status == 200

    assert [r.target for r in server.requests] == ["/1", "/3"]
    assert server.connections == 1


# --- framing ------------------------------------------------------------------------------------------


async def test_chunked_body_with_extensions_and_trailers_then_reuse() -> None:
    async def chunked(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b'{"keys":', b"[]", b"}"):
            writer.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\nExpires: never\r\n\r\n")
        return True

    async with RawServer(chunked) as server, client() as outbound:
        first = await outbound.get(server.url("/jwks"))
        second = await outbound.get(server.url("/jwks"))

    assert first.body == second.body == b'{"keys":[]}'
    assert first.headers["transfer-encoding"] == "chunked"
    assert server.connections == 1


@pytest.mark.parametrize("status", [204, 304])
async def test_answers_without_a_body_then_reuse(status: int) -> None:
    async def no_body(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(status, headers=[("Content-Length", "100")], length=False))
        return True

    async with RawServer(no_body) as server, client() as outbound:
        for _ in range(3):
            answer = await outbound.exchange("GET", server.url("/"), headers={})
            assert (answer.status, answer.body) == (status, b"")

    assert server.connections == 1


async def test_head_answer_has_no_body_whatever_its_content_length() -> None:
    async def head(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, headers=[("Content-Length", "5000")], length=False))
        return True

    async with RawServer(head) as server, client() as outbound:
        for _ in range(2):
            answer = await outbound.exchange("HEAD", server.url("/"), headers={})
            assert (answer.status, answer.body, answer.headers["content-length"]) == (200, b"", "5000")

    assert server.connections == 1


async def test_body_ending_with_the_connection_is_read_and_the_connection_not_reused() -> None:
    async def until_close(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"all of it", length=False))
        return False

    async with RawServer(until_close) as server, client() as outbound:
        assert (await outbound.get(server.url("/"))).body == b"all of it"
        assert (await outbound.get(server.url("/"))).body == b"all of it"

    assert server.connections == 2


async def test_connection_close_from_the_server_is_honoured() -> None:
    async def closing(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"ok", [("Connection", "close")]))
        return True  # the server would go on; the client must not

    async with RawServer(closing) as server, client() as outbound:
        await outbound.get(server.url("/"))
        await outbound.get(server.url("/"))

    assert server.connections == 2


async def test_interim_answers_are_skipped() -> None:
    async def interim(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
        writer.write(response(201, b"made"))
        return True

    async with RawServer(interim) as server, client() as outbound:
        answer = await outbound.exchange("POST", server.url("/"), headers={}, body=b"x")

    assert (answer.status, answer.body) == (201, b"made")
    assert "link" not in answer.headers


async def test_gzip_body_is_decoded_within_the_cap() -> None:
    document = b'{"keys":[]}' * 50

    async def gzipped(request: Request, writer: asyncio.StreamWriter) -> bool:
        assert request.headers["accept-encoding"] == "gzip, deflate"
        writer.write(response(200, gzip.compress(document), [("Content-Encoding", "gzip")]))
        return True

    async with RawServer(gzipped) as server:
        async with client() as outbound:
            assert (await outbound.get(server.url("/"))).body == document
        async with client(max_body_bytes=len(document) - 1) as outbound:
            with pytest.raises(OutboundTooLarge, match=f"exceeds the {len(document) - 1} byte cap"):
                await outbound.get(server.url("/"))


# --- size caps ----------------------------------------------------------------------------------------


async def test_declared_length_over_the_cap_is_refused_before_the_body_is_read() -> None:
    async def big(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, headers=[("Content-Length", "5000000")], length=False))
        return True  # and never sends the body

    async with RawServer(big) as server, client(max_body_bytes=1000) as outbound:
        with pytest.raises(OutboundTooLarge) as caught:
            await outbound.get(server.url("/big"))
        await asyncio.sleep(0.05)
        assert server.open_now == 0  # that connection was closed, not kept

    assert caught.value.code == "outbound_too_large"
    assert str(caught.value) == f"{server.url('/big')}: the body declares 5000000 bytes, over the 1000 byte cap"


@pytest.mark.parametrize("framing", ["chunked", "until-close"])
async def test_streamed_body_over_the_cap_stops_reading(framing: str) -> None:
    sent = 0

    async def endless(request: Request, writer: asyncio.StreamWriter) -> bool:
        nonlocal sent
        chunked = framing == "chunked"
        writer.write(response(200, headers=[("Transfer-Encoding", "chunked")] if chunked else [], length=False))
        try:
            for _ in range(10_000):
                writer.write(b"3e8\r\n" + b"x" * 1000 + b"\r\n" if chunked else b"x" * 1000)
                await writer.drain()
                sent += 1000
                await asyncio.sleep(0.001)
        except ConnectionError:
            pass
        return False

    async with RawServer(endless) as server, client(max_body_bytes=10_000) as outbound:
        with pytest.raises(OutboundTooLarge, match="exceeds the 10000 byte cap"):
            await outbound.get(server.url("/huge"))
        await asyncio.sleep(0.1)

    assert sent < 2_000_000  # the client hung up: the server could not go on


async def test_error_body_over_the_cap_is_cut_not_refused() -> None:
    async def failing(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(503, b"down " * 100_000, [("Retry-After", "30")]))
        return True

    async with RawServer(failing) as server, client(max_body_bytes=1000) as outbound:
        with pytest.raises(OutboundStatus) as caught:
            await outbound.get(server.url("/"))

    assert caught.value.status == 503
    assert caught.value.headers["retry-after"] == "30"
    assert len(caught.value.body_text) == 2048


# --- timeouts -----------------------------------------------------------------------------------------


async def test_no_answer_hits_the_read_timeout() -> None:
    async def silent(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    started = time.monotonic()
    async with RawServer(silent) as server, client(read_timeout=0.2) as outbound:
        with pytest.raises(OutboundTimeout) as caught:
            await outbound.get(server.url("/slow"))

    assert time.monotonic() - started < 2
    assert caught.value.code == "outbound_timeout"
    assert str(caught.value) == f"{server.url('/slow')}: reading the response timed out"


async def test_headers_then_a_stalled_body_hit_the_read_timeout_and_the_connection_is_dropped() -> None:
    async def stall(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 1:
            writer.write(response(200, headers=[("Content-Length", "10")], length=False) + b"12345")
            await writer.drain()
            await asyncio.sleep(5)
        writer.write(response(200, b"fine"))
        return True

    async with RawServer(stall) as server, client(read_timeout=0.2) as outbound:
        with pytest.raises(OutboundTimeout, match="reading the response timed out"):
            await outbound.get(server.url("/"))
        assert (await outbound.get(server.url("/"))).body == b"fine"

    assert server.connections == 2


async def test_a_body_trickling_in_is_bounded_by_the_overall_deadline() -> None:
    async def trickle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, headers=[("Content-Length", "1000")], length=False))
        for _ in range(1000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.02)
        return False

    started = time.monotonic()
    async with RawServer(trickle) as server, client(timeout=0.5, read_timeout=0.2) as outbound:
        with pytest.raises(OutboundTimeout) as caught:
            await outbound.get(server.url("/"))

    assert time.monotonic() - started < 2
    assert str(caught.value).endswith(": no complete answer within 0.5 s")


async def test_a_stalled_tls_handshake_hits_the_connect_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts TCP, never answers the TLS hello

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(connect_timeout=0.2) as outbound:
            with pytest.raises(OutboundTimeout, match="connecting timed out"):
                await outbound.get(f"https://127.0.0.1:{port}/")
    finally:
        for writer in accepted:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def test_a_server_that_stops_reading_hits_the_write_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # never reads: the socket buffers fill up

    server = await asyncio.start_server(deaf, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(write_timeout=0.3, max_body_bytes=10) as outbound:
            with pytest.raises(OutboundTimeout, match="sending the request timed out"):
                await outbound.exchange("POST", f"http://127.0.0.1:{port}/", headers={}, body=b"x" * 64_000_000)
    finally:
        for writer in accepted:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def test_a_request_cancelled_mid_answer_leaves_no_connection_to_reuse() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 1:
            await asyncio.sleep(0.3)
        writer.write(response(200, b"late" if request.connection == 1 else b"fresh"))
        return True

    async with RawServer(slow) as server, client() as outbound:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await outbound.get(server.url("/"))
        await asyncio.sleep(0.4)
        assert (await outbound.get(server.url("/"))).body == b"fresh"

    assert server.connections == 2


# --- connections the server closed --------------------------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_error() -> None:
    async with RawServer() as server, client() as outbound:
        await outbound.post_json(server.url("/"), {})
        server.drop_connections()
        await asyncio.sleep(0.05)
        await outbound.post_json(server.url("/"), {})

    assert server.connections == 2
    assert len(server.requests) == 2


async def test_idle_connections_are_closed_after_the_keepalive_expiry() -> None:
    async with RawServer() as server, client(keepalive_expiry=0.1) as outbound:
        await outbound.get(server.url("/"))
        await asyncio.sleep(0.2)
        await outbound.get(server.url("/"))

    assert server.connections == 2


async def test_idempotent_request_on_a_connection_closed_under_it_is_sent_once_more() -> None:
    async with RawServer() as server, client() as outbound:
        await outbound.get(server.url("/first"))
        server.drop_connections()  # the close reaches the client only after the next request went out
        answer = await outbound.get(server.url("/second"))

    assert answer.status == 200
    assert server.connections == 2
    assert [r.target for r in server.requests] == ["/first", "/second"]
    assert transport_of(outbound).resends == 1


async def test_after_one_stale_connection_the_other_idle_ones_are_not_tried() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.02)
        writer.write(response(200, b"ok"))
        return True

    async with RawServer(slow) as server, client() as outbound:
        await asyncio.gather(*(outbound.get(server.url("/warm")) for _ in range(3)))
        assert server.connections == 3
        server.drop_connections()  # a server restart: every kept-alive connection is gone
        answer = await outbound.get(server.url("/after"))

    assert answer.status == 200
    assert transport_of(outbound).resends == 1
    assert server.connections == 4


async def test_post_on_a_connection_closed_under_it_is_not_sent_again() -> None:
    async with RawServer() as server, client() as outbound:
        await outbound.get(server.url("/first"))
        server.drop_connections()
        with pytest.raises(OutboundUnreachable) as caught:
            await outbound.exchange("POST", server.url("/score"), headers={}, body=b"{}")
        await outbound.get(server.url("/after"))

    assert caught.value.code == "outbound_unreachable"
    assert "the connection failed (" in str(caught.value)
    assert [r.target for r in server.requests] == ["/first", "/after"]  # the score never arrived, never twice
    assert transport_of(outbound).resends == 0


async def test_post_handed_a_connection_that_closed_before_it_was_used_goes_out_once() -> None:
    async def answer_then_close(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        writer.write(response(200, request.body))  # keep-alive by the headers, closed by the deed
        return False

    async with RawServer(answer_then_close) as server, client(max_connections_per_origin=1) as outbound:
        answers = await asyncio.gather(
            outbound.exchange("POST", server.url("/a"), headers={}, body=b"a"),
            outbound.exchange("POST", server.url("/b"), headers={}, body=b"b"),
        )

    assert [(a.status, a.body) for a in answers] == [(200, b"a"), (200, b"b")]
    assert sorted(r.target for r in server.requests) == ["/a", "/b"]
    # /b was handed /a's connection, which the server's close reached before /b could be written to it.
    assert transport_of(outbound).resends == 1


async def test_a_server_that_drops_every_request_fails_after_one_resend() -> None:
    async def drop(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 1 and request.number == 1:
            writer.write(response(200, b"ok"))
            return True
        return False  # closes without an answer

    async with RawServer(drop) as server, client() as outbound:
        await outbound.get(server.url("/"))
        with pytest.raises(OutboundUnreachable, match="the server closed the connection without answering"):
            await outbound.get(server.url("/again"))

    assert [r.target for r in server.requests] == ["/", "/again", "/again"]
    assert transport_of(outbound).resends == 1


# --- malformed answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"HTTP/1.1 2OO OK\r\n\r\n", "malformed status line b'HTTP/1.1 2OO OK'"),
        (b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n", "malformed status line b'ICY 200 OK'"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line b'no colon here'"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header line b'Bad Name: x'"),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "folded header line b' folded'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx", "conflicting Content-Length values '1, 2'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length '-1'"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer coding 'gzip'"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size b'zz'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "closed the connection in the middle of the body"),
        (b"HTTP/1.1 200 OK\r\nContent-Len", "closed the connection in the response head"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols (101) unasked"),
    ],
)
async def test_malformed_answers_raise_a_clear_error(raw: bytes, fragment: str) -> None:
    async def broken(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        return False

    async with RawServer(broken) as server, client() as outbound:
        with pytest.raises(OutboundUnreachable) as caught:
            await outbound.get(server.url("/"))

    assert caught.value.code == "outbound_unreachable"
    assert fragment in str(caught.value)


async def test_header_limits_hold() -> None:
    async def many(request: Request, writer: asyncio.StreamWriter) -> bool:
        count = 200 if request.target == "/many" else 1
        size = 100_000 if request.target == "/huge" else 10
        writer.write(response(200, b"", [(f"X-{n}", "v" * size) for n in range(count)]))
        return True

    async with RawServer(many) as server, client() as outbound:
        with pytest.raises(OutboundUnreachable, match="201 header fields, over the limit of 128"):
            await outbound.get(server.url("/many"))
        with pytest.raises(OutboundUnreachable, match="the response head exceeds 65536 bytes"):
            await outbound.get(server.url("/huge"))


async def test_a_header_value_with_a_line_break_is_never_sent() -> None:
    async with RawServer() as server, client() as outbound:
        with pytest.raises(OutboundRefused, match="the value of the header 'Authorization' holds a line break"):
            await outbound.get(server.url("/"), headers={"Authorization": "Bearer x\r\nX-Injected: 1"})

    assert server.connections == 0


# --- redirects and destinations -----------------------------------------------------------------------


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    async with RawServer() as elsewhere:

        async def redirect(request: Request, writer: asyncio.StreamWriter) -> bool:
            writer.write(response(302, headers=[("Location", elsewhere.url("/steal", host="localhost"))]))
            return True

        async with RawServer(redirect) as server, client() as outbound:
            with pytest.raises(OutboundStatus) as caught:
                await outbound.get(server.url("/jwks"))
            answer = await outbound.exchange("GET", server.url("/jwks"), headers={})

    assert caught.value.status == 302
    assert "(redirects are not followed)" in str(caught.value)
    assert answer.status == 302
    assert elsewhere.connections == 0


@pytest.mark.parametrize(
    ("host", "shown"), [("127.0.0.1", r"127\.0\.0\.1"), ("localhost", r"localhost \((127\.0\.0\.1|::1)\)")]
)
async def test_the_guard_refuses_loopback_before_connecting(host: str, shown: str) -> None:
    async with RawServer() as server, client(allow_private_addresses=False) as outbound:
        with pytest.raises(OutboundRefused) as caught:
            await outbound.get(server.url("/", host=host))

    assert server.connections == 0
    assert caught.value.code == "outbound_refused"
    assert re.search(f"{shown} is a loopback address; private destinations are not allowed", str(caught.value))


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://[2001:4860:4860::8888]:8443/"])
async def test_public_addresses_pass_the_guard_and_are_what_is_connected_to(url: str) -> None:
    parsed = httpx.URL(url)
    assert await addresses_to_connect(parsed, allow_private=False) == [parsed.host]


async def test_a_resolved_name_is_connected_to_by_the_checked_addresses_only() -> None:
    with pytest.raises(OutboundRefused, match=r"localhost \((127\.0\.0\.1|::1)\) is a loopback address"):
        await addresses_to_connect(httpx.URL("http://localhost/"), allow_private=False)
    allowed = await addresses_to_connect(httpx.URL("http://localhost/"), allow_private=True)
    assert "127.0.0.1" in allowed
    assert all(ipaddress.ip_address(address).is_loopback for address in allowed)


# --- TLS ----------------------------------------------------------------------------------------------


class Certificates:
    """A test CA and a certificate it issued for `names` (default: localhost and 127.0.0.1), as PEM files."""

    def __init__(self, directory: Path, names: list[x509.GeneralName] | None = None) -> None:
        self.ca_path = directory / "ca.pem"
        self.cert_path = directory / "server.pem"
        self.key_path = directory / "server.key"
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ltigate test CA")])
        ca = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names = x509.SubjectAlternativeName(
            names or [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, key.public_key())
            .add_extension(names, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self, seen_names: list[str | None]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        context.sni_callback = lambda sock, name, ctx: seen_names.append(name)  # type: ignore[assignment]
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("tls"))


async def test_tls_with_a_trusted_certificate_sends_sni_and_keeps_the_connection(certificates: Certificates) -> None:
    seen: list[str | None] = []
    async with (
        RawServer(tls=certificates.server_context(seen)) as server,
        client(ssl_context=certificates.client_context()) as outbound,
    ):
        for _ in range(3):
            answer = await outbound.get(server.url("/jwks", host="localhost"))
            assert answer.status == 200

    assert seen == ["localhost"]
    assert server.connections == 1


async def test_tls_with_an_untrusted_certificate_is_refused(certificates: Certificates) -> None:
    async with RawServer(tls=certificates.server_context([])) as server, client() as outbound:
        with pytest.raises(OutboundUnreachable) as caught:
            await outbound.get(server.url("/jwks", host="localhost"))

    assert "could not connect (the TLS certificate was not accepted: " in str(caught.value)
    assert server.requests == []


async def test_tls_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    other = Certificates(tmp_path, [x509.DNSName("platform.test")])
    async with (
        RawServer(tls=other.server_context([])) as server,
        client(ssl_context=other.client_context()) as outbound,
    ):
        with pytest.raises(OutboundUnreachable) as caught:
            await outbound.get(server.url("/", host="localhost"))

    assert "the TLS certificate was not accepted: Hostname mismatch" in str(caught.value)
    assert server.requests == []


def test_a_client_used_from_a_second_event_loop_opens_its_own_connections() -> None:
    outbound = client()

    async def fetch(server: RawServer) -> int:
        return (await outbound.get(server.url("/"))).status

    async def serve_and_fetch() -> tuple[int, int]:
        async with RawServer() as server:
            return await fetch(server), server.connections

    assert asyncio.run(serve_and_fetch()) == (200, 1)
    assert asyncio.run(serve_and_fetch()) == (200, 1)
    asyncio.run(outbound.aclose())

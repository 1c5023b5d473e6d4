"""The outbound HTTP/1.1 transport (decision 0007): pooled keep-alive connections on asyncio, each opened
to addresses the private-address guard has just checked, TLS with certificate and host name verification.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Awaitable, Callable
from typing import Final

from ltigate.net.connection import Connection, ConnectionDropped, PhaseTimeout
from ltigate.net.destination import addresses_to_connect
from ltigate.net.errors import OutboundRefused, OutboundTimeout, OutboundTooLarge, OutboundUnreachable
from ltigate.net.http11 import (
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    BodyTooLarge,
    InvalidRequest,
    ProtocolViolation,
    ResponseParser,
    encode_request,
)
from ltigate.net.messages import OutboundRequest, Response
from ltigate.net.pool import ConnectionPool, Origin

DEFAULT_MAX_CONNECTIONS_PER_ORIGIN: Final = 32
# Under the 5 s idle timeout of Apache, Node and uvicorn, so against those servers we close first.
DEFAULT_KEEPALIVE_EXPIRY: Final = 4.0
# A request that fails on a reused connection before any answer may be sent again on a new one, once:
# always for these (RFC 9110 §9.2.2), for others only when none of it was handed to the socket.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class Http11Transport:
    """Sends requests over HTTP/1.1 connections kept alive per origin (at most
    `max_connections_per_origin` each, idle ones closed after `keepalive_expiry` seconds).

    Each new connection resolves the host, applies the private-address guard (unless
    `allow_private_addresses`) to every resolved address, and connects to one of exactly those addresses;
    name resolution, TCP and the TLS handshake together are bounded by `connect_timeout`. `read_timeout`
    bounds each wait for response bytes, `write_timeout` each wait for the socket to take request bytes.
    TLS uses `ssl_context` (default: `ssl.create_default_context()`, so the system's CAs, certificate and
    host name verification) and sends the host name as SNI. A connection that failed, timed out, was cut
    by a cancellation or answered with `Connection: close` is closed, never reused.
    """

    def __init__(
        self,
        *,
        allow_private_addresses: bool,
        connect_timeout: float,
        read_timeout: float,
        write_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_connections_per_origin: int = DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_headers: int = MAX_HEADERS,
    ) -> None:
        self._allow_private = allow_private_addresses
        self._connect_timeout, self._read_timeout, self._write_timeout = connect_timeout, read_timeout, write_timeout
        self._ssl = ssl_context
        self._max_head, self._max_headers = max_head_bytes, max_headers
        self.pool = ConnectionPool(max_per_origin=max_connections_per_origin, idle_expiry=keepalive_expiry)
        self.resends = 0  # requests sent again after a kept-alive connection turned out closed

    async def send(self, request: OutboundRequest) -> Response:
        shown = str(request.url)
        origin, data = _encode(request, shown)

        def opener(on_idle_close: Callable[[Connection], None]) -> Awaitable[Connection]:
            return self._open(request, origin, on_idle_close)

        connection, reused = await self.pool.acquire(origin, opener)
        parser = await self._exchange(origin, connection, request, data, resend=reused)
        if parser is None:
            # The server had closed this kept-alive connection (and likely the other idle ones): on a new one.
            self.resends += 1
            self.pool.drop_idle(origin)
            connection, _ = await self.pool.acquire(origin, opener)
            parser = await self._exchange(origin, connection, request, data, resend=False)
            assert parser is not None  # without `resend`, a failure raises
        return _response(shown, request, parser)

    async def _exchange(
        self, origin: Origin, connection: Connection, request: OutboundRequest, data: bytes, *, resend: bool
    ) -> ResponseParser | None:
        """One exchange on `connection`, released afterwards; None when it should be sent again (`resend`
        allows it, and it failed before any answer in a way that makes that safe)."""
        shown = str(request.url)
        parser = ResponseParser(
            request.method,
            max_body_bytes=request.max_body_bytes,
            error_body_bytes=request.error_body_bytes,
            max_head_bytes=self._max_head,
            max_headers=self._max_headers,
        )
        reusable = False
        try:
            await connection.exchange(data, parser, read_timeout=self._read_timeout, write_timeout=self._write_timeout)
            reusable = parser.reusable
        except ConnectionDropped as exc:
            if resend and not exc.answered and (request.method in IDEMPOTENT_METHODS or not exc.sent):
                return None
            raise OutboundUnreachable(shown, f"the connection failed ({exc.reason})") from None
        except PhaseTimeout as exc:
            raise OutboundTimeout(shown, str(exc)) from None
        except BodyTooLarge as exc:
            raise OutboundTooLarge(shown, exc.reason) from None
        except ProtocolViolation as exc:
            raise OutboundUnreachable(shown, f"the answer is not valid HTTP/1.1: {exc.reason}") from None
        finally:
            self.pool.release(origin, connection, reusable=reusable)
        return parser

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def _open(
        self, request: OutboundRequest, origin: Origin, on_idle_close: Callable[[Connection], None]
    ) -> Connection:
        scheme, host, port = origin
        shown = str(request.url)
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if scheme == "https" else None
        failure: OSError | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                for address in await addresses_to_connect(request.url, allow_private=self._allow_private):
                    try:
                        _, connection = await loop.create_connection(
                            lambda: Connection(on_idle_close),
                            host=address,
                            port=port,
                            ssl=tls,
                            server_hostname=host if tls is not None else None,
                            ssl_handshake_timeout=self._connect_timeout if tls is not None else None,
                        )
                    except OSError as exc:  # TLS failures included: ssl.SSLError is an OSError
                        failure = exc
                        continue
                    return connection
        except TimeoutError:
            raise OutboundTimeout(shown, "connecting timed out") from None
        raise OutboundUnreachable(shown, f"could not connect ({_describe(failure)})")

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # made on first use: loading the system's CA certificates takes a few ms
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl


def _encode(request: OutboundRequest, shown: str) -> tuple[Origin, bytes]:
    """The request's origin and its bytes on the wire (Host added; the transport frames the body)."""
    url = request.url
    host = url.raw_host.decode("ascii")
    default_port = _DEFAULT_PORTS[url.scheme]
    port = url.port or default_port
    authority = f"[{host}]" if ":" in host else host
    if port != default_port:
        authority = f"{authority}:{port}"
    headers = (("Host", authority), *request.headers)
    try:
        data = encode_request(request.method, url.raw_path.decode("ascii"), headers, request.body)
    except InvalidRequest as exc:
        raise OutboundRefused(shown, f"the request cannot be sent: {exc}") from None
    return (url.scheme, host, port), data


def _response(shown: str, request: OutboundRequest, parser: ResponseParser) -> Response:
    head = parser.head
    assert head is not None  # a completed parser has a head
    body = parser.body
    coding = head.headers.get("content-encoding")
    if coding is not None and body:
        cut = request.error_body_bytes is not None and not 200 <= head.status < 300
        limit = request.error_body_bytes if cut and request.error_body_bytes is not None else request.max_body_bytes
        body = _decode(shown, body, coding, limit, cut=cut)
    return Response(url=shown, status=head.status, headers=head.headers, body=body)


def _decode(url: str, body: bytes, coding: str, cap: int, *, cut: bool) -> bytes:
    """Undo gzip or deflate content codings (offered, as httpx did), at most `cap` bytes out: over it is
    OutboundTooLarge, or with `cut` (an error body) the first `cap` bytes."""
    for name in reversed([token.strip().lower() for token in coding.split(",") if token.strip()]):
        if name == "identity":
            continue
        if name not in ("gzip", "x-gzip", "deflate"):
            raise OutboundUnreachable(url, f"the body has the content coding {name[:40]!r}, which was not offered")
        try:
            decoded, complete = _inflate(body, cap, name)
        except zlib.error as exc:
            if cut:  # the start of an error body, for a message: leave it as it came
                return body[:cap]
            raise OutboundUnreachable(url, f"the {name} body does not decode ({exc})") from None
        if not complete:
            if not cut:
                raise OutboundTooLarge(url, f"the body exceeds the {cap} byte cap")
            decoded = decoded[:cap]
        body = decoded
    return body


def _inflate(body: bytes, cap: int, name: str) -> tuple[bytes, bool]:
    """At most cap + 1 decoded bytes, and whether that was all. Raises zlib.error."""
    if name != "deflate":
        wbits = zlib.MAX_WBITS | 16
    elif len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
        wbits = zlib.MAX_WBITS  # zlib-wrapped, as RFC 9110 §8.4.1.2 means 'deflate'
    else:
        wbits = -zlib.MAX_WBITS  # raw deflate, as some servers send it
    decoder = zlib.decompressobj(wbits)
    decoded = decoder.decompress(body, cap + 1)
    return decoded, len(decoded) <= cap and not decoder.unconsumed_tail


def _describe(exc: OSError | None) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the TLS certificate was not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if exc is None:
        return "no address to connect to"
    return exc.strerror or str(exc) or type(exc).__name__

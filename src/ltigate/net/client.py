"""The single outbound HTTP path: every request has a deadline, a response size cap, no redirects, our
User-Agent and, unless allowed, only public destinations. Failures are the typed `ltigate.net.errors`.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import ssl
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Final
from urllib.parse import urlencode

import httpx

from ltigate import __version__
from ltigate.net.destination import check_scheme
from ltigate.net.errors import OutboundRefused, OutboundStatus, OutboundTimeout, loggable_url
from ltigate.net.httpx_transport import HttpxTransport
from ltigate.net.messages import OutboundRequest, Response, Transport
from ltigate.net.transport import DEFAULT_KEEPALIVE_EXPIRY, DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, Http11Transport
from ltigate.services.ports import HttpResponse

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_TIMEOUT", "USER_AGENT", "OutboundClient", "Response"]

DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
ERROR_BODY_BYTES: Final = 2048
USER_AGENT: Final = f"ltigate/{__version__}"
FORM: Final = "application/x-www-form-urlencoded"

# Sent unless the caller gives its own; gzip and deflate are decoded (within the size cap).
_DEFAULT_HEADERS: Final = {
    "user-agent": ("User-Agent", USER_AGENT),
    "accept": ("Accept", "*/*"),
    "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
}
# Framing and routing are the transport's: a caller's values for these are dropped.
_TRANSPORT_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})

_log = logging.getLogger(__name__)


class OutboundClient:
    """Sends requests through keep-alive HTTP/1.1 connections pooled per origin (`Http11Transport`), or
    through an httpx transport when one is given (`httpx.MockTransport` in tests).

    `timeout` bounds the whole exchange (waiting for a pooled connection, name resolution, connecting,
    sending, reading the last byte, and the one resend on a fresh connection when a kept-alive one turns
    out closed); `connect_timeout`, `read_timeout` and `write_timeout` (default: `timeout`) bound
    connecting alone, each wait for response bytes and each wait to send. Bodies over `max_body_bytes`
    raise OutboundTooLarge as soon as the Content-Length or the bytes read show it. A 3xx is an
    OutboundStatus like any other non-2xx: redirects are never followed. With `allow_private_addresses`
    False, hosts that are or resolve to private, loopback, link-local or reserved addresses raise
    OutboundRefused before any connection, and connections go only to the addresses checked. Proxy
    settings and `.netrc` from the environment are ignored, so no ambient credentials are sent. Headers
    and bodies are never logged.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_private_addresses: bool = False,
        max_connections_per_origin: int = DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.allow_private_addresses = allow_private_addresses
        connect = connect_timeout if connect_timeout is not None else timeout
        read = read_timeout if read_timeout is not None else timeout
        write = write_timeout if write_timeout is not None else timeout
        self._transport: Transport
        if transport is None:
            self._transport = Http11Transport(
                allow_private_addresses=allow_private_addresses,
                connect_timeout=connect,
                read_timeout=read,
                write_timeout=write,
                ssl_context=ssl_context,
                max_connections_per_origin=max_connections_per_origin,
                keepalive_expiry=keepalive_expiry,
            )
        else:
            self._transport = HttpxTransport(
                transport,
                allow_private_addresses=allow_private_addresses,
                timeout=httpx.Timeout(timeout, connect=connect, read=read, write=write),
            )

    @property
    def transport(self) -> Transport:
        return self._transport

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        return await self._send("GET", url, headers)

    async def post_form(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Response:
        """POST `data` as `application/x-www-form-urlencoded` (OAuth 2 token requests, LTI 1.1 outcomes)."""
        return await self._send("POST", url, headers, content=urlencode(data).encode(), content_type=FORM)

    async def post_json(
        self,
        url: str,
        body: object,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Response:
        """POST `body` serialised as JSON under `content_type` (e.g. the AGS score media type)."""
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return await self._send("POST", url, headers, content=content, content_type=content_type)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> OutboundClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        max_body_bytes: int | None = None,
    ) -> HttpResponse:
        """Send a request and return the answer whatever its status (LTI services classify statuses
        themselves); raises the OutboundError subclasses (HttpTransportError) when there is none.
        """
        response = await self._send(
            method, url, headers, content=body, raise_for_status=False, max_body_bytes=max_body_bytes
        )
        return HttpResponse(status=response.status, headers=response.headers, body=response.body)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
        raise_for_status: bool = True,
        max_body_bytes: int | None = None,
    ) -> Response:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OutboundRefused(url, f"not a valid URL ({exc})") from None
        check_scheme(parsed)
        request = OutboundRequest(
            method=method,
            url=parsed,
            headers=_merge(headers, content_type),
            body=content,
            max_body_bytes=max_body_bytes or self.max_body_bytes,
            error_body_bytes=ERROR_BODY_BYTES if raise_for_status else None,
        )
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._transport.send(request)
        except TimeoutError:
            raise OutboundTimeout(url, f"no complete answer within {self.timeout:g} s") from None
        if raise_for_status and not 200 <= response.status < 300:
            raise OutboundStatus(url, response.status, response.headers, _text(response))
        if _log.isEnabledFor(logging.DEBUG):
            took = (time.monotonic() - started) * 1000
            _log.debug("outbound %s %s -> %d in %.0f ms", method, loggable_url(url), response.status, took)
        return response


def _merge(given: Mapping[str, str] | None, content_type: str | None) -> tuple[tuple[str, str], ...]:
    merged = dict(_DEFAULT_HEADERS)
    if given:
        for name, value in given.items():
            key = name.lower()
            if key not in _TRANSPORT_HEADERS:
                merged[key] = (name, value)
    if content_type is not None:
        merged["content-type"] = ("Content-Type", content_type)
    return tuple(merged.values())


def _text(response: Response) -> str:
    """The start of an error body as text, in the charset the Content-Type names (UTF-8 otherwise)."""
    charset = "utf-8"
    for parameter in response.headers.get("content-type", "").split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip('"').strip() or charset
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return response.body[:ERROR_BODY_BYTES].decode(charset, errors="replace")

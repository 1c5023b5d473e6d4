"""The single outbound HTTP path: every request has a deadline, a response size cap, no redirects, our
User-Agent and, unless allowed, only public destinations. Failures are the typed `ltigate.net.errors`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final

import anyio
import httpx

from ltigate import __version__
from ltigate.net.destination import check_scheme, refuse_private_destination
from ltigate.net.errors import (
    OutboundRefused,
    OutboundStatus,
    OutboundTimeout,
    OutboundTooLarge,
    OutboundUnreachable,
    loggable_url,
)
from ltigate.services.ports import HttpResponse

DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
ERROR_BODY_BYTES: Final = 2048
USER_AGENT: Final = f"ltigate/{__version__}"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response (2xx, except from `exchange`); header names are lowercase, repeated headers
    are joined with ', '."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class OutboundClient:
    """Sends requests through one pooled `httpx.AsyncClient`.

    `timeout` bounds the whole exchange (name resolution, connecting, sending, reading the last byte);
    `connect_timeout` (default: `timeout`) bounds connecting alone. Bodies over `max_body_bytes` raise
    OutboundTooLarge as soon as the cap is crossed. A 3xx is an OutboundStatus like any other non-2xx.
    With `allow_private_addresses` False, hosts that are or resolve to private, loopback, link-local or
    reserved addresses raise OutboundRefused before any connection. Proxy settings and `.netrc` from the
    environment are ignored, so no ambient credentials are sent. Headers and bodies are never logged.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_private_addresses: bool = False,
    ) -> None:
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.allow_private_addresses = allow_private_addresses
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        return await self._send("GET", url, headers)

    async def post_form(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Response:
        """POST `data` as `application/x-www-form-urlencoded` (OAuth 2 token requests, LTI 1.1 outcomes)."""
        return await self._send("POST", url, headers, data=dict(data))

    async def post_json(
        self,
        url: str,
        body: object,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Response:
        """POST `body` serialised as JSON under `content_type` (e.g. the AGS score media type)."""
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        merged = httpx.Headers(headers)
        merged["Content-Type"] = content_type
        return await self._send("POST", url, merged, content=content)

    async def aclose(self) -> None:
        await self._http.aclose()

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
        data: dict[str, str] | None = None,
        content: bytes | None = None,
        raise_for_status: bool = True,
        max_body_bytes: int | None = None,
    ) -> Response:
        try:
            request = self._http.build_request(method, url, headers=headers, data=data, content=content)
        except httpx.InvalidURL as exc:
            raise OutboundRefused(url, f"not a valid URL ({exc})") from None
        check_scheme(request.url)
        started = time.monotonic()
        try:
            with anyio.fail_after(self.timeout):
                if not self.allow_private_addresses:
                    await refuse_private_destination(request.url)
                response = await self._exchange(url, request, raise_for_status, max_body_bytes or self.max_body_bytes)
        except TimeoutError:
            raise OutboundTimeout(url, f"no complete answer within {self.timeout:g} s") from None
        _log.debug(
            "outbound %s %s -> %d in %.0f ms",
            method,
            loggable_url(url),
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _exchange(self, url: str, request: httpx.Request, raise_for_status: bool, cap: int) -> Response:
        try:
            response = await self._http.send(request, stream=True)
            try:
                return await self._read(url, response, raise_for_status, cap)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise OutboundTimeout(url, f"{_phase(exc)} timed out") from None
        except httpx.ConnectError as exc:
            raise OutboundUnreachable(url, f"could not connect ({_describe(exc)})") from None
        except httpx.UnsupportedProtocol as exc:
            raise OutboundRefused(url, str(exc)) from None
        except httpx.TransportError as exc:
            raise OutboundUnreachable(url, f"the connection failed ({_describe(exc)})") from None

    async def _read(self, url: str, response: httpx.Response, raise_for_status: bool, cap: int) -> Response:
        headers = dict(response.headers.items())
        if raise_for_status and not response.is_success:
            body, _ = await _read_at_most(response, ERROR_BODY_BYTES)
            text = body.decode(response.encoding or "utf-8", errors="replace")
            raise OutboundStatus(url, response.status_code, headers, text)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise OutboundTooLarge(url, f"the body declares {declared} bytes, over the {cap} byte cap")
        body, truncated = await _read_at_most(response, cap)
        if truncated:
            raise OutboundTooLarge(url, f"the body exceeds the {cap} byte cap")
        return Response(url=str(response.url), status=response.status_code, headers=headers, body=body)


async def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` decoded body bytes, and whether there was more; stops reading once past the limit."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting"
    if isinstance(exc, httpx.PoolTimeout):
        return "waiting for a free connection"
    if isinstance(exc, httpx.WriteTimeout):
        return "sending the request"
    return "reading the response"

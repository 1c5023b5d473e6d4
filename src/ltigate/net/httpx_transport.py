"""An httpx transport (in practice `httpx.MockTransport`, the one fake for outbound HTTP) behind the
OutboundClient's Transport seam, with the same limits and guard as the real transport.
"""

from __future__ import annotations

import httpx

from ltigate.net.destination import refuse_private_destination
from ltigate.net.errors import OutboundRefused, OutboundTimeout, OutboundTooLarge, OutboundUnreachable
from ltigate.net.messages import OutboundRequest, Response


class HttpxTransport:
    """Sends through one `httpx.AsyncClient` over `transport`. The private-address guard runs before the
    request (the connection, if any, is the httpx transport's business); timeouts are httpx's."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, *, allow_private_addresses: bool, timeout: httpx.Timeout
    ) -> None:
        self._allow_private = allow_private_addresses
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)

    async def send(self, request: OutboundRequest) -> Response:
        shown = str(request.url)
        if not self._allow_private:
            await refuse_private_destination(request.url)
        outgoing = self._http.build_request(
            request.method, request.url, headers=list(request.headers), content=request.body
        )
        try:
            response = await self._http.send(outgoing, stream=True)
            try:
                return await _read(shown, response, request)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise OutboundTimeout(shown, f"{_phase(exc)} timed out") from None
        except httpx.ConnectError as exc:
            raise OutboundUnreachable(shown, f"could not connect ({_describe(exc)})") from None
        except httpx.UnsupportedProtocol as exc:
            raise OutboundRefused(shown, str(exc)) from None
        except httpx.TransportError as exc:
            raise OutboundUnreachable(shown, f"the connection failed ({_describe(exc)})") from None

    async def aclose(self) -> None:
        await self._http.aclose()


async def _read(url: str, response: httpx.Response, request: OutboundRequest) -> Response:
    headers = dict(response.headers.items())
    cut = request.error_body_bytes if not response.is_success else None
    cap = cut if cut is not None else request.max_body_bytes
    declared = headers.get("content-length", "")
    if cut is None and declared.isdigit() and int(declared) > cap:
        raise OutboundTooLarge(url, f"the body declares {declared} bytes, over the {cap} byte cap")
    body, truncated = await _read_at_most(response, cap)
    if truncated and cut is None:
        raise OutboundTooLarge(url, f"the body exceeds the {cap} byte cap")
    return Response(url=url, status=response.status_code, headers=headers, body=body)


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

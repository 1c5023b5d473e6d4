"""What the OutboundClient hands a transport and gets back, and the seam between them.

A transport moves one request and its response and enforces the limits it is given; the client does
the rest (URL and scheme checks, headers, the overall deadline, what a status means).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """`headers` are complete except Host and Content-Length, which the transport derives."""

    method: str
    url: httpx.URL
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    max_body_bytes: int
    # A non-2xx body is cut at this size instead of refused (the start is enough for an error message).
    error_body_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response (2xx, except from `exchange`); header names are lowercase, repeated headers
    are joined with ', '."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class Transport(Protocol):
    """Sends one request. Raises the `ltigate.net.errors` OutboundError subclasses (never a status error)
    and enforces the request's body limits and the private-address policy it was built with."""

    async def send(self, request: OutboundRequest) -> Response: ...

    async def aclose(self) -> None: ...

"""The typed errors of outbound HTTP: each says what went wrong with which URL, with a stable `code`.

Messages show the URL without credentials or query string, so they are safe to log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import httpx

from ltigate.services.ports import HttpTransportError


def loggable_url(url: str) -> str:
    """`url` without userinfo, query and fragment: those may carry secrets and must not reach logs."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    suffix = "?…" if parsed.query else ""
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None)) + suffix


class OutboundError(HttpTransportError):
    """Base of every outbound failure; `reason` says what happened, `message` adds the URL.

    It is the services' HttpTransportError, so use cases handle it without knowing this layer.
    """

    code: ClassVar[str] = "outbound_error"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        self.message = f"{loggable_url(url)}: {reason}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class OutboundTimeout(OutboundError):
    """The destination did not answer completely within the deadline."""

    code = "outbound_timeout"
    kind = "timeout"


class OutboundUnreachable(OutboundError):
    """The host did not resolve, refused or dropped the connection, or broke HTTP."""

    code = "outbound_unreachable"
    kind = "unreachable"


class OutboundTooLarge(OutboundError):
    """The response body exceeded the size cap; reading stopped there."""

    code = "outbound_too_large"
    kind = "too_large"


class OutboundRefused(OutboundError):
    """We refused to send: not an http(s) URL, or a private, loopback, link-local or reserved destination."""

    code = "outbound_refused"
    kind = "refused"


class OutboundStatus(OutboundError):
    """The destination answered with a status other than 2xx (redirects included: they are never followed)."""

    code = "outbound_status"
    kind = "status"

    def __init__(self, url: str, status: int, headers: Mapping[str, str], body_text: str) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body_text = body_text
        reason = f"answered HTTP {status}"
        location = self.headers.get("location")
        if 300 <= status < 400 and location:
            reason += f" redirecting to {loggable_url(location)} (redirects are not followed)"
        snippet = " ".join(body_text.split())[:200]
        if snippet:
            reason += f": {snippet}"
        super().__init__(url, reason)

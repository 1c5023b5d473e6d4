"""The two requests of every launch, /lti/login and /lti/launch, served as plain ASGI (web.lti_endpoints).

Why: they are most of what the gateway is asked, and Starlette's per-request machinery (its Request and the
parsing of headers, cookies and URL, the request_response and exception wrappers, RedirectResponse's header
handling) cost them ~0.1 ms of CPU per launch. Here a request's head is read from its scope in one pass, its
form from `receive` with web.forms' caps and errors, and a redirect is two ASGI messages whose headers are
byte for byte what RedirectResponse sends. Pages (errors, platform storage, the deep-linking picker) stay
Starlette responses, sent as the ASGI apps they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ltigate.web.forms import collect_form, query_text, stream_body

# What starlette's RedirectResponse leaves unquoted in a Location.
LOCATION_SAFE: Final = ":/%#?=@[]!$&'()*+,;"
_READ: Final = frozenset({b"content-length", b"content-type", b"sec-fetch-dest"})


@dataclass(frozen=True, slots=True)
class RequestHead:
    """What the hot endpoints read of a request, as starlette's Request would give it: header values decoded
    as latin-1, the first of a repeated header (all of them for Cookie)."""

    method: str
    raw_query: bytes  # decoded by receive_form (web.forms.query_text), where a bad one is a coded 415
    content_length: str | None
    content_type: str  # "" when there is none
    fetch_dest: str | None  # Sec-Fetch-Dest (web.platform_storage.in_frame)
    cookie_headers: tuple[str, ...]

    def cookie(self, name: str) -> str | None:
        """The value of cookie `name` as request.cookies has it: unquoted, the last one sent wins."""
        value = None
        for header in self.cookie_headers:
            if name in header:  # only a header holding the name can hold the cookie
                value = cookie_parser(header).get(name, value)
        return value


def read_head(scope: Scope) -> RequestHead:
    """The head of an HTTP request."""
    first: dict[bytes, str] = {}
    cookies: list[str] = []
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookies.append(value.decode("latin-1"))
        elif name in _READ and name not in first:
            first[name] = value.decode("latin-1")
    return RequestHead(
        method=scope["method"],
        raw_query=scope.get("query_string", b""),
        content_length=first.get(b"content-length"),
        content_type=first.get(b"content-type", ""),
        fetch_dest=first.get(b"sec-fetch-dest"),
        cookie_headers=tuple(cookies),
    )


async def receive_form(head: RequestHead, receive: Receive) -> dict[str, str]:
    """web.forms.read_form for a request read from its head and `receive`: the same caps, errors and order."""
    chunks = stream_body(receive)
    query = query_text(head.raw_query)
    return dict(await collect_form(head.method, query, head.content_length, head.content_type, chunks))


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirect without a body, as an ASGI app: the messages RedirectResponse(url, status,
    headers={"Cache-Control": "no-store"}) sends, then the state cookie (`set_cookie`) when there is one."""

    status: int
    url: str
    set_cookie: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
            (b"location", quote(self.url, safe=LOCATION_SAFE).encode("latin-1")),
        ]
        if self.set_cookie is not None:
            headers.append((b"set-cookie", self.set_cookie.encode("latin-1")))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class AsgiEndpoint:
    """An ASGI function as a Route endpoint: starlette's Route would take a plain function for
    `f(request) -> response`, and serves anything else as the ASGI app it is."""

    __slots__ = ("_serve",)

    def __init__(self, serve: ASGIApp) -> None:
        self._serve = serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send)

"""Reading browser forms and query strings with size caps, before anything else looks at them: from a
Starlette request (read_form), or from a request's parts and its ASGI messages (collect_form, web.hot_path).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from ltigate.lti.errors import Culprit, LtiError

MAX_FORM_BYTES: Final = 96 * 1024
MAX_FIELDS: Final = 64


class UnsupportedForm(LtiError):
    code = "form_unsupported"
    status = 415


class FormTooLarge(LtiError):
    """The body passes MAX_FORM_BYTES (declared, or as it arrives): refused before the rest is read."""

    code = "form_too_large"
    status = 413


class FormIncomplete(LtiError):
    """The browser went away before the whole body arrived (nobody reads the answer; the log line is coded)."""

    code = "form_incomplete"
    culprit = Culprit.BROWSER


async def read_form(request: Request) -> dict[str, str]:
    """Query parameters merged with an urlencoded body (body wins), capped in size and field count.

    Raises FormTooLarge (413) for an oversize body, UnsupportedForm (415) for other content types, a body
    that is not UTF-8, more than MAX_FIELDS fields or a NUL character in the query string or in the body, and
    FormIncomplete when the client disconnects before the body is complete.
    """
    return dict(await read_form_fields(request))


async def read_form_fields(request: Request) -> list[tuple[str, str]]:
    """Like read_form, keeping every value of a repeated field (query parameters first, then the body)."""
    query, headers = query_text(request.scope.get("query_string", b"")), request.headers
    return await collect_form(
        request.method, query, headers.get("content-length"), headers.get("content-type", ""), request.stream()
    )


def query_text(raw: bytes) -> str:
    """The query string as starlette's request.url.query gives it (urlsplit drops tabs and line breaks and
    ends the query at a '#'). Raises UnsupportedForm (415) when it is not UTF-8."""
    try:
        query = raw.decode()
    except UnicodeDecodeError:
        raise UnsupportedForm("the query string is not valid UTF-8") from None
    if "#" in query or "\t" in query or "\n" in query or "\r" in query:
        return urlsplit("?" + query).query
    return query


async def collect_form(
    method: str, query: str, declared_length: str | None, content_type: str, chunks: AsyncIterable[bytes]
) -> list[tuple[str, str]]:
    """The fields of `query` and, for a POST, of the urlencoded body arriving in `chunks`: read_form_fields
    for a request given as its parts (`content_type` is the header as sent, "" when there is none; `chunks`
    raises starlette's ClientDisconnect when the client leaves). Checks and errors as read_form, in its order:
    the query string, the declared length (before any of the body is read), the body's size as it arrives,
    then its content type and encoding."""
    params = _fields(query, "query string") if query else []
    if method != "POST":
        return params
    if declared_length is not None and (not declared_length.isdigit() or int(declared_length) > MAX_FORM_BYTES):
        raise FormTooLarge(f"the form has {declared_length[:20]} bytes; at most {MAX_FORM_BYTES} are accepted")
    body = bytearray()
    try:
        async for chunk in chunks:
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise FormTooLarge(f"the form exceeds {MAX_FORM_BYTES} bytes")
    except ClientDisconnect:
        raise FormIncomplete(f"the client disconnected after {len(body)} bytes of the form") from None
    if not body:
        return params
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm(f"content type '{media_type[:60]}' is not accepted; post an urlencoded form")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedForm("the form is not valid UTF-8 urlencoded data") from None
    return params + _fields(text, "form")


async def stream_body(receive: Receive) -> AsyncIterator[bytes]:
    """The body of an ASGI request as it arrives, as starlette's Request.stream() yields it: non-empty chunks,
    ClientDisconnect when the client leaves first."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            if body := message.get("body", b""):
                yield body
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _fields(text: str, where: str) -> list[tuple[str, str]]:
    try:
        fields = parse_qsl(text, max_num_fields=MAX_FIELDS)
    except ValueError:  # parse_qsl's only complaint: more fields than max_num_fields
        raise UnsupportedForm(
            f"the {where} has more than {MAX_FIELDS} fields; at most {MAX_FIELDS} are accepted"
        ) from None
    # No LTI parameter holds U+0000, and it would follow the value into the launch log (PostgreSQL refuses it).
    if "\x00" in text or any("\x00" in name or "\x00" in value for name, value in fields):
        raise UnsupportedForm(f"the {where} holds a NUL character")
    return fields

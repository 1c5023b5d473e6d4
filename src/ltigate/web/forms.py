"""Reading browser forms and query strings with size caps, before anything else looks at them."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from ltigate.lti.errors import Culprit, LtiError, TokenTooLarge

MAX_FORM_BYTES: Final = 96 * 1024
MAX_FIELDS: Final = 64


class UnsupportedForm(LtiError):
    code = "form_unsupported"
    status = 415


class FormIncomplete(LtiError):
    """The browser went away before the whole body arrived (nobody reads the answer; the log line is coded)."""

    code = "form_incomplete"
    culprit = Culprit.BROWSER


async def read_form(request: Request) -> dict[str, str]:
    """Query parameters merged with an urlencoded body (body wins), capped in size and field count.

    Raises TokenTooLarge (413) for an oversize body, UnsupportedForm (415) for other content types, a body
    that is not UTF-8, more than MAX_FIELDS fields or a NUL character in the query string or in the body, and
    FormIncomplete when the client disconnects before the body is complete.
    """
    return dict(await read_form_fields(request))


async def read_form_fields(request: Request) -> list[tuple[str, str]]:
    """Like read_form, keeping every value of a repeated field (query parameters first, then the body)."""
    params = _fields(request.url.query, "query string") if request.url.query else []
    if request.method != "POST":
        return params
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise TokenTooLarge(f"the form has {declared[:20]} bytes; at most {MAX_FORM_BYTES} are accepted")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise TokenTooLarge(f"the form exceeds {MAX_FORM_BYTES} bytes")
    except ClientDisconnect:
        raise FormIncomplete(f"the client disconnected after {len(body)} bytes of the form") from None
    if not body:
        return params
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm(f"content type '{content_type[:60]}' is not accepted; post an urlencoded form")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedForm("the form is not valid UTF-8 urlencoded data") from None
    return params + _fields(text, "form")


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

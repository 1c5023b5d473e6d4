"""Reading browser forms and query strings with size caps, before anything else looks at them."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from ltigate.lti.errors import LtiError, TokenTooLarge

MAX_FORM_BYTES: Final = 96 * 1024
MAX_FIELDS: Final = 64


class UnsupportedForm(LtiError):
    code = "form_unsupported"
    status = 415


async def read_form(request: Request) -> dict[str, str]:
    """Query parameters merged with an urlencoded body (body wins), capped in size and field count.

    Raises TokenTooLarge (413) for an oversize body and UnsupportedForm for other content types.
    """
    return dict(await read_form_fields(request))


async def read_form_fields(request: Request) -> list[tuple[str, str]]:
    """Like read_form, keeping every value of a repeated field (query parameters first, then the body)."""
    params = parse_qsl(request.url.query, max_num_fields=MAX_FIELDS) if request.url.query else []
    if request.method != "POST":
        return params
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise TokenTooLarge(f"the form has {declared[:20]} bytes; at most {MAX_FORM_BYTES} are accepted")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise TokenTooLarge(f"the form exceeds {MAX_FORM_BYTES} bytes")
    if not body:
        return params
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm(f"content type '{content_type[:60]}' is not accepted; post an urlencoded form")
    try:
        fields = parse_qsl(body.decode("utf-8"), max_num_fields=MAX_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise UnsupportedForm("the form is not valid UTF-8 urlencoded data") from None
    return params + fields

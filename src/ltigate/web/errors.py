"""The one mapping from errors to responses: HTML pages for browsers on the LTI endpoints, JSON for
the REST API, both carrying the stable error code.
"""

from __future__ import annotations

import logging

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ltigate.lti.errors import LtiError
from ltigate.services.errors import ServiceError
from ltigate.web.troubleshooting import advice_for

log = logging.getLogger("ltigate.web")

GatewayError = LtiError | ServiceError


def error_fields(error: GatewayError) -> tuple[str, str, int]:
    return error.code, error.message, error.status


def html_error(templates: Environment, error: GatewayError, *, policy: str | None = None) -> HTMLResponse:
    """The error page; `policy` is its Content-Security-Policy (launch pages: web.framing.page_policy)."""
    code, message, status = error_fields(error)
    reference = error.reference if isinstance(error, LtiError) else None
    log.info("lti request failed", extra={"error_code": code, "reference": reference})
    body = templates.get_template("error.html").render(
        code=code, message=message, reference=reference, advice=advice_for(code)
    )
    headers = {"Cache-Control": "no-store"}
    if policy is not None:
        headers.update({"Content-Security-Policy": policy, "Referrer-Policy": "same-origin"})
    return HTMLResponse(body, status_code=status, headers=headers)


def json_error(code: str, message: str, status: int, field: str | None = None) -> JSONResponse:
    payload: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        payload["field"] = field
    return JSONResponse({"error": payload}, status_code=status, headers={"Cache-Control": "no-store"})


def api_error(error: GatewayError) -> JSONResponse:
    code, message, status = error_fields(error)
    return json_error(code, message, status, error.field if isinstance(error, ServiceError) else None)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return json_error("internal_error", "an unexpected error occurred; it was logged", 500)

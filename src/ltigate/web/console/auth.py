"""Signing in and out of the console, and the console's static files.

The sign-in form is protected like every other form: before a session exists, its token is bound to a
random pre-sign-in cookie. Signing in always starts a new session and ends the one the browser had.
"""

from __future__ import annotations

import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ltigate.lti.errors import LtiError
from ltigate.services.console_sessions import SignInLocked, SignInRefused
from ltigate.services.errors import ServiceError
from ltigate.web.console.pages import PREFIX, SESSION_COOKIE, SIGN_IN_COOKIE, Console
from ltigate.web.forms import read_form

SIGN_IN_COOKIE_SECONDS: Final = 3600


def safe_next(value: str | None) -> str:
    """Only a console path: never another site (`//host`, `/\\host`) after signing in."""
    if value and value.startswith(PREFIX) and not value.startswith(("//", "/\\")) and "\\" not in value:
        return value
    return PREFIX


def routes(console: Console) -> list[Route]:
    sessions = console.gateway.console_sessions

    def form(
        request: Request,
        *,
        status: int = 200,
        message: str | None = None,
        name: str = "",
        locked: bool = False,
        wanted: str | None = None,
    ) -> Response:
        pre = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
        response = console.render(
            request,
            "sign_in.html",
            active=None,
            status=status,
            token=sessions.form_token("sign-in", pre),
            next=safe_next(wanted or request.query_params.get("next")),
            message=message,
            locked=locked,
            name=name,
        )
        if request.cookies.get(SIGN_IN_COOKIE) != pre:
            response.headers.append("set-cookie", console.sign_in_cookie(pre, SIGN_IN_COOKIE_SECONDS))
        return response

    async def sign_in_page(request: Request) -> Response:
        if await sessions.resume(request.cookies.get(SESSION_COOKIE)) is not None:
            return console.redirect(safe_next(request.query_params.get("next")))
        return form(request)

    async def sign_in(request: Request) -> Response:
        try:
            fields = await read_form(request)
        except LtiError as error:
            return console.error_page(request, None, error)
        name, wanted = fields.get("name", "")[:200], fields.get("next")
        if not sessions.check_form_token("sign-in", request.cookies.get(SIGN_IN_COOKIE), fields.get("csrf")):
            message = "The sign-in form expired or came from another site. Please try again."
            return form(request, status=403, message=message, name=name, wanted=wanted)
        address = request.client.host if request.client else "unknown"
        try:
            signed_in = await sessions.sign_in(
                name, fields.get("password", ""), address, replacing=request.cookies.get(SESSION_COOKIE)
            )
        except SignInLocked as error:
            message = _sentence(error.message)
            return form(request, status=error.status, message=message, name=name, locked=True, wanted=wanted)
        except SignInRefused as error:
            return form(request, status=error.status, message=_sentence(error.message), name=name, wanted=wanted)
        except ServiceError as error:
            return console.error_page(request, None, error)
        response = console.redirect(safe_next(wanted))
        response.headers.append("set-cookie", console.session_cookie(signed_in.session_id))
        return response

    async def sign_out(request: Request) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE)
        try:
            fields = await read_form(request)
        except LtiError as error:
            return console.error_page(request, None, error)
        active = await sessions.resume(session_id)
        if active is not None:
            if not sessions.check_form_token("session", session_id, fields.get("csrf")):
                return console.forbidden(request, active)
            await sessions.sign_out(session_id)
        response = console.redirect(f"{PREFIX}/sign-in", "signed_out")
        response.headers.append("set-cookie", console.expired_cookie(SESSION_COOKIE))
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        body = console.static.get(name)
        if body is None:
            return Response("not found", status_code=404, media_type="text/plain")
        media_type = "text/css" if name.endswith(".css") else "text/javascript"
        # The URL carries the content's hash (?v=...), so a cached copy is never stale for long.
        headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return Response(body, media_type=media_type, headers=headers)

    return [
        Route(f"{PREFIX}/sign-in", sign_in_page, methods=["GET"]),
        Route(f"{PREFIX}/sign-in", sign_in, methods=["POST"]),
        Route(f"{PREFIX}/sign-out", sign_out, methods=["POST"]),
        Route(f"{PREFIX}/static/{{name}}", static, methods=["GET"]),
    ]


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")

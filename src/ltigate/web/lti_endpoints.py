"""The LTI endpoints a platform and a browser talk to: OIDC login, launch, and the key sets.

Plain Starlette handlers (no dependency injection) because they are the hot path.
"""

from __future__ import annotations

import hashlib

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ltigate.lti.errors import LtiError
from ltigate.lti.keys import key_set_document
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.launch import LaunchForm
from ltigate.services.records import KeyPurpose
from ltigate.web.errors import html_error
from ltigate.web.forms import read_form

COOKIE_PREFIX = "ltigate_state_"
JWKS_CACHE_CONTROL = "public, max-age=300"


def state_cookie_name(state: str) -> str:
    """One cookie per login, so parallel launches in one browser do not overwrite each other."""
    return COOKIE_PREFIX + hashlib.sha256(state.encode()).hexdigest()[:20]


def state_cookie(state: str, max_age: int, secure: bool) -> str:
    """The Set-Cookie value binding a login to this browser.

    The launch (step 3) is a cross-site POST, which carries a cookie only with SameSite=None, which
    browsers accept only with Secure; Partitioned keeps it working where third-party cookies are
    partitioned (CHIPS). On plain http (loopback development, the demo) platform and gateway are
    same-site, so SameSite=Lax suffices.
    """
    attributes = f"{state_cookie_name(state)}={state}; Max-Age={max_age}; Path=/lti/launch; HttpOnly"
    if secure:
        return attributes + "; Secure; SameSite=None; Partitioned"
    return attributes + "; SameSite=Lax"


def routes(gateway: Gateway, templates: Environment) -> list[Route]:
    secure = gateway.settings.secure

    async def login(request: Request) -> Response:
        try:
            params = await read_form(request)
            redirect = await gateway.login.begin(params)
        except (LtiError, ServiceError) as error:
            return html_error(templates, error)
        response = RedirectResponse(redirect.url, status_code=302, headers={"Cache-Control": "no-store"})
        response.headers.append("set-cookie", state_cookie(redirect.state, redirect.max_age, secure))
        return response

    async def launch(request: Request) -> Response:
        try:
            form = await read_form(request)
            state = form.get("state")
            cookie = request.cookies.get(state_cookie_name(state)) if state else None
            completed = await gateway.launch.complete(
                LaunchForm(
                    id_token=form.get("id_token"),
                    state=state,
                    error=form.get("error"),
                    error_description=form.get("error_description"),
                ),
                cookie,
            )
        except (LtiError, ServiceError) as error:
            return html_error(templates, error)
        # The state cookie stays until it expires: its state is consumed, and a replay of this launch
        # from the same browser must be named as a replay rather than as a missing cookie.
        return RedirectResponse(completed.redirect_url, status_code=303, headers={"Cache-Control": "no-store"})

    def key_set(purpose: KeyPurpose) -> Response:
        return JSONResponse(
            key_set_document(gateway.tool_keys.published(purpose)),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": JWKS_CACHE_CONTROL, "Access-Control-Allow-Origin": "*"},
        )

    async def jwks(request: Request) -> Response:
        return key_set(KeyPurpose.LTI)

    async def ticket_jwks(request: Request) -> Response:
        return key_set(KeyPurpose.TICKET)

    return [
        Route("/lti/login", login, methods=["GET", "POST"]),
        Route("/lti/launch", launch, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/ticket-jwks.json", ticket_jwks, methods=["GET"]),
    ]

"""The LTI endpoints a platform and a browser talk to: OIDC login, launch (and its continuation after a
platform-storage check), and the key sets. Pages shown in the LMS frame carry the platform's frame-ancestors.

The launch endpoints are plain ASGI apps, no dependency injection: login and launch are the hot path
(web.hot_path), and the continuation shares the launch's answers.
"""

from __future__ import annotations

import hashlib

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ltigate.lti.errors import LtiError
from ltigate.lti.keys import key_set_document
from ltigate.lti.platform_storage import read_storage_report
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.launch import BrowserBinding, CookieBinding, LaunchForm, StorageBinding, StorageCheck
from ltigate.services.records import KeyPurpose
from ltigate.web import deep_linking, framing
from ltigate.web.errors import html_error
from ltigate.web.forms import read_form
from ltigate.web.hot_path import AsgiEndpoint, Redirect, read_head, receive_form
from ltigate.web.platform_storage import (
    CONTINUE_PATH,
    StoragePages,
    in_frame,
    posted_by_own_page,
)

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

    storage_pages = StoragePages(gateway, templates)

    async def login(scope: Scope, receive: Receive, send: Send) -> None:
        head = read_head(scope)
        params: dict[str, str] = {}
        try:
            params = await receive_form(head, receive)
            redirect = await gateway.login.begin(params)
        except (LtiError, ServiceError) as error:
            policy = framing.page_policy(await framing.for_login(gateway, params))
            await html_error(templates, error, policy=policy)(scope, receive, send)
            return
        cookie = state_cookie(redirect.state, redirect.max_age, secure)
        if redirect.initiation.storage_target is None and not in_frame(head.fetch_dest):
            await Redirect(302, redirect.url, set_cookie=cookie)(scope, receive, send)
            return
        page = storage_pages.login_page(redirect)
        page.headers.append("set-cookie", cookie)
        await page(scope, receive, send)

    async def complete(form: dict[str, str], binding: BrowserBinding) -> ASGIApp:
        try:
            completed = await gateway.launch.complete(
                LaunchForm(
                    id_token=form.get("id_token"),
                    state=form.get("state"),
                    error=form.get("error"),
                    error_description=form.get("error_description"),
                ),
                binding,
            )
            if isinstance(completed, StorageCheck):  # no cookie: the browser reads the platform's storage first
                return storage_pages.check_page(completed)
            if completed.picker is not None:  # a deep-linking request ltigate answers with its own picker
                return await deep_linking.show_picker(templates, gateway, completed.picker)
        except (LtiError, ServiceError) as error:
            policy = framing.page_policy(await framing.for_launch(gateway, form.get("id_token")))
            return html_error(templates, error, policy=policy)
        # The state cookie stays until it expires: its state is consumed, and a replay of this launch
        # from the same browser must be named as a replay rather than as a missing cookie.
        return Redirect(303, completed.redirect_url)

    async def launch(scope: Scope, receive: Receive, send: Send) -> None:
        head = read_head(scope)
        try:
            form = await receive_form(head, receive)
        except (LtiError, ServiceError) as error:
            await html_error(templates, error, policy=framing.page_policy(framing.NOBODY))(scope, receive, send)
            return
        state = form.get("state")
        answer = await complete(form, CookieBinding(head.cookie(state_cookie_name(state)) if state else None))
        await answer(scope, receive, send)

    async def launch_continue(scope: Scope, receive: Receive, send: Send) -> None:
        """The launch again, posted by the check page with what it read from the platform's storage."""
        request = Request(scope, receive)
        answer: ASGIApp
        try:
            form = await read_form(request)
        except (LtiError, ServiceError) as error:
            answer = html_error(templates, error, policy=framing.page_policy(framing.NOBODY))
        else:
            same_origin = posted_by_own_page(request, gateway.settings.origin)
            only_launch: dict[str, str] = {name: form[name] for name in ("id_token", "state") if name in form}
            answer = await complete(only_launch, StorageBinding(read_storage_report(form), same_origin))
        await answer(scope, receive, send)

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
        Route("/lti/login", AsgiEndpoint(login), methods=["GET", "POST"]),
        Route("/lti/launch", AsgiEndpoint(launch), methods=["POST"]),
        Route(CONTINUE_PATH, AsgiEndpoint(launch_continue), methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/ticket-jwks.json", ticket_jwks, methods=["GET"]),
    ]

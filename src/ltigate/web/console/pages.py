"""How a console request is handled: the session cookie, the form token on every POST, rendering with
strict security headers, and gateway errors shown as pages.

Handlers are plain Starlette endpoints wrapped by `Console.page`, which admits only signed-in
administrators and, for POST, only forms that carry the session's token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Final
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ltigate import __version__
from ltigate.lti.errors import LtiError
from ltigate.services.console_sessions import ActiveSession
from ltigate.services.errors import NotFound, ServiceError
from ltigate.services.gateway import Gateway
from ltigate.web.forms import read_form

PREFIX: Final = "/console"
SESSION_COOKIE: Final = "ltigate_console"
SIGN_IN_COOKIE: Final = "ltigate_console_signin"
STATIC_FILES: Final = ("console.css", "console.js")

# No inline script or style, nothing from elsewhere, never framed, forms only to ourselves.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NOTICES: Final[Mapping[str, str]] = {
    "signed_out": "You are signed out.",
    "session_ended": "Your session ended. Sign in again to continue.",
    "platform_created": "The platform is registered. Enter ltigate's URLs in the LMS (see Tool registration).",
    "platform_saved": "The platform is saved.",
    "platform_activated": "The platform is active: launches are accepted.",
    "platform_deactivated": "The platform is deactivated: its launches are refused.",
    "platform_approved": "The platform is approved: its launches are accepted.",
    "registration_link_revoked": "The registration link is revoked: it no longer registers an LMS.",
    "deployment_approved": "The deployment is approved: its launches are accepted.",
    "deployment_rejected": "The deployment is rejected: its launches are refused.",
    "deployment_removed": "The deployment is removed.",
    "resource_created": "The resource is created. Copy its target link URI into the LMS.",
    "resource_saved": "The resource is saved.",
    "delivery_retried": "The delivery is queued again and will be attempted at once.",
    "roster_synced": "The roster is synced from the LMS.",
    "keys_rotated": "The keys are rotated.",
    "api_key_revoked": "The API key is revoked: requests using it are refused from now on.",
    "seat_released": "The seat is released; the learner gets a fresh one at their next launch.",
    "seats_released": "The idle seats are released.",
}

NAVIGATION: Final = (
    ("overview", "Overview", "/console"),
    ("platforms", "Platforms", "/console/platforms"),
    ("registration", "Tool registration", "/console/registration"),
    ("resources", "Resources", "/console/resources"),
    ("launches", "Launches", "/console/launches"),
    ("deliveries", "Deliveries", "/console/deliveries"),
    ("rosters", "Rosters", "/console/rosters"),
    ("seats", "Seats", "/console/seats"),
    ("keys", "Keys", "/console/keys"),
    ("api_keys", "API keys", "/console/api-keys"),
)


def when(timestamp: float | None) -> str:
    """A Unix time as UTC to the minute; '—' for none."""
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("ltigate.web", "templates/console"),
        autoescape=select_autoescape(default=True),
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["urlpart"] = lambda value: quote(str(value), safe="")
    return env


@dataclass(frozen=True, slots=True)
class View:
    """A signed-in request: the session, the query, and for POST the checked form."""

    request: Request
    active: ActiveSession
    form: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    def param(self, name: str) -> str:
        return str(self.request.path_params.get(name, ""))


Handler = Callable[[View], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Console:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.env = templates()
        self.secure = gateway.settings.secure
        self.static = {
            name: resources.files("ltigate.web").joinpath("static", name).read_bytes() for name in STATIC_FILES
        }
        self.static_version = hashlib.sha256(b"".join(self.static.values())).hexdigest()[:12]

    def render(
        self,
        request: Request,
        template: str,
        *,
        active: ActiveSession | None,
        status: int = 200,
        section: str = "",
        **context: object,
    ) -> HTMLResponse:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        body = self.env.get_template(template).render(
            active=active,
            csrf=active.form_token if active else "",
            navigation=NAVIGATION,
            section=section,
            notice=notice,
            version=__version__,
            static_version=self.static_version,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def redirect(self, path: str, notice: str | None = None, **query: str) -> RedirectResponse:
        params = {**query, **({"notice": notice} if notice else {})}
        target = path + ("?" + urlencode(params) if params else "")
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    def error_page(self, request: Request, active: ActiveSession | None, error: ServiceError | LtiError) -> Response:
        status = 404 if isinstance(error, NotFound) else error.status
        title = "Not found" if status == 404 else "That did not work"
        return self.render(request, "error.html", active=active, status=status, title=title, error=error)

    def page(self, handler: Handler) -> Endpoint:
        """An endpoint for signed-in administrators. A GET without a session goes to the sign-in page and
        back; a POST without a session goes to the sign-in page; a POST whose form token does not match the
        session is refused with 403."""

        async def endpoint(request: Request) -> Response:
            active = None
            try:
                session_id = request.cookies.get(SESSION_COOKIE)
                active = await self.gateway.console_sessions.resume(session_id)
                if active is None:
                    if request.method == "POST":
                        return self.redirect(f"{PREFIX}/sign-in", "session_ended")
                    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return self.redirect(f"{PREFIX}/sign-in", next=wanted)
                form: dict[str, str] = {}
                if request.method == "POST":
                    form = await read_form(request)
                    if not self.gateway.console_sessions.check_form_token("session", session_id, form.get("csrf")):
                        return self.forbidden(request, active)
                return await handler(View(request=request, active=active, form=form))
            except (ServiceError, LtiError) as error:
                return self.error_page(request, active, error)

        return endpoint

    def forbidden(self, request: Request, active: ActiveSession | None) -> Response:
        return self.render(request, "forbidden.html", active=active, status=403)

    def session_cookie(self, value: str) -> str:
        return _cookie(SESSION_COOKIE, value, secure=self.secure)

    def sign_in_cookie(self, value: str, max_age: int) -> str:
        return _cookie(SIGN_IN_COOKIE, value, secure=self.secure, max_age=max_age)

    def expired_cookie(self, name: str) -> str:
        return _cookie(name, "", secure=self.secure, max_age=0)


def _cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """HttpOnly, SameSite=Lax (a cross-site form post carries no console cookie), scoped to /console,
    Secure when the base URL is https; without Max-Age it ends with the browser session."""
    parts = [f"{name}={value}", f"Path={PREFIX}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)

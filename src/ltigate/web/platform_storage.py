"""The pages that keep a launch's state in the platform's postMessage storage (lti-reference §8.4): at login,
a page that puts state and nonce there (or, when neither storage nor cookies work in the frame, offers to
open the login in a new window); at launch, a page that reads them back and posts the launch again to
`/lti/launch/continue`. Their script is a static file (platform-storage.js); no inline script runs.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ltigate.lti.login import reopening_params
from ltigate.lti.platform_storage import nonce_key, state_key, storage_origin
from ltigate.services.gateway import Gateway
from ltigate.services.launch import StorageCheck
from ltigate.services.login import LoginRedirect
from ltigate.web.assets import asset_path
from ltigate.web.framing import frame_ancestors, page_policy

CONTINUE_PATH: Final = "/lti/launch/continue"
FRAME_DESTINATIONS: Final = ("iframe", "frame")


class StoragePages:
    def __init__(self, gateway: Gateway, templates: Environment) -> None:
        self._gateway, self._templates = gateway, templates
        self._script_url = gateway.settings.url(asset_path("platform-storage.js"))
        # The probe cookie the page sets from script carries the state cookie's attributes, so that it is
        # kept exactly where the state cookie is (web.lti_endpoints.state_cookie).
        secure = gateway.settings.secure
        self._cookie_probe = "; Path=/lti/login" + (
            "; Secure; SameSite=None; Partitioned" if secure else "; SameSite=Lax"
        )

    def login_page(self, redirect: LoginRedirect) -> HTMLResponse:
        """Puts state and nonce into the platform's storage when the login named a storage frame, then
        continues to the platform's authorization endpoint; offers a new window when neither that storage
        nor cookies work here. The new window's URL is ltigate's own login URL with the validated
        initiation, so the page cannot be made to send anyone elsewhere."""
        settings = self._gateway.settings
        reopen = settings.url("/lti/login") + "?" + urlencode(reopening_params(redirect.initiation))
        body = self._templates.get_template("platform_storage.html").render(
            step="login",
            script=self._script_url,
            origin=storage_origin(redirect.platform.fields.auth_url),
            frame=redirect.initiation.storage_target or "",
            state=redirect.state,
            nonce=redirect.nonce,
            state_key=state_key(redirect.state),
            nonce_key=nonce_key(redirect.nonce),
            cookie_probe=self._cookie_probe,
            continue_url=redirect.url,
            reopen_url=reopen,
        )
        ancestors = frame_ancestors(redirect.platform, settings.frame_ancestors)
        return HTMLResponse(body, headers=_headers(page_policy(ancestors, scripts=True)))

    def check_page(self, check: StorageCheck) -> HTMLResponse:
        """Reads state and nonce back from the platform's storage and posts the launch again with them."""
        body = self._templates.get_template("platform_storage.html").render(
            step="launch",
            script=self._script_url,
            origin=check.storage_origin,
            frame=check.storage_target,
            state=check.state,
            nonce=check.nonce,
            state_key=state_key(check.state),
            nonce_key=nonce_key(check.nonce),
            id_token=check.id_token,
            action=self._gateway.settings.url(CONTINUE_PATH),
        )
        ancestors = frame_ancestors(check.platform, self._gateway.settings.frame_ancestors)
        # No form-action: the continuation answers with a redirect to the app, which browsers check against it.
        return HTMLResponse(body, headers=_headers(page_policy(ancestors, scripts=True, form_action=None)))


def in_frame(fetch_dest: str | None) -> bool:
    """The browser says this navigation loads a frame (Fetch Metadata: `fetch_dest` is the Sec-Fetch-Dest
    header): the login gets the page that checks whether cookies work here, instead of a redirect."""
    return fetch_dest in FRAME_DESTINATIONS


def posted_by_own_page(request: Request, own_origin: str) -> bool:
    """The request came from a page of ltigate's origin: its Origin header says so or, without one, its
    Sec-Fetch-Site is same-origin. A form another site makes the browser post carries that site's origin."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == own_origin.lower()
    return request.headers.get("sec-fetch-site") == "same-origin"


def _headers(policy: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }

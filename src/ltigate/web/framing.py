"""Who may frame the pages of a launch: the `frame-ancestors` of a Content-Security-Policy, built from the
platform's origins (its issuer and its OIDC authorization endpoint), the pages of hosted LMSs whose issuer
is not where their courses live (lti-reference §11), and the instance's LTIGATE_FRAME_ANCESTORS.

Every page ltigate shows inside the LMS frame during a launch sends it; the app receives the same value in
the launch view (`frame_ancestors`) so it can send it too. Pages for an unknown platform may not be framed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from ltigate.lti.errors import LtiError
from ltigate.lti.launch import read_unverified_launch
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.records import Platform

NOBODY: Final = "'none'"
SELF: Final = "'self'"

# Shared issuers of hosted LMSs: courses are served from the institution's own host under these domains.
HOSTED_LMS_PAGES: Final[Mapping[str, tuple[str, ...]]] = {
    "https://canvas.instructure.com": ("https://*.instructure.com",),
    "https://canvas.beta.instructure.com": ("https://*.instructure.com",),
    "https://canvas.test.instructure.com": ("https://*.instructure.com",),
    "https://blackboard.com": ("https://*.blackboard.com",),
    "https://schoology.schoology.com": ("https://*.schoology.com",),
}

# Only what a CSP host source may hold, so no registered URL can add a directive to the header.
_ORIGIN: Final = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, lower-cased; None when there is no such origin."""
    parts = urlsplit(url.strip())
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin if not parts.username and _ORIGIN.fullmatch(origin) else None


def frame_ancestors(platform: Platform | None, extra: tuple[str, ...] = ()) -> str:
    """The frame-ancestors sources for pages of a launch from `platform`: 'self', its issuer and
    authorization-endpoint origins, hosted-LMS page domains and `extra` (validated settings); 'none' when
    the platform is not known."""
    if platform is None:
        return NOBODY
    issuer = origin_of(platform.fields.issuer)
    sources = [issuer, origin_of(platform.fields.auth_url), *HOSTED_LMS_PAGES.get(issuer or "", ()), *extra]
    return " ".join(dict.fromkeys([SELF, *(s for s in sources if s)]))


def page_policy(ancestors: str, *, scripts: bool = False, form_action: str | None = NOBODY) -> str:
    """A strict Content-Security-Policy for a launch page: nothing from elsewhere, scripts (where a page has
    them) only from ltigate itself, never inline. Styles are inline in base.html. `form_action` None leaves
    form targets open (a form whose answer redirects to the app: browsers check redirects against it)."""
    directives = ["default-src 'none'", "style-src 'unsafe-inline'", "script-src " + (SELF if scripts else NOBODY)]
    if form_action is not None:
        directives.append(f"form-action {form_action}")
    directives += ["base-uri 'none'", f"frame-ancestors {ancestors}"]
    return "; ".join(directives)


async def for_login(gateway: Gateway, params: Mapping[str, str]) -> str:
    """frame-ancestors for a page answering a login initiation (the platform it names, if registered)."""
    issuer = params.get("iss")
    if not issuer:
        return NOBODY
    try:
        platform = await gateway.registrations.for_login(issuer, params.get("client_id") or None)
    except (LtiError, ServiceError):
        return NOBODY
    return frame_ancestors(platform, gateway.settings.frame_ancestors)


async def for_launch(gateway: Gateway, id_token: str | None) -> str:
    """frame-ancestors for a page answering a launch: the registered platform the (unverified) token
    names. Trusting it only widens framing to a registered platform's own origins."""
    if not id_token:
        return NOBODY
    try:
        unverified = read_unverified_launch(id_token)
        platform = await gateway.registrations.for_launch(unverified.issuer, unverified.audiences)
    except (LtiError, ServiceError):
        return NOBODY
    return frame_ancestors(platform, gateway.settings.frame_ancestors)

"""The tool registration page: the URLs an LMS administrator enters for ltigate, ready to copy, and short
per-LMS hints on where they go and what the LMS gives back (lti-reference §11; docs/lms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.responses import Response
from starlette.routing import Route

from ltigate.web.console.pages import PREFIX, Console, View


@dataclass(frozen=True, slots=True)
class LmsGuide:
    lms: str
    enter: tuple[str, ...]  # where ltigate's URLs go
    get_back: tuple[str, ...]  # what to copy into the platform form
    quirks: tuple[str, ...] = ()


GUIDES: Final = (
    LmsGuide(
        "Moodle",
        (
            "Site administration › Plugins › External tool › Manage tools › configure a tool manually.",
            "LTI version “LTI 1.3”; Public key type “Keyset URL” = JWKS URL; “Initiate login URL” = login URL; "
            "“Redirection URI(s)” = launch URL; “Tool URL” = a resource's target link URI.",
        ),
        (
            "Platform ID (the issuer: the site's URL), Client ID, Deployment ID.",
            "Endpoints …/mod/lti/auth.php, …/mod/lti/token.php, …/mod/lti/certs.php.",
        ),
    ),
    LmsGuide(
        "Canvas",
        (
            "Admin › Developer Keys › + Developer Key › LTI Key.",
            "“Redirect URIs” = launch URL; “Target Link URI” = a resource's target link URI; "
            "“OpenID Connect Initiation Url” = login URL; JWK method “Public JWK URL” = JWKS URL.",
            "Switch the key on, then Settings › Apps › + App › By Client ID.",
        ),
        (
            "Client ID = the developer key's ID; the deployment id (e.g. 189:7f95…) from the app's settings.",
            "Issuer https://canvas.instructure.com (beta/test: canvas.beta…/canvas.test…); auth "
            "https://sso.canvaslms.com/api/lti/authorize_redirect; token https://sso.canvaslms.com/login/oauth2/token; "
            "JWKS https://sso.canvaslms.com/api/lti/security/jwks.",
        ),
        ("Canvas rolls its keys often: ltigate re-fetches its key set on an unknown key id.",),
    ),
    LmsGuide(
        "Blackboard",
        (
            "Register the tool in the Anthology developer portal: login URL, launch URL as a tool redirect URL, "
            "JWKS URL as the tool JWKS URL; then add it in Blackboard with its Application ID.",
        ),
        (
            "Application ID (the client ID) and the Deployment ID.",
            "Issuer https://blackboard.com; auth https://developer.blackboard.com/api/v1/gateway/oidcauth; token "
            "…/api/v1/gateway/oauth2/jwttoken; JWKS …/api/v1/management/applications/<Application ID>/jwks.json.",
        ),
        ("Blackboard starts logins with GET; ltigate accepts GET and POST.",),
    ),
    LmsGuide(
        "D2L Brightspace",
        (
            "Admin Tools › Manage Extensibility › LTI Advantage › Register Tool: Domain = base URL, Redirect URLs = "
            "launch URL, OpenID Connect Login URL = login URL, Keyset URL = JWKS URL; then create a deployment.",
        ),
        (
            "Client Id, Issuer, OpenID Connect Authentication Endpoint, Brightspace OAuth2 Access Token URL, "
            "Brightspace Keyset URL, and the deployment's ID.",
            "Enter the “Brightspace OAuth2 Audience” as the platform's token audience.",
        ),
    ),
    LmsGuide(
        "Sakai",
        ("Administration Workspace › External Tools › install an LTI 1.3 tool with the three URLs.",),
        ("Issuer, client ID, deployment ID and the keyset, token and authorization URLs Sakai shows.",),
        ("Tick “Send the deployment ID in token requests” on the platform: Sakai (Tsugi) expects it.",),
    ),
)


def routes(console: Console) -> list[Route]:
    async def registration(view: View) -> Response:
        urls = console.gateway.urls
        return console.render(
            view.request,
            "registration.html",
            active=view.active,
            section="registration",
            urls=urls,
            guides=GUIDES,
            example_target=f"{urls.launch_url}?resource=<slug>",
        )

    return [Route(f"{PREFIX}/registration", console.page(registration), methods=["GET"])]

"""The demo LMS: a small LTI 1.3 platform over HTTP (lti-reference §1.4, §2.3).

It starts third-party-initiated logins at the tool, answers the tool's OIDC authentication request
with a signed LtiResourceLinkRequest posted by the browser, and publishes its key set. Its key is
generated at start and lives only in memory. It also offers deliberately broken launches: one from a
deployment the tool does not know, and a replay of a form the tool has already accepted.

Launches carry the AGS and NRPS claims; the services behind them (lms_services) keep an in-memory
gradebook, shown at `/gradebook` with the service requests the tool made.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ltigate import __version__
from ltigate.demo.course import (
    COURSE_ID,
    COURSE_LABEL,
    COURSE_TITLE,
    CUSTOM_PARAMETERS,
    MEMBERS,
    UNREGISTERED_DEPLOYMENT,
    USERS,
    DemoUser,
    LmsConfig,
    LmsResource,
    find_user,
)
from ltigate.demo.gradebook import Gradebook, LineItemFields
from ltigate.demo.lms_services import AGS_SCOPES, LmsServices, number
from ltigate.demo.memory import PENDING_TTL_SECONDS, PendingLaunch, PendingLaunches, PostedForm, PostedForms
from ltigate.demo.pages import Pages
from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.jws import sign
from ltigate.lti.keys import SigningKey, key_set_document, thumbprint
from ltigate.lti.platform import (
    build_ags_claim,
    build_login_initiation,
    build_nrps_claim,
    build_resource_link_claims,
    parse_auth_request,
)

MAX_FORM_FIELDS = 50
RECENT_REQUESTS = 30


def generate_signing_key() -> SigningKey:
    """A fresh RSA-2048 key for RS256, published under its RFC 7638 thumbprint."""
    key = RSAKey.generate_key(2048)
    return SigningKey(kid=thumbprint(key), alg="RS256", key=key)


def resource_link_id(resource: LmsResource) -> str:
    """Stable per resource across restarts, as a course link's id is in a real LMS."""
    return "demo-link-" + hashlib.sha256(resource.target_link_uri.encode()).hexdigest()[:16]


async def _params(request: Request) -> dict[str, str]:
    """Query parameters of a GET, form fields of a POST; file parts are ignored."""
    if request.method == "GET":
        return dict(request.query_params)
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    return {name: value for name, value in form.items() if isinstance(value, str)}


@dataclass(frozen=True, slots=True)
class ServiceLinks:
    """The service URLs a launch of one resource carries (lti-reference §4.1, §5)."""

    lineitems: str
    lineitem: str | None
    memberships: str


@dataclass(frozen=True, slots=True)
class GradeCell:
    score: str
    comment: str | None
    timestamp: str
    progress: str


def create_lms(
    config: LmsConfig,
    *,
    clock: Callable[[], float] = time.time,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The demo LMS as an ASGI app; see the module docstring. `transport` replaces the network (the fetch of
    the tool's key set) in tests; `app.state.services` is the LmsServices, for tests to look into.
    """
    key = generate_signing_key()
    pending, posted = PendingLaunches(), PostedForms()
    pages = Pages("Demo LMS", "#1d3f8f")
    gradebook = Gradebook()
    services = LmsServices(
        config, gradebook, [resource_link_id(r) for r in config.resources], clock=clock, transport=transport
    )
    # A graded resource gets its line item when the course links to it, so its launches name it (coupled).
    coupled: dict[str, int] = {}
    for resource in config.resources:
        if resource.score_maximum is not None:
            fields = LineItemFields(
                label=resource.title,
                score_maximum=float(resource.score_maximum),
                resource_link_id=resource_link_id(resource),
            )
            coupled[resource.target_link_uri] = gradebook.add(fields, coupled=True).number

    def links(resource: LmsResource) -> ServiceLinks:
        number = coupled.get(resource.target_link_uri)
        return ServiceLinks(
            lineitems=services.lineitems_url(),
            lineitem=services.lineitem_url(number) if number is not None else None,
            memberships=services.memberships_url(),
        )

    async def home(request: Request) -> Response:
        replays = [(user, form) for user in USERS if (form := posted.last(user)) is not None]
        return pages.render(
            "lms_home.html",
            users=USERS,
            resources=list(enumerate(config.resources)),
            config=config,
            course_title=COURSE_TITLE,
            course_label=COURSE_LABEL,
            replays=replays,
            unregistered=UNREGISTERED_DEPLOYMENT,
            jwks_url=str(request.url_for("jwks")),
            token_url=services.token_url,
        )

    async def launch(request: Request) -> Response:
        params = await _params(request)
        user = find_user(params.get("user", ""))
        resource = _pick(config.resources, params.get("resource", ""))
        deployment_id = {"registered": config.deployment_id, "unregistered": UNREGISTERED_DEPLOYMENT}.get(
            params.get("deployment", "registered")
        )
        if user is None or resource is None or deployment_id is None:
            return pages.error(
                "unknown_choice",
                "the launch names an unknown user, resource or deployment",
                400,
                "Go back to the LMS home page and press one of its buttons.",
            )
        hint = pending.add(PendingLaunch(user, resource, deployment_id, clock() + PENDING_TTL_SECONDS))
        initiation = build_login_initiation(
            issuer=config.issuer,
            login_hint=user.launch_user.sub,
            target_link_uri=resource.target_link_uri,
            client_id=config.client_id,
            deployment_id=deployment_id,
            lti_message_hint=hint,
        )
        separator = "&" if "?" in config.tool_login_url else "?"
        return RedirectResponse(f"{config.tool_login_url}{separator}{urlencode(initiation)}", status_code=303)

    async def auth(request: Request) -> Response:
        try:
            user, form = _answer(config, key, pending, await _params(request), int(clock()), links)
        except LtiError as error:
            return pages.error(
                error.code,
                error.message,
                error.status,
                "The tool sent an authentication request this LMS cannot answer.",
            )
        posted.remember(user, form)
        return pages.render("lms_autopost.html", form=form, replay=False)

    async def replay(request: Request) -> Response:
        user = find_user((await _params(request)).get("user", ""))
        form = posted.last(user) if user is not None else None
        if form is None:
            return pages.error(
                "nothing_to_replay",
                "there is no earlier launch of this user to replay",
                404,
                "Launch a resource first; then its form can be posted again.",
            )
        return pages.render("lms_autopost.html", form=form, replay=True)

    async def jwks(request: Request) -> Response:
        return JSONResponse(key_set_document([key.public_jwk()]), media_type="application/jwk-set+json")

    async def gradebook_page(request: Request) -> Response:
        items = gradebook.items()
        rows = [(member, [_cell(gradebook, item.number, member.sub) for item in items]) for member in MEMBERS]
        requests = list(reversed(services.log.entries()))[:RECENT_REQUESTS]
        return pages.render(
            "lms_gradebook.html",
            course_title=COURSE_TITLE,
            course_label=COURSE_LABEL,
            items=[(item, services.lineitem_url(item.number), number(item.fields.score_maximum)) for item in items],
            rows=rows,
            requests=requests,
            clock_text=_clock_text,
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return pages.error(code, str(exc.detail), exc.status_code)

    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/launch", launch, methods=["POST"]),
            Route("/auth", auth, methods=["GET", "POST"]),
            Route("/replay", replay, methods=["POST"]),
            Route("/jwks", jwks, methods=["GET"], name="jwks"),
            Route("/gradebook", gradebook_page, methods=["GET"]),
            *services.routes(),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.services = services
    return app


def _cell(gradebook: Gradebook, item: int, user_id: str) -> GradeCell | None:
    grade = gradebook.grade(item, user_id)
    if grade is None:
        return None
    given = grade.score_given
    return GradeCell(
        score="—" if given is None else f"{number(given)} / {number(grade.score_maximum)}",
        comment=grade.comment,
        timestamp=grade.timestamp_text,
        progress=f"{grade.activity_progress} · {grade.grading_progress}",
    )


def _clock_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def _pick(resources: tuple[LmsResource, ...], index: str) -> LmsResource | None:
    if not index.isdigit() or int(index) >= len(resources):
        return None
    return resources[int(index)]


def _answer(
    config: LmsConfig,
    key: SigningKey,
    pending: PendingLaunches,
    params: Mapping[str, str],
    now: int,
    links: Callable[[LmsResource], ServiceLinks],
) -> tuple[DemoUser, PostedForm]:
    """Check the tool's authentication request, take the launch it names, and sign its id_token.

    Raises AuthRequestError subclasses (bad request, unregistered redirect URI, unknown message hint,
    login hint of another user).
    """
    request = parse_auth_request(params, client_id=config.client_id, redirect_uris=config.redirect_uris)
    launch = pending.take(request.lti_message_hint, request.login_hint, now)
    service = links(launch.resource)
    claims = build_resource_link_claims(
        issuer=config.issuer,
        client_id=config.client_id,
        deployment_id=launch.deployment_id,
        nonce=request.nonce,
        now=now,
        ttl=config.token_ttl_seconds,
        user=launch.user.launch_user,
        target_link_uri=launch.resource.target_link_uri,
        resource_link_id=resource_link_id(launch.resource),
        resource_link_title=launch.resource.title,
        context_id=COURSE_ID,
        context_label=COURSE_LABEL,
        context_title=COURSE_TITLE,
        custom=CUSTOM_PARAMETERS,
        extra={
            c.TOOL_PLATFORM: {
                "guid": config.issuer,
                "name": "Demo LMS",
                "product_family_code": "ltigate-demo",
                "version": __version__,
            },
            c.LAUNCH_PRESENTATION: {"document_target": "window", "return_url": config.issuer + "/"},
            c.AGS_ENDPOINT: build_ags_claim(AGS_SCOPES, service.lineitems, service.lineitem),
            c.NRPS_SERVICE: build_nrps_claim(service.memberships),
        },
    )
    form = PostedForm(
        action=request.redirect_uri,
        id_token=sign(claims, key),
        state=request.state,
        resource_title=launch.resource.title,
    )
    return launch.user, form

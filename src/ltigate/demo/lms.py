"""The demo LMS: a small LTI 1.3 platform over HTTP (lti-reference §1.4, §2.3).

It starts third-party-initiated logins at the tool, answers the tool's OIDC authentication request
with a signed LtiResourceLinkRequest posted by the browser, and publishes its key set. Its key is
generated at start and lives only in memory. It also offers deliberately broken launches: one from a
deployment the tool does not know, and a replay of a form the tool has already accepted.

Launches carry the AGS and NRPS claims; the services behind them (lms_services) keep an in-memory
gradebook, shown at `/gradebook` with the service requests the tool made.

An instructor can "add content" by Deep Linking: the LMS sends an LtiDeepLinkingRequest to the tool's
launch URL, and `/deep-link-return` checks the signed response and adds its items to the course.
"""

from __future__ import annotations

import hashlib
import secrets
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
from ltigate.demo.lms_registration import RegistrationDesk
from ltigate.demo.lms_services import AGS_SCOPES, LmsServices, ServiceProblem, number
from ltigate.demo.memory import PENDING_TTL_SECONDS, PendingLaunch, PendingLaunches, PostedForm, PostedForms
from ltigate.demo.pages import Pages
from ltigate.lti import claims as c
from ltigate.lti.errors import LtiError
from ltigate.lti.jws import read_unverified_claims, read_unverified_header, sign
from ltigate.lti.keys import SigningKey, key_set_document, thumbprint
from ltigate.lti.platform import (
    AuthRequest,
    DeepLinkingResponseInvalid,
    build_ags_claim,
    build_login_initiation,
    build_nrps_claim,
    build_resource_link_claims,
    parse_auth_request,
    verify_deep_linking_response,
)

MAX_FORM_FIELDS = 50
RECENT_REQUESTS = 30
MAX_AWAITING_RETURN = 100
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"


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
    registration_url: str | None = None,
) -> Starlette:
    """The demo LMS as an ASGI app; see the module docstring. `transport` replaces the network (the fetch of
    the tool's key set) in tests; `app.state.services` is the LmsServices, for tests to look into.
    `registration_url` is the tool's Dynamic Registration URL, for the home page's registration button.
    """
    key = generate_signing_key()
    pending, posted = PendingLaunches(), PostedForms()
    pages = Pages("Demo LMS", "#1d3f8f")
    gradebook = Gradebook()
    course = list(config.resources)  # the course's links; deep linking adds more
    awaiting_return: dict[str, DemoUser] = {}  # deep-linking `data` values sent, until their response comes
    services = LmsServices(
        config, gradebook, [resource_link_id(r) for r in config.resources], clock=clock, transport=transport
    )
    desk = RegistrationDesk(config, registration_url, services.token_url, clock)  # Dynamic Registration
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
            resources=list(enumerate(course)),
            config=config,
            course_title=COURSE_TITLE,
            course_label=COURSE_LABEL,
            replays=replays,
            unregistered=UNREGISTERED_DEPLOYMENT,
            jwks_url=str(request.url_for("jwks")),
            token_url=services.token_url,
            registration=desk,
        )

    async def launch(request: Request) -> Response:
        params = await _params(request)
        user = find_user(params.get("user", ""))
        resource = _pick(tuple(course), params.get("resource", ""))
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

    async def deep_link(request: Request) -> Response:
        user = find_user((await _params(request)).get("user", ""))
        if user is None:
            return pages.error("unknown_choice", "the request names an unknown user", 400, "Go back to the home page.")
        picker = LmsResource("Add content", config.redirect_uris[0])  # the tool's launch URL: its own picker
        hint = pending.add(
            PendingLaunch(user, picker, config.deployment_id, clock() + PENDING_TTL_SECONDS, deep_linking=True)
        )
        initiation = build_login_initiation(
            issuer=config.issuer,
            login_hint=user.launch_user.sub,
            target_link_uri=picker.target_link_uri,
            client_id=config.client_id,
            deployment_id=config.deployment_id,
            lti_message_hint=hint,
        )
        separator = "&" if "?" in config.tool_login_url else "?"
        return RedirectResponse(f"{config.tool_login_url}{separator}{urlencode(initiation)}", status_code=303)

    async def deep_link_return(request: Request) -> Response:
        token = (await _params(request)).get("JWT", "")
        try:
            data = _unverified_data(token)
            user = awaiting_return.get(data) if data else None
            if user is None:
                raise DeepLinkingResponseInvalid("the response answers no deep-linking request of this LMS")
            received = verify_deep_linking_response(
                token,
                await services.tool_keys(read_unverified_header(token).kid),
                client_id=config.client_id,
                issuer=config.issuer,
                deployment_id=config.deployment_id,
                data=data,
                now=int(clock()),
            )
            awaiting_return.pop(str(data), None)  # answered: the same response again is refused
        except (LtiError, ServiceProblem) as error:
            code, message = (error.code, error.message) if isinstance(error, LtiError) else (error.error, str(error))
            return pages.error(code, message, 400, "The tool's deep-linking response was refused.")
        added = [_add_item(item) for item in received.items]
        return pages.render(
            "lms_deep_link_return.html",
            user=user,
            added=[item for item in added if item is not None],
            skipped=added.count(None),
            received=received,
        )

    def _add_item(item: Mapping[str, object]) -> LmsResource | None:
        """Add an ltiResourceLink item to the course (with its line item); other types are not kept."""
        url = item.get("url")
        if item.get("type") != "ltiResourceLink" or not isinstance(url, str):
            return None
        line_item = item.get("lineItem")
        maximum = line_item.get("scoreMaximum") if isinstance(line_item, Mapping) else None
        custom = item.get("custom")
        resource = LmsResource(
            title=str(item.get("title") or "Untitled"),
            target_link_uri=url,
            score_maximum=float(maximum) if isinstance(maximum, (int, float)) else None,
            custom=tuple((str(k), str(v)) for k, v in custom.items()) if isinstance(custom, Mapping) else (),
        )
        link_id = resource_link_id(resource)
        services.add_link(link_id)
        if isinstance(line_item, Mapping) and resource.score_maximum is not None:
            fields = LineItemFields(
                label=str(line_item.get("label") or resource.title),
                score_maximum=resource.score_maximum,
                resource_id=str(line_item["resourceId"]) if "resourceId" in line_item else None,
                tag=str(line_item["tag"]) if "tag" in line_item else None,
                resource_link_id=link_id,
            )
            coupled[resource.target_link_uri] = gradebook.add(fields, coupled=True).number
        course.append(resource)
        return resource

    async def auth(request: Request) -> Response:
        try:
            auth_request = parse_auth_request(
                await _params(request), client_id=config.client_id, redirect_uris=config.redirect_uris
            )
            launch = pending.take(auth_request.lti_message_hint, auth_request.login_hint, int(clock()))
            data = None
            if launch.deep_linking:
                data = secrets.token_urlsafe(12)
                awaiting_return[data] = launch.user
                while len(awaiting_return) > MAX_AWAITING_RETURN:
                    awaiting_return.pop(next(iter(awaiting_return)))
            user, form = _answer(config, key, launch, auth_request, int(clock()), links, data)
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
            Route("/deep-link", deep_link, methods=["POST"]),
            Route("/deep-link-return", deep_link_return, methods=["POST"]),
            Route("/jwks", jwks, methods=["GET"], name="jwks"),
            Route("/gradebook", gradebook_page, methods=["GET"]),
            *services.routes(),
            *desk.routes(),
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


def _unverified_data(token: str) -> str | None:
    """The `data` a deep-linking response echoes, read before its signature is checked only to find which
    request it answers (and so what `data` must be)."""
    try:
        data = read_unverified_claims(token).get(DL_DATA)
    except LtiError:
        return None
    return data if isinstance(data, str) else None


def _answer(
    config: LmsConfig,
    key: SigningKey,
    launch: PendingLaunch,
    request: AuthRequest,
    now: int,
    links: Callable[[LmsResource], ServiceLinks],
    deep_link_data: str | None = None,
) -> tuple[DemoUser, PostedForm]:
    """Sign the id_token answering the checked authentication request `request` for `launch` (a
    deep-linking request when the launch is one, with `deep_link_data` as its `data`)."""
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
        custom={**CUSTOM_PARAMETERS, **dict(launch.resource.custom)},
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
    if launch.deep_linking:
        claims.pop(c.RESOURCE_LINK)
        claims[c.MESSAGE_TYPE] = c.DEEP_LINKING_REQUEST
        claims[c.DL_SETTINGS] = {
            "deep_link_return_url": config.issuer + "/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "accept_lineitem": True,
            "title": "Add to " + COURSE_TITLE,
            "data": deep_link_data,
        }
    form = PostedForm(
        action=request.redirect_uri,
        id_token=sign(claims, key),
        state=request.state,
        resource_title=launch.resource.title,
    )
    return launch.user, form

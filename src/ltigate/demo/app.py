"""The demo app: what a provider's learning app behind ltigate looks like. The gateway redirects the
browser to `/launch?ticket=<JWT>`; the app redeems the ticket once through the REST API
(`POST /api/v1/tickets/redeem`), keeps the launch id behind a session cookie and sends the browser on to
`/welcome`, which greets the user with what the launch carried, offers the quiz of the graded resource,
and shows the course roster.

A quiz submission becomes a score (`POST /api/v1/launches/{id}/score`) that the gateway's worker delivers
to the LMS gradebook; the page shows the delivery (`GET /api/v1/launches/{id}/delivery`) and the roster
(`GET /api/v1/launches/{id}/members`). The app keeps nothing but the session → launch id map (with each
session's CSRF token); everything else is read from the gateway on each page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ltigate.demo import quiz
from ltigate.demo.launch_view import LaunchView, read_launch, web_url
from ltigate.demo.pages import Pages
from ltigate.demo.seed import QUIZ_SLUG
from ltigate.demo.sessions import AppSession, AppSessions
from ltigate.lti.roles import short_roles

API_TIMEOUT_SECONDS: Final = 5.0
MAX_TICKET_LENGTH: Final = 8192
SESSION_COOKIE: Final = "demo_app_session"
ROSTER_PAGE_SIZE: Final = 100
MAX_ROSTER_PAGES: Final = 20
# After a submission the app waits this long, at most, for the worker to deliver the score.
DELIVERY_WAIT_SECONDS: Final = 2.0
DELIVERY_POLL_SECONDS: Final = 0.2


class GatewayFailed(Exception):
    """The gateway refused a request or could not be asked; `code` is the gateway's when it gave one."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """The grade delivery of the launch, as the quiz card shows it."""

    status: str  # pending | delivered | failed | skipped, or "unknown" when the gateway could not say
    score: str | None
    attempts: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RosterRow:
    user_id: str
    name: str
    role: str
    last_launch: str
    grade: str
    you: bool


@dataclass(frozen=True, slots=True)
class Roster:
    rows: tuple[RosterRow, ...]
    error: str | None = None


def _refusal(response: httpx.Response) -> GatewayFailed:
    status = response.status_code if 400 <= response.status_code < 500 else 502
    try:
        error = response.json()["error"]
        return GatewayFailed(str(error["code"]), str(error["message"]), status)
    except (ValueError, KeyError, TypeError):
        return GatewayFailed("gateway_error", f"the gateway answered HTTP {response.status_code}", status)


def create_demo_app(
    gateway_url: str,
    api_key: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The demo app as an ASGI app; `transport` replaces the network in tests."""
    api_url = gateway_url.rstrip("/") + "/api/v1"
    pages = Pages("Demo app", "#5b2a86")
    sessions = AppSessions()

    async def call(method: str, path: str, *, body: object = None, params: Mapping[str, str] | None = None) -> object:
        """The JSON the gateway answers `method path` with; raises GatewayFailed."""
        try:
            async with httpx.AsyncClient(timeout=API_TIMEOUT_SECONDS, transport=transport) as client:
                response = await client.request(
                    method,
                    api_url + path,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {api_key}"},
                )
        except httpx.HTTPError as exc:
            raise GatewayFailed(
                "gateway_unreachable", f"the gateway at {gateway_url} could not be reached ({type(exc).__name__})", 502
            ) from None
        if not 200 <= response.status_code < 300:
            raise _refusal(response)
        try:
            return response.json()
        except ValueError:
            raise GatewayFailed("gateway_error", "the gateway's answer is not JSON", 502) from None

    async def call_object(method: str, path: str, *, body: object = None) -> dict[str, object]:
        document = await call(method, path, body=body)
        if not isinstance(document, dict):
            raise GatewayFailed("gateway_error", "the gateway's answer is not a JSON object", 502)
        return document

    def failed(failure: GatewayFailed, hint: str) -> Response:
        return pages.error(failure.code, failure.message, failure.status, hint)

    def current_session(request: Request) -> AppSession | None:
        return sessions.get(request.cookies.get(SESSION_COOKIE), clock())

    def no_session() -> Response:
        return pages.error(
            "session_missing",
            "this page belongs to a launch, and this browser has none (or it expired)",
            401,
            "Launch the app from the Demo LMS.",
        )

    async def home(request: Request) -> Response:
        return pages.render("app_home.html")

    async def launch(request: Request) -> Response:
        ticket = request.query_params.get("ticket", "")
        if not ticket or len(ticket) > MAX_TICKET_LENGTH:
            return pages.error(
                "ticket_missing",
                "this page opens with a launch ticket, and none came with it",
                400,
                "Launch the app from the Demo LMS.",
            )
        try:
            view = read_launch(await call_object("POST", "/tickets/redeem", body={"ticket": ticket}))
        except GatewayFailed as failure:
            return failed(failure, "The gateway did not hand this launch over. Launch again from the LMS.")
        if view.launch_id is None:
            return pages.error("gateway_error", "the gateway's launch has no id", 502)
        response = RedirectResponse("/welcome", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            sessions.start(view.launch_id, clock()),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def welcome(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return no_session()
        launch_path = f"/launches/{quote(session.launch_id, safe='')}"
        try:
            view = read_launch(await call_object("GET", launch_path))
        except GatewayFailed as failure:
            return failed(failure, "The gateway could not show this launch. Launch again from the LMS.")
        graded = view.resource == QUIZ_SLUG and view.can_score
        delivery = await read_delivery(launch_path) if graded else None
        roster = await read_roster(launch_path, view) if view.has_roster else Roster((), "no roster service offered")
        gradebook = web_url(f"{view.issuer}/gradebook") if view.issuer else None
        return pages.render(
            "app_launch.html",
            launch=view,
            quiz=graded,
            questions=quiz.QUESTIONS,
            csrf=session.csrf_token,
            delivery=delivery,
            roster=roster,
            gradebook_url=gradebook,
        )

    async def submit_quiz(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return no_session()
        form = await request.form(max_fields=20, max_files=0)
        answers = {name: value for name, value in form.items() if isinstance(value, str)}
        if not session.csrf_ok(answers.get("csrf")):
            return pages.error(
                "csrf_failed",
                "the form did not carry this session's token",
                403,
                "Open the app's page again and submit the quiz from there.",
            )
        correct = quiz.grade(answers)
        launch_path = f"/launches/{quote(session.launch_id, safe='')}"
        score = {
            "scoreGiven": correct,
            "scoreMaximum": quiz.MAXIMUM,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "comment": f"{correct} of {quiz.MAXIMUM} answers right in the demo quiz",
        }
        try:
            await call_object("POST", f"{launch_path}/score", body=score)
        except GatewayFailed as failure:
            return failed(failure, "The gateway did not take the score.")
        # The worker delivers in the background; wait a moment so the page usually shows the outcome.
        with anyio.move_on_after(DELIVERY_WAIT_SECONDS):
            for _ in range(int(DELIVERY_WAIT_SECONDS / DELIVERY_POLL_SECONDS)):
                delivery = await read_delivery(launch_path)
                if delivery is None or delivery.status != "pending":
                    break
                await anyio.sleep(DELIVERY_POLL_SECONDS)
        return RedirectResponse("/welcome", status_code=303)

    async def read_delivery(launch_path: str) -> DeliveryView | None:
        """The launch's latest grade delivery; None when nothing was sent yet."""
        try:
            document = await call_object("GET", f"{launch_path}/delivery")
        except GatewayFailed as failure:
            return DeliveryView("unknown", None, None, f"{failure.code}: {failure.message}")
        job = document.get("delivery")
        if not isinstance(job, dict):
            return None
        raw = job.get("score")
        score: Mapping[str, object] = raw if isinstance(raw, dict) else {}
        given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
        attempts = job.get("attempts")
        error = job.get("last_error")
        return DeliveryView(
            status=str(job.get("status", "unknown")),
            score=f"{_number(given)} / {_number(maximum)}" if given is not None else None,
            attempts=attempts if isinstance(attempts, int) else None,
            error=error if isinstance(error, str) and error else None,
        )

    async def read_roster(launch_path: str, view: LaunchView) -> Roster:
        """Every member of the launch's course, page by page (bounded), with their latest launch and grade."""
        members: list[object] = []
        try:
            for _ in range(MAX_ROSTER_PAGES):
                params = {"limit": str(ROSTER_PAGE_SIZE), "offset": str(len(members))}
                page = await call("GET", f"{launch_path}/members", params=params)
                if not isinstance(page, list):
                    raise GatewayFailed("gateway_error", "the roster is not a JSON array", 502)
                members.extend(page)
                if len(page) < ROSTER_PAGE_SIZE:
                    break
        except GatewayFailed as failure:
            return Roster((), f"{failure.code}: {failure.message}")
        return Roster(tuple(_row(member, view.sub) for member in members if isinstance(member, dict)))

    return Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/launch", launch, methods=["GET"]),
            Route("/welcome", welcome, methods=["GET"]),
            Route("/quiz", submit_quiz, methods=["POST"]),
        ]
    )


def _row(member: Mapping[str, object], sub: str | None) -> RosterRow:
    user_id = str(member.get("user_id") or "")
    roles = member.get("roles")
    names = short_roles(tuple(r for r in roles if isinstance(r, str))) if isinstance(roles, list) else ()
    context_roles = [name for name in names if ":" not in name] or list(names)
    launched = member.get("last_launch_at")
    grade = member.get("delivery")
    return RosterRow(
        user_id=user_id,
        name=str(member.get("name") or user_id),
        role=", ".join(context_roles) or "—",
        last_launch=_when(launched) if isinstance(launched, (int, float)) else "never",
        grade=str(grade) if isinstance(grade, str) and grade else "—",
        you=bool(sub) and user_id == sub,
    )


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

"""The demo app: what a provider's learning app behind ltigate looks like. The gateway redirects the
browser to `/launch?ticket=<JWT>`; the app redeems the ticket once through the REST API
(`POST /api/v1/tickets/redeem`) and greets the user with what the launch carried.
"""

from __future__ import annotations

from typing import Final

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ltigate.demo.launch_view import read_launch
from ltigate.demo.pages import Pages

REDEEM_TIMEOUT_SECONDS: Final = 5.0
MAX_TICKET_LENGTH: Final = 8192


class RedemptionFailed(Exception):
    """The gateway refused the ticket or could not be asked; `code` is the gateway's when it gave one."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _refusal(response: httpx.Response) -> RedemptionFailed:
    status = response.status_code if 400 <= response.status_code < 500 else 502
    try:
        error = response.json()["error"]
        return RedemptionFailed(str(error["code"]), str(error["message"]), status)
    except (ValueError, KeyError, TypeError):
        return RedemptionFailed("gateway_error", f"the gateway answered HTTP {response.status_code}", status)


def create_demo_app(gateway_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The demo app as an ASGI app; `transport` replaces the network in tests."""
    redeem_url = gateway_url.rstrip("/") + "/api/v1/tickets/redeem"
    pages = Pages("Demo app", "#5b2a86")

    async def redeem(ticket: str) -> dict[str, object]:
        """The launch JSON for `ticket`; raises RedemptionFailed."""
        try:
            async with httpx.AsyncClient(timeout=REDEEM_TIMEOUT_SECONDS, transport=transport) as client:
                response = await client.post(
                    redeem_url, json={"ticket": ticket}, headers={"Authorization": f"Bearer {api_key}"}
                )
        except httpx.HTTPError as exc:
            raise RedemptionFailed(
                "gateway_unreachable", f"the gateway at {gateway_url} could not be reached ({type(exc).__name__})", 502
            ) from None
        if response.status_code != 200:
            raise _refusal(response)
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise RedemptionFailed("gateway_error", "the gateway's answer is not a JSON object", 502)
        return document

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
            document = await redeem(ticket)
        except RedemptionFailed as failure:
            return pages.error(
                failure.code,
                failure.message,
                failure.status,
                "The gateway did not hand this launch over. Launch again from the LMS.",
            )
        return pages.render("app_launch.html", launch=read_launch(document))

    return Starlette(routes=[Route("/", home, methods=["GET"]), Route("/launch", launch, methods=["GET"])])

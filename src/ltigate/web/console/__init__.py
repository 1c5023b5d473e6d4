"""The administrator's console at /console: server-rendered pages (Jinja2) over the use cases, usable
without JavaScript, with sign-in, server-side sessions and form tokens.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ltigate.services.errors import NotFound
from ltigate.services.gateway import Gateway
from ltigate.web.console import (
    auth,
    deliveries,
    keys,
    launches,
    overview,
    platforms,
    registration,
    resources,
    rosters,
    seats,
)
from ltigate.web.console.pages import PREFIX, SESSION_COOKIE, Console


def routes(gateway: Gateway) -> list[Route]:
    """Every console route, ending with a page for unknown console paths."""
    console = Console(gateway)

    async def unknown(request: Request) -> Response:
        active = await gateway.console_sessions.resume(request.cookies.get(SESSION_COOKIE))
        return console.error_page(request, active, NotFound(f"there is no console page at {request.url.path[:200]}"))

    found: list[Route] = []
    for module in (auth, overview, platforms, registration, resources, launches, deliveries, rosters, seats, keys):
        found.extend(module.routes(console))
    found.append(Route(f"{PREFIX}/{{rest:path}}", unknown, methods=["GET", "POST"]))
    return found

"""Dynamic Registration pages (lti-reference §7) and the manual registration helpers.

`GET /lti/register[/<link secret>]?openid_configuration=…&registration_token=…` shows what will be registered;
its form posts to `POST /lti/register`, which registers and shows the closing page. Both work in the LMS's
frame or tab. Scripts come from `/lti/assets/`, never inline. `GET /lti/config/canvas.json` is Canvas's
developer-key JSON configuration.
"""

from __future__ import annotations

import logging
from typing import Final

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ltigate.lti import claims as c
from ltigate.lti.canvas_configuration import build_canvas_configuration
from ltigate.lti.errors import LtiError
from ltigate.lti.registration import TOOL_CONFIGURATION
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.web.assets import asset_path
from ltigate.web.forms import read_form
from ltigate.web.troubleshooting import advice_for

REGISTER_PATH: Final = "/lti/register"
CLOSE_SCRIPT: Final = asset_path("registration.js")

# The LMS shows these pages in its frame or a tab it opened: no frame-ancestors restriction, but no inline
# script, nothing loaded from elsewhere, forms only to ourselves, and the registration token in the URL never
# sent on as a referrer.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

log = logging.getLogger("ltigate.web.registration")


def routes(gateway: Gateway, templates: Environment) -> list[Route]:
    service = gateway.dynamic_registration

    def page(template: str, status: int = 200, **context: object) -> HTMLResponse:
        body = templates.get_template(template).render(close_script=CLOSE_SCRIPT, **context)
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)

    def failed(error: LtiError | ServiceError) -> HTMLResponse:
        log.info("dynamic registration failed", extra={"error_code": error.code})
        return page(
            "registration/failed.html",
            error.status,
            code=error.code,
            message=error.message,
            advice=advice_for(error.code),
        )

    async def confirm(request: Request) -> Response:
        try:
            params = await read_form(request)
            plan = await service.prepare(params, request.path_params.get("link"))
        except (LtiError, ServiceError) as error:
            return failed(error)
        configuration = plan.request[TOOL_CONFIGURATION]
        assert isinstance(configuration, dict)
        return page(
            "registration/confirm.html",
            plan=plan,
            tool=service.tool,
            messages=configuration["messages"],
            claims=configuration["claims"],
            scopes=str(plan.request["scope"]).split(),
            action=REGISTER_PATH,
            deep_linking=c.DEEP_LINKING_REQUEST,
        )

    async def register(request: Request) -> Response:
        try:
            form = await read_form(request)
            completed = await service.register(form.get("registration"))
        except (LtiError, ServiceError) as error:
            return failed(error)
        return page("registration/done.html", completed=completed, tool=service.tool)

    async def canvas_json(request: Request) -> Response:
        return JSONResponse(build_canvas_configuration(service.tool), headers={"Cache-Control": "no-cache"})

    return [
        Route(REGISTER_PATH, confirm, methods=["GET"]),
        Route(REGISTER_PATH, register, methods=["POST"]),
        Route(f"{REGISTER_PATH}/{{link}}", confirm, methods=["GET"]),
        Route("/lti/config/canvas.json", canvas_json, methods=["GET"]),
    ]

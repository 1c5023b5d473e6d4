"""Deep linking in the browser and the API (lti-reference §6): ltigate's picker page, the auto-posting
page that returns the signed LtiDeepLinkingResponse to the LMS, and the app's
`POST /api/v1/launches/{id}/deep-linking-response`.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ltigate.lti.deep_linking import MAX_ITEMS, ResponseMessages
from ltigate.lti.errors import LtiError
from ltigate.services.deep_linking import OpenedSession, PickerView, SignedResponse
from ltigate.services.errors import ServiceError
from ltigate.services.gateway import Gateway
from ltigate.services.records import Platform
from ltigate.web.api import ERRORS, guards
from ltigate.web.assets import asset_path
from ltigate.web.errors import html_error
from ltigate.web.forms import read_form_fields
from ltigate.web.framing import frame_ancestors, origin_of, page_policy

ACTIONS: Final = ("search", "select", "cancel", "error")


def _headers(gateway: Gateway, platform: Platform | None, form_target: str | None = None) -> dict[str, str]:
    """The picker and the return page are shown in the LMS frame: framed only by the platform, scripts
    only from ltigate, forms only to ltigate and (the return page) the LMS's return URL."""
    ancestors = frame_ancestors(platform, gateway.settings.frame_ancestors)
    form_action = " ".join(filter(None, ["'self'", form_target]))
    policy = page_policy(ancestors, scripts=True, form_action=form_action)
    return {"Cache-Control": "no-store", "Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"}


def picker_page(templates: Environment, gateway: Gateway, view: PickerView, token: str) -> HTMLResponse:
    body = templates.get_template("deep_linking/picker.html").render(
        view=view, token=token, action=f"/lti/deep-linking/{view.launch_id}"
    )
    return HTMLResponse(body, headers=_headers(gateway, view.platform))


def return_page(templates: Environment, gateway: Gateway, signed: SignedResponse) -> HTMLResponse:
    """The page that posts the signed response to the LMS (a form field named JWT, DL 2.0 §4.5)."""
    body = return_html(templates, gateway.settings.url(asset_path("autopost.js")), signed)
    return HTMLResponse(body, headers=_headers(gateway, signed.platform, origin_of(signed.return_url)))


def return_html(templates: Environment, script: str, signed: SignedResponse) -> str:
    count = len(signed.items)
    summary = f"Sending {count} item{'s' if count != 1 else ''} to the LMS." if count else "Telling the LMS."
    return templates.get_template("deep_linking/return.html").render(
        return_url=signed.return_url, jwt=signed.jwt, summary=summary, script=script
    )


async def show_picker(templates: Environment, gateway: Gateway, opened: OpenedSession) -> HTMLResponse:
    """The first picker page, straight from the verified deep-linking launch."""
    view = await gateway.deep_linking.picker(opened.launch_id, opened.token)
    return picker_page(templates, gateway, view, opened.token)


def routes(gateway: Gateway, templates: Environment) -> list[Route]:

    async def picker(request: Request) -> Response:
        launch_id = str(request.path_params["launch_id"])[:64]
        try:
            fields = await read_form_fields(request)
            form = dict(fields)
            token, action = form.get("token", ""), form.get("action", "search")
            if action not in ACTIONS:
                action = "search"
            service = gateway.deep_linking
            if action == "search":
                view = await service.picker(launch_id, token, form.get("q", ""))
                return picker_page(templates, gateway, view, token)
            slugs = [value for name, value in fields if name == "resource"]
            if action == "error":
                signed = await service.answer_error(
                    launch_id,
                    token,
                    "ltigate provides LTI resource links only, which this request does not accept.",
                    "ltigate: accept_types has no ltiResourceLink",
                )
            else:
                signed = await service.answer_picker(launch_id, token, slugs, cancelled=action == "cancel")
        except (LtiError, ServiceError) as error:
            return html_error(templates, error)
        return return_page(templates, gateway, signed)

    return [Route("/lti/deep-linking/{launch_id}", picker, methods=["POST"])]


class ContentItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, object]] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Content items (DL 2.0 §3). An item may name a ltigate resource as "
        '`{"resource": "<slug>"}` (plus optional title, text, custom), which becomes that resource\'s '
        "ltiResourceLink; an ltiResourceLink without url gets the launched resource's target link URI.",
    )
    msg: str | None = Field(default=None, max_length=4000, description="Shown to the user by the LMS")
    log: str | None = Field(default=None, max_length=4000, description="Written to the LMS's log")
    errormsg: str | None = Field(default=None, max_length=4000, description="Shown to the user on failure")
    errorlog: str | None = Field(default=None, max_length=4000, description="Logged on failure")


class DeepLinkingResponseOut(BaseModel):
    return_url: str = Field(description="The LMS's deep_link_return_url")
    jwt: str = Field(description="The signed LtiDeepLinkingResponse, to post as the form field JWT")
    items: list[dict[str, object]] = Field(description="The content items as sent")
    html: str = Field(description="A complete page that posts the response to the LMS; serve it to the browser")


def api_router(gateway: Gateway, templates: Environment) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=guards(gateway), responses=ERRORS)

    @api.post(
        "/launches/{launch_id}/deep-linking-response",
        response_model=DeepLinkingResponseOut,
        tags=["deep linking"],
        summary="Answer a deep-linking launch with the app's items: ltigate checks them against the LMS's "
        "settings, signs the response and returns the auto-posting form",
    )
    async def deep_linking_response(launch_id: str, body: ContentItemsIn) -> DeepLinkingResponseOut:
        messages = ResponseMessages(msg=body.msg, log=body.log, errormsg=body.errormsg, errorlog=body.errorlog)
        signed = await gateway.deep_linking.answer_app(launch_id, body.items, messages)
        script = gateway.settings.url(asset_path("autopost.js"))
        return DeepLinkingResponseOut(
            return_url=signed.return_url,
            jwt=signed.jwt,
            items=signed.items,
            html=return_html(templates, script, signed),
        )

    return api

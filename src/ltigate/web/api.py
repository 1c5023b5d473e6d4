"""The REST API under /api/v1, authenticated by API keys (`Authorization: Bearer <key>`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response, params

from ltigate import __version__
from ltigate.lti.text import may_hold_unstorable_text, storable, storable_text
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.gateway import Gateway
from ltigate.services.launches import LaunchDetail
from ltigate.services.records import (
    ApiKey,
    DeploymentStatus,
    LaunchFilter,
    LaunchOutcome,
    PlatformFields,
    Resource,
    ResourceFields,
)
from ltigate.services.resources import target_link_uri
from ltigate.web.framing import frame_ancestors
from ltigate.web.schemas import (
    DeploymentDecision,
    DeploymentOut,
    ErrorResponse,
    LaunchOut,
    LaunchSummary,
    PlatformIn,
    PlatformOut,
    PlatformPatch,
    ResourceIn,
    ResourceOut,
    ResourcePatch,
    TicketIn,
    ToolOut,
)

# Above this, an offset is no page of anything; and a number must fit the databases' 64-bit integers.
MAX_OFFSET: Final = 1_000_000_000
# Every error answer has the one shape ErrorResponse; 502 when the platform fails a service call the request
# needed (grades, rosters, line items), 503 when the database is unreachable.
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 422, 502, 503)
}


def authenticator(gateway: Gateway) -> Callable[[Request], Awaitable[ApiKey]]:
    """The dependency that admits a request with a valid API key (`Authorization: Bearer <key>`)."""

    async def authenticated(request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        return await gateway.api_keys.authenticate(secret.strip() if scheme.lower() == "bearer" else None)

    return authenticated


async def refuse_unstorable_text(request: Request) -> None:
    """Text no store can keep (U+0000, which PostgreSQL text refuses, and lone surrogates; ltigate.lti.text)
    in the path, the query string or a JSON body: refused as an invalid field (422) before any use case runs."""
    if not storable_text(request.scope["path"]):
        raise InvalidField("the path holds a NUL character", "path")
    for name, value in request.query_params.multi_items():
        if not (storable_text(name) and storable_text(value)):
            raise InvalidField(f"query parameter {name[:60]!r} holds a NUL character", f"query.{name[:60]}")
    body = await request.body()
    if not may_hold_unstorable_text(body):
        return
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON: the body's own validation answers
    if not storable(value):
        raise InvalidField("the body holds a NUL character or an unpaired surrogate (\\u0000, \\ud800)", "body")


def guards(gateway: Gateway) -> list[params.Depends]:
    """The dependencies of every REST API route: an API key, then text every store can keep."""
    return [Depends(authenticator(gateway)), Depends(refuse_unstorable_text)]


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=guards(gateway), responses=ERRORS)

    @api.get("/tool", response_model=ToolOut, tags=["tool"], summary="The URLs to register in an LMS")
    async def tool() -> ToolOut:
        urls = gateway.urls
        return ToolOut(
            version=__version__,
            base_url=urls.base_url,
            login_url=urls.login_url,
            launch_url=urls.launch_url,
            redirect_uris=[urls.launch_url],
            jwks_url=urls.jwks_url,
            ticket_jwks_url=urls.ticket_jwks_url,
            deep_linking_url=urls.launch_url,
            registration_url=urls.registration_url,
            canvas_configuration_url=urls.canvas_configuration_url,
        )

    @api.get("/platforms", response_model=list[PlatformOut], tags=["platforms"])
    async def list_platforms() -> list[PlatformOut]:
        return [PlatformOut.of(p) for p in await gateway.platforms.list()]

    @api.post("/platforms", response_model=PlatformOut, status_code=201, tags=["platforms"])
    async def create_platform(body: PlatformIn) -> PlatformOut:
        platform = await gateway.platforms.create(body.to_fields())
        gateway.registrations.invalidate()
        return PlatformOut.of(platform)

    @api.get("/platforms/{platform_id}", response_model=PlatformOut, tags=["platforms"])
    async def show_platform(platform_id: str) -> PlatformOut:
        return PlatformOut.of(await gateway.platforms.get(platform_id))

    @api.patch("/platforms/{platform_id}", response_model=PlatformOut, tags=["platforms"])
    async def update_platform(platform_id: str, body: PlatformPatch) -> PlatformOut:
        current = (await gateway.platforms.get(platform_id)).fields
        # null clears the token audience and resets the lists below; for every other field it means "no change".
        changes = {
            k: v
            for k, v in body.model_dump(exclude_unset=True).items()
            if v is not None or k in ("token_audience", "deployment_ids", "outcome_rules")
        }
        if "deployment_ids" in changes:
            changes["deployment_ids"] = tuple(changes["deployment_ids"] or ())
        else:
            changes["deployment_ids"] = ()
        if "outcome_rules" in changes:
            changes["outcome_rules"] = tuple(r.to_rule() for r in body.outcome_rules or [])
        fields: PlatformFields = replace(current, **changes)
        platform = await gateway.platforms.update(platform_id, fields)
        gateway.registrations.invalidate()
        return PlatformOut.of(platform)

    @api.post("/platforms/{platform_id}/deactivate", response_model=PlatformOut, tags=["platforms"])
    async def deactivate_platform(platform_id: str) -> PlatformOut:
        platform = await gateway.platforms.set_active(platform_id, False)
        gateway.registrations.invalidate()
        return PlatformOut.of(platform)

    @api.post(
        "/platforms/{platform_id}/approve",
        response_model=PlatformOut,
        tags=["platforms"],
        summary="Approve a platform that registered itself (Dynamic Registration)",
    )
    async def approve_platform(platform_id: str) -> PlatformOut:
        platform = await gateway.platforms.approve(platform_id)
        gateway.registrations.invalidate()
        return PlatformOut.of(platform)

    @api.post("/platforms/{platform_id}/activate", response_model=PlatformOut, tags=["platforms"])
    async def activate_platform(platform_id: str) -> PlatformOut:
        platform = await gateway.platforms.set_active(platform_id, True)
        gateway.registrations.invalidate()
        return PlatformOut.of(platform)

    @api.post(
        "/platforms/{platform_id}/deployments",
        response_model=DeploymentOut,
        tags=["platforms"],
        summary="Approve or reject a deployment (pending ones appear after a launch)",
    )
    async def decide_deployment(platform_id: str, body: DeploymentDecision) -> DeploymentOut:
        d = await gateway.platforms.decide_deployment(platform_id, body.deployment_id, DeploymentStatus(body.status))
        gateway.registrations.invalidate()
        return DeploymentOut(deployment_id=d.deployment_id, status=d.status.value, created_at=d.created_at)

    @api.delete("/platforms/{platform_id}/deployments/{deployment_id}", status_code=204, tags=["platforms"])
    async def remove_deployment(platform_id: str, deployment_id: str) -> Response:
        await gateway.platforms.remove_deployment(platform_id, deployment_id)
        gateway.registrations.invalidate()
        return Response(status_code=204)

    def out(resource: Resource) -> ResourceOut:
        return ResourceOut.of(resource, target_link_uri(gateway.urls.launch_url, resource.fields.slug))

    @api.get("/resources", response_model=list[ResourceOut], tags=["resources"])
    async def list_resources() -> list[ResourceOut]:
        return [out(r) for r in await gateway.resources.list()]

    @api.post("/resources", response_model=ResourceOut, status_code=201, tags=["resources"])
    async def create_resource(body: ResourceIn) -> ResourceOut:
        return out(await gateway.resources.create(ResourceFields(**body.model_dump())))

    @api.get("/resources/{slug:path}", response_model=ResourceOut, tags=["resources"])
    async def show_resource(slug: str) -> ResourceOut:
        return out(await gateway.resources.get(slug))

    @api.patch("/resources/{slug:path}", response_model=ResourceOut, tags=["resources"])
    async def update_resource(slug: str, body: ResourcePatch) -> ResourceOut:
        current = (await gateway.resources.get(slug)).fields
        # null clears the optional fields; for the others it means "no change".
        changes = {
            k: v
            for k, v in body.model_dump(exclude_unset=True).items()
            if v is not None or k in ("score_maximum", "review_url", "tag")
        }
        fields = replace(current, **changes)
        return out(await gateway.resources.update(slug, fields))

    @api.delete("/resources/{slug:path}", status_code=204, tags=["resources"])
    async def delete_resource(slug: str) -> Response:
        await gateway.resources.delete(slug)
        return Response(status_code=204)

    @api.get("/launches", response_model=list[LaunchSummary], tags=["launches"], summary="The launch log")
    async def list_launches(
        outcome: LaunchOutcome | None = None,
        platform_id: str | None = None,
        error_code: str | None = None,
        sub: str | None = None,
        before: float | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[LaunchSummary]:
        query = LaunchFilter(
            outcome=outcome, platform_id=platform_id, error_code=error_code, sub=sub, before=before, limit=limit
        )
        return [LaunchSummary.of(r) for r in await gateway.launches.list(query)]

    @api.get("/launches/{launch_id}", response_model=LaunchOut, tags=["launches"])
    async def show_launch(launch_id: str) -> LaunchOut:
        return await launch_out(await gateway.launches.get(launch_id))

    @api.post(
        "/tickets/redeem",
        response_model=LaunchOut,
        tags=["launches"],
        summary="Exchange a handoff ticket for its launch, once",
    )
    async def redeem_ticket(body: TicketIn) -> LaunchOut:
        return await launch_out(await gateway.launches.redeem(body.ticket))

    async def launch_out(detail: LaunchDetail) -> LaunchOut:
        platform = None
        if detail.record.platform_id is not None:
            try:
                platform = await gateway.platforms.get(detail.record.platform_id)
            except NotFound:
                platform = None  # removed since: nobody may frame its launches any more
        ancestors = frame_ancestors(platform, gateway.settings.frame_ancestors)
        return LaunchOut.detail(detail).model_copy(update={"frame_ancestors": ancestors})

    return api

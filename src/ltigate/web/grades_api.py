"""The grades, deliveries, rosters and line items part of the REST API (AGS and NRPS for the app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ltigate.lti import ags
from ltigate.lti.message import LtiMessage
from ltigate.services.errors import Conflict, InvalidField, NotFound
from ltigate.services.gateway import Gateway
from ltigate.services.grades import ScoreInput
from ltigate.services.records import DeliveryStatus, JobFilter, Platform, RosterEntry
from ltigate.services.rosters import context_key
from ltigate.web.api import ERRORS, MAX_OFFSET, guards
from ltigate.web.grades_schemas import (
    ContextOut,
    DeliveryOut,
    LaunchDeliveryOut,
    LineItemIn,
    LineItemPatch,
    MemberOut,
    OutcomeIn,
    ScoreIn,
)


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=guards(gateway), responses=ERRORS)

    @api.post(
        "/launches/{launch_id}/score",
        response_model=DeliveryOut,
        status_code=202,
        tags=["grades"],
        summary="Queue a score for the launch's user; it reaches the gradebook through the outbox",
    )
    async def submit_score(launch_id: str, body: ScoreIn) -> DeliveryOut:
        job = await gateway.grades.submit(
            launch_id,
            ScoreInput(
                activity_progress=body.activityProgress,
                grading_progress=body.gradingProgress,
                score_given=body.scoreGiven,
                score_maximum=body.scoreMaximum,
                comment=body.comment,
            ),
        )
        return DeliveryOut.of(job)

    @api.post(
        "/launches/{launch_id}/outcome",
        response_model=DeliveryOut,
        status_code=202,
        tags=["grades"],
        summary="Report how the session ended; the platform's outcome table turns it into a score",
    )
    async def report_outcome(launch_id: str, body: OutcomeIn) -> DeliveryOut:
        return DeliveryOut.of(await gateway.grades.report_outcome(launch_id, body.outcome))

    @api.get("/launches/{launch_id}/delivery", response_model=LaunchDeliveryOut, tags=["grades"])
    async def launch_delivery(launch_id: str) -> LaunchDeliveryOut:
        found = await gateway.grades.delivery(launch_id)
        return LaunchDeliveryOut(
            launch_id=found.launch_id,
            status=found.status,  # type: ignore[arg-type]
            delivery=DeliveryOut.of(found.job) if found.job else None,
        )

    @api.get("/deliveries", response_model=list[DeliveryOut], tags=["grades"])
    async def list_deliveries(
        status: DeliveryStatus | None = None,
        platform_id: str | None = None,
        launch_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[DeliveryOut]:
        jobs = await gateway.grades.deliveries(
            JobFilter(status=status, platform_id=platform_id, launch_id=launch_id, limit=limit)
        )
        return [DeliveryOut.of(j) for j in jobs]

    @api.get("/deliveries/{job_id}", response_model=DeliveryOut, tags=["grades"])
    async def show_delivery(job_id: str) -> DeliveryOut:
        return DeliveryOut.of(await gateway.grades.get(job_id))

    @api.post("/deliveries/{job_id}/retry", response_model=DeliveryOut, tags=["grades"])
    async def retry_delivery(job_id: str) -> DeliveryOut:
        return DeliveryOut.of(await gateway.grades.retry(job_id))

    @api.get("/contexts", response_model=list[ContextOut], tags=["rosters"])
    async def list_contexts(
        platform_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[ContextOut]:
        return [ContextOut.of(c) for c in await gateway.rosters.contexts(platform_id, limit)]

    @api.get("/contexts/{key}", response_model=ContextOut, tags=["rosters"])
    async def show_context(key: str) -> ContextOut:
        return ContextOut.of(await gateway.rosters.context(key))

    @api.post(
        "/contexts/{key}/sync",
        response_model=ContextOut,
        tags=["rosters"],
        summary="Fetch every page of the course roster from the LMS and store it",
    )
    async def sync_context(key: str) -> ContextOut:
        return ContextOut.of(await gateway.rosters.sync(key))

    @api.get(
        "/contexts/{key}/members",
        response_model=list[MemberOut],
        tags=["rosters"],
        summary="The course roster with each member's latest launch and grade delivery",
    )
    async def context_members(
        key: str,
        role: str | None = None,
        rlid: str | None = None,
        refresh: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> list[MemberOut]:
        if rlid is not None:
            members = await gateway.rosters.link_members(key, rlid=rlid, role=role, limit=limit)
            return [
                MemberOut.of(RosterEntry(member=m, last_launch_id=None, last_launch_at=None, delivery=None))
                for m in members
            ]
        entries = await gateway.rosters.members(key, role=role, limit=limit, offset=offset, refresh=refresh)
        return [MemberOut.of(e) for e in entries]

    @api.get(
        "/launches/{launch_id}/members",
        response_model=list[MemberOut],
        tags=["rosters"],
        summary="The roster of the launch's course",
    )
    async def launch_members(
        launch_id: str,
        role: str | None = None,
        refresh: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> list[MemberOut]:
        key = await _launch_context(gateway, launch_id)
        entries = await gateway.rosters.members(key, role=role, limit=limit, offset=offset, refresh=refresh)
        return [MemberOut.of(e) for e in entries]

    @api.get("/launches/{launch_id}/lineitems", response_model=list[dict[str, object]], tags=["line items"])
    async def list_line_items(
        launch_id: str, resource_link_id: str | None = None, resource_id: str | None = None, tag: str | None = None
    ) -> list[dict[str, object]]:
        platform, message, container = await _container(gateway, launch_id)
        items = await gateway.line_items.list(
            platform,
            message.deployment_id,
            container,
            resource_link_id=resource_link_id,
            resource_id=resource_id,
            tag=tag,
        )
        return [_line_item(i) for i in items]

    @api.post("/launches/{launch_id}/lineitems", response_model=dict[str, object], status_code=201, tags=["line items"])
    async def create_line_item(launch_id: str, body: LineItemIn) -> dict[str, object]:
        platform, message, container = await _container(gateway, launch_id)
        item = await gateway.line_items.create(
            platform, message.deployment_id, container, body.model_dump(exclude_none=True)
        )
        return _line_item(item)

    @api.get(
        "/launches/{launch_id}/lineitem",
        response_model=dict[str, object],
        tags=["line items"],
        summary="One line item of the launch's course, named by its URL (`url`)",
    )
    async def show_line_item(launch_id: str, url: str) -> dict[str, object]:
        platform, message = await _owned_line_item(gateway, launch_id, url)
        return _line_item(await gateway.line_items.get(platform, message.deployment_id, url))

    @api.patch("/launches/{launch_id}/lineitem", response_model=dict[str, object], tags=["line items"])
    async def update_line_item(launch_id: str, url: str, body: LineItemPatch) -> dict[str, object]:
        platform, message = await _owned_line_item(gateway, launch_id, url)
        item = await gateway.line_items.update(
            platform, message.deployment_id, url, body.model_dump(exclude_unset=True)
        )
        return _line_item(item)

    @api.delete("/launches/{launch_id}/lineitem", status_code=204, tags=["line items"])
    async def delete_line_item(launch_id: str, url: str) -> Response:
        platform, message = await _owned_line_item(gateway, launch_id, url)
        await gateway.line_items.delete(platform, message.deployment_id, url)
        return Response(status_code=204)

    @api.get("/launches/{launch_id}/lineitem/results", response_model=list[dict[str, object]], tags=["line items"])
    async def line_item_results(launch_id: str, url: str, user_id: str | None = None) -> list[dict[str, object]]:
        platform, message = await _owned_line_item(gateway, launch_id, url)
        results = await gateway.line_items.results(platform, message.deployment_id, url, user_id=user_id)
        return [_result(r) for r in results]

    return api


def _line_item(item: ags.LineItem) -> dict[str, object]:
    """A line item in AGS's own JSON names, as the platform would show it."""
    body: dict[str, object] = {k: v for k, v in item.extensions.items()}
    body.update({"id": item.id, "label": item.label, "scoreMaximum": item.score_maximum})
    optional = {
        "resourceId": item.resource_id,
        "tag": item.tag,
        "resourceLinkId": item.resource_link_id,
        "startDateTime": item.start_date_time,
        "endDateTime": item.end_date_time,
        "gradesReleased": item.grades_released,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def _result(result: ags.Result) -> dict[str, object]:
    body: dict[str, object] = {
        "id": result.id,
        "scoreOf": result.score_of,
        "userId": result.user_id,
        "resultScore": result.result_score,
        "resultMaximum": result.result_maximum,
        "scoringUserId": result.scoring_user_id,
        "comment": result.comment,
    }
    return {k: v for k, v in body.items() if v is not None}


async def _launch(gateway: Gateway, launch_id: str) -> tuple[Platform, LtiMessage]:
    detail = await gateway.launches.get(launch_id)
    if detail.message is None:
        raise Conflict(f"launch '{launch_id}' did not succeed")
    return await gateway.platforms.get(detail.record.platform_id or ""), detail.message


async def _launch_context(gateway: Gateway, launch_id: str) -> str:
    platform, message = await _launch(gateway, launch_id)
    if message.context is None:
        raise Conflict("the launch has no course (context claim)")
    await gateway.rosters.note_launch(platform, message)
    return context_key(platform.id, message.context.id)


async def _container(gateway: Gateway, launch_id: str) -> tuple[Platform, LtiMessage, str]:
    platform, message = await _launch(gateway, launch_id)
    if message.ags is None or not message.ags.lineitems:
        raise Conflict("the launch offered no line items container (AGS 'lineitems')")
    return platform, message, message.ags.lineitems


async def _owned_line_item(gateway: Gateway, launch_id: str, url: str) -> tuple[Platform, LtiMessage]:
    """Only the launch's own line item or items inside its container may be named: the gateway sends
    the platform's token with the request, so it must not go anywhere else."""
    platform, message = await _launch(gateway, launch_id)
    service = message.ags
    if service is None:
        raise Conflict("the launch offered no grade service (AGS)")
    container = (service.lineitems or "").split("?")[0].rstrip("/")
    inside = bool(container) and url.split("?")[0].startswith(container + "/")
    if url != service.lineitem and not inside:
        raise NotFound(f"line item '{url[:300]}' is not the launch's and not in its line items container")
    if not url.startswith(("https://", "http://")):
        raise InvalidField("url must be an absolute URL", "url")
    return platform, message

"""The seats and learner accounts part of the REST API: usage, the seats of a platform, releases, learners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ltigate.services.gateway import Gateway
from ltigate.services.records import LearnerFilter
from ltigate.web.api import ERRORS, MAX_OFFSET, guards
from ltigate.web.seats_schemas import (
    LearnerDetailOut,
    LearnerOut,
    ReleasedOut,
    ReleaseIdleIn,
    SeatOut,
    SeatsOut,
    SeatUsageOut,
)

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter(prefix="/api/v1", dependencies=guards(gateway), responses=ERRORS)

    @api.get(
        "/platforms/{platform_id}/seats",
        response_model=SeatsOut,
        tags=["seats"],
        summary="Seats licensed, used and remaining, and the learners holding them",
    )
    async def list_seats(platform_id: str, limit: Limit = 50, offset: Offset = 0) -> SeatsOut:
        usage = await gateway.seats.usage(platform_id)
        holders = await gateway.seats.list(platform_id, limit=limit + 1, offset=offset)
        return SeatsOut(
            usage=SeatUsageOut.of(usage),
            seats=[SeatOut.of(h) for h in holders[:limit]],
            limit=limit,
            offset=offset,
            next_offset=offset + limit if len(holders) > limit else None,
        )

    @api.delete(
        "/platforms/{platform_id}/seats/{learner_id}",
        status_code=204,
        tags=["seats"],
        summary="Release a learner's seat; their next launch takes a fresh one if one is free",
    )
    async def release_seat(platform_id: str, learner_id: str) -> Response:
        await gateway.seats.release(platform_id, learner_id)
        return Response(status_code=204)

    @api.post(
        "/platforms/{platform_id}/seats/release-idle",
        response_model=ReleasedOut,
        tags=["seats"],
        summary="Release the seats of learners who have not launched for some days",
    )
    async def release_idle_seats(platform_id: str, body: ReleaseIdleIn) -> ReleasedOut:
        released = await gateway.seats.release_idle(platform_id, body.days)
        return ReleasedOut(released=released, usage=SeatUsageOut.of(await gateway.seats.usage(platform_id)))

    @api.get("/learners", response_model=list[LearnerOut], tags=["learners"], summary="Learner accounts")
    async def list_learners(
        platform_id: str | None = None,
        q: Annotated[str | None, Query(max_length=200, description="Part of the name, email or sub")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[LearnerOut]:
        query = LearnerFilter(platform_id=platform_id, q=q, limit=limit, offset=offset)
        return [LearnerOut.of(learner) for learner in await gateway.learners.list(query)]

    @api.get("/learners/{learner_id}", response_model=LearnerDetailOut, tags=["learners"])
    async def show_learner(learner_id: str) -> LearnerDetailOut:
        learner = await gateway.learners.get(learner_id)
        return LearnerDetailOut.detail(learner, await gateway.seats.get(learner.platform_id, learner.id))

    return api

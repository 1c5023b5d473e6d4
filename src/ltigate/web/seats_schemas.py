"""The REST API's bodies for seats and learner accounts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ltigate.services.records import Learner, Seat, SeatHolder, SeatUsage
from ltigate.services.seats import MAX_IDLE_DAYS


class SeatUsageOut(BaseModel):
    platform_id: str
    seats_licensed: int = Field(description="0 = unlimited")
    used: int
    remaining: int | None = Field(description="Seats free for new learners; null when unlimited")

    @classmethod
    def of(cls, usage: SeatUsage) -> SeatUsageOut:
        return cls(
            platform_id=usage.platform_id,
            seats_licensed=usage.seats_licensed,
            used=usage.used,
            remaining=usage.remaining,
        )


class LearnerOut(BaseModel):
    id: str = Field(description="The stable ltigate user id (the ticket's `user_id`)")
    platform_id: str
    sub: str = Field(description="The user id the LMS sends (OIDC `sub`)")
    email: str | None
    given_name: str | None
    family_name: str | None
    name: str | None
    picture: str | None
    lti11_user_id: str | None = Field(description="The LTI 1.1 user id, from the migration claim")
    created_at: float
    updated_at: float = Field(description="When a detail last changed")
    last_launch_at: float | None

    @classmethod
    def of(cls, learner: Learner) -> LearnerOut:
        return cls(
            id=learner.id,
            platform_id=learner.platform_id,
            sub=learner.sub,
            email=learner.email,
            given_name=learner.given_name,
            family_name=learner.family_name,
            name=learner.name,
            picture=learner.picture,
            lti11_user_id=learner.lti11_user_id,
            created_at=learner.created_at,
            updated_at=learner.updated_at,
            last_launch_at=learner.last_launch_at,
        )


class HeldSeatOut(BaseModel):
    allocated_at: float
    last_used_at: float | None


class LearnerDetailOut(LearnerOut):
    seat: HeldSeatOut | None = Field(description="The learner's seat on the platform; null when they hold none")

    @classmethod
    def detail(cls, learner: Learner, seat: Seat | None) -> LearnerDetailOut:
        held = None if seat is None else HeldSeatOut(allocated_at=seat.allocated_at, last_used_at=seat.last_used_at)
        return cls(**LearnerOut.of(learner).model_dump(), seat=held)


class SeatOut(BaseModel):
    learner_id: str
    sub: str
    name: str | None
    email: str | None
    allocated_at: float
    last_used_at: float | None = Field(description="The learner's latest launch on the platform")

    @classmethod
    def of(cls, holder: SeatHolder) -> SeatOut:
        learner = holder.learner
        return cls(
            learner_id=learner.id,
            sub=learner.sub,
            name=learner.name or " ".join(n for n in (learner.given_name, learner.family_name) if n) or None,
            email=learner.email,
            allocated_at=holder.seat.allocated_at,
            last_used_at=holder.seat.last_used_at,
        )


class SeatsOut(BaseModel):
    usage: SeatUsageOut
    seats: list[SeatOut] = Field(description="Oldest allocation first")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last page")


class ReleaseIdleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(ge=1, le=MAX_IDLE_DAYS, description="Release seats of learners with no launch for this long")


class ReleasedOut(BaseModel):
    released: int
    usage: SeatUsageOut

"""Request and response bodies of the grades, deliveries, rosters and line items API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ltigate.services.records import ContextRecord, RosterEntry, ScoreJob

ActivityProgress = Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"]
GradingProgress = Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"]


class ScoreIn(BaseModel):
    """A score in AGS terms (AGS §3.4); the gateway adds userId and timestamp."""

    model_config = ConfigDict(extra="forbid")
    scoreGiven: float | None = Field(default=None, ge=0)
    scoreMaximum: float | None = Field(default=None, gt=0)
    activityProgress: ActivityProgress
    gradingProgress: GradingProgress
    comment: str | None = Field(default=None, max_length=10_000)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["completed", "timeout", "disconnected"]


class DeliveryOut(BaseModel):
    id: str
    launch_id: str
    platform_id: str
    user_id: str
    status: Literal["pending", "delivered", "failed", "skipped"]
    attempts: int
    next_attempt_at: float | None = Field(description="When the next attempt is due (pending only)")
    created_at: float
    delivered_at: float | None
    last_error: str | None
    last_status: int | None
    lineitem_url: str | None
    score: dict[str, object]

    @classmethod
    def of(cls, job: ScoreJob) -> DeliveryOut:
        s = job.score
        return cls(
            id=job.id,
            launch_id=job.launch_id,
            platform_id=job.platform_id,
            user_id=job.user_id,
            status=job.status.value,
            attempts=job.attempts,
            next_attempt_at=job.next_attempt_at if job.status.value == "pending" else None,
            created_at=job.created_at,
            delivered_at=job.delivered_at,
            last_error=job.last_error,
            last_status=job.last_status,
            lineitem_url=job.target.lineitem_url,
            score={
                "scoreGiven": s.score_given,
                "scoreMaximum": s.score_maximum,
                "activityProgress": s.activity_progress,
                "gradingProgress": s.grading_progress,
                "comment": s.comment,
                "timestamp": s.timestamp,
            },
        )


class LaunchDeliveryOut(BaseModel):
    launch_id: str
    status: Literal["none", "pending", "delivered", "failed", "skipped"]
    delivery: DeliveryOut | None


class ContextOut(BaseModel):
    key: str
    platform_id: str
    context_id: str
    title: str | None
    label: str | None
    has_roster_service: bool
    synced_at: float | None
    member_count: int

    @classmethod
    def of(cls, c: ContextRecord) -> ContextOut:
        return cls(
            key=c.id,
            platform_id=c.platform_id,
            context_id=c.context_id,
            title=c.title,
            label=c.label,
            has_roster_service=bool(c.memberships_url),
            synced_at=c.synced_at,
            member_count=c.member_count,
        )


class MemberOut(BaseModel):
    user_id: str
    status: str
    roles: list[str]
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    picture: str | None
    lis_person_sourcedid: str | None
    lti11_legacy_user_id: str | None
    last_launch_id: str | None = None
    last_launch_at: float | None = None
    delivery: Literal["pending", "delivered", "failed", "skipped"] | None = None

    @classmethod
    def of(cls, entry: RosterEntry) -> MemberOut:
        m = entry.member
        return cls(
            user_id=m.user_id,
            status=m.status,
            roles=list(m.roles),
            name=m.name,
            given_name=m.given_name,
            family_name=m.family_name,
            email=m.email,
            picture=m.picture,
            lis_person_sourcedid=m.lis_person_sourcedid,
            lti11_legacy_user_id=m.lti11_legacy_user_id,
            last_launch_id=entry.last_launch_id,
            last_launch_at=entry.last_launch_at,
            delivery=entry.delivery.value if entry.delivery else None,
        )


class LineItemIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    label: str = Field(min_length=1, max_length=1000)
    scoreMaximum: float = Field(gt=0)
    resourceId: str | None = None
    tag: str | None = None
    resourceLinkId: str | None = None
    startDateTime: str | None = None
    endDateTime: str | None = None


class LineItemPatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    label: str | None = Field(default=None, min_length=1, max_length=1000)
    scoreMaximum: float | None = Field(default=None, gt=0)
    resourceId: str | None = None
    tag: str | None = None
    startDateTime: str | None = None
    endDateTime: str | None = None

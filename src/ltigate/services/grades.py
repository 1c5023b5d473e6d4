"""Grades from the app to the gradebook (design.md "Grades"; AGS §3.4): scores and session outcomes
become score jobs in the outbox, written by the request that creates them and delivered by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltigate.lti import ags
from ltigate.lti.message import LtiMessage
from ltigate.services.errors import Conflict, InvalidField, NotFound
from ltigate.services.ids import new_id
from ltigate.services.launches import Launches
from ltigate.services.ports import Clock, PlatformStore, ResourceStore, ScoreOutbox
from ltigate.services.records import (
    DEFAULT_OUTCOME_RULES,
    OUTCOMES,
    DeliveryStatus,
    JobFilter,
    Score,
    ScoreJob,
    ScoreTarget,
)
from ltigate.services.wakeup import Wakeup


@dataclass(frozen=True, slots=True)
class ScoreInput:
    """A score as the app posts it (AGS names)."""

    activity_progress: str
    grading_progress: str
    score_given: float | None = None
    score_maximum: float | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchDelivery:
    """The grade delivery state of one launch: `none` when the launch offered no grade service."""

    launch_id: str
    status: str  # none | pending | delivered | failed | skipped
    job: ScoreJob | None


class Grades:
    def __init__(
        self,
        launches: Launches,
        platforms: PlatformStore,
        resources: ResourceStore,
        outbox: ScoreOutbox,
        clock: Clock,
        wakeup: Wakeup,
    ) -> None:
        self._launches, self._platforms, self._resources = launches, platforms, resources
        self._outbox, self._clock, self._wakeup = outbox, clock, wakeup
        self._last_timestamp = 0.0

    async def submit(self, launch_id: str, score: ScoreInput) -> ScoreJob:
        """Queue a score for the launch's user. Raises NotFound, Conflict (no grade service, grade
        passback off, anonymous launch) or ScoreInvalid (lti.errors) for a malformed score."""
        detail = await self._launches.get(launch_id)
        message = detail.message
        if message is None:
            raise Conflict(f"launch '{launch_id}' did not succeed; only successful launches can be graded")
        platform = await self._platforms.get(detail.record.platform_id or "")
        if platform is None:
            raise NotFound(f"the platform of launch '{launch_id}' no longer exists")
        if not platform.fields.grade_passback:
            raise Conflict(f"grade passback is switched off for platform '{platform.fields.name}'")
        target = await self._target(message, detail.record.resource_slug)
        user_id = message.user.sub
        if user_id is None:
            raise Conflict("the launch is anonymous (no 'sub'); there is no gradebook entry to write")
        now = self._clock()
        timestamp = self._timestamp(now)
        # Validates the vocabularies and numbers exactly as the body will be sent.
        ags.score_body(
            user_id=user_id,
            timestamp=timestamp,
            activity_progress=score.activity_progress,
            grading_progress=score.grading_progress,
            score_given=score.score_given,
            score_maximum=score.score_maximum,
            comment=score.comment,
        )
        job = ScoreJob(
            id=new_id(),
            launch_id=launch_id,
            platform_id=platform.id,
            user_id=user_id,
            score=Score(
                activity_progress=score.activity_progress,
                grading_progress=score.grading_progress,
                timestamp=timestamp,
                score_given=score.score_given,
                score_maximum=score.score_maximum,
                comment=score.comment,
            ),
            target=target,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        await self._outbox.enqueue(job)
        self._wakeup.notify()
        return job

    async def report_outcome(self, launch_id: str, outcome: str) -> ScoreJob:
        """Apply the platform's outcome table (completed / timeout / disconnected) and queue the score."""
        if outcome not in OUTCOMES:
            raise InvalidField(f"outcome '{outcome[:40]}' is not one of {', '.join(OUTCOMES)}", "outcome")
        detail = await self._launches.get(launch_id)
        platform = await self._platforms.get(detail.record.platform_id or "")
        rules = (platform.fields.outcome_rules if platform else ()) or DEFAULT_OUTCOME_RULES
        rule = next((r for r in rules if r.outcome == outcome), None) or next(
            r for r in DEFAULT_OUTCOME_RULES if r.outcome == outcome
        )
        return await self.submit(
            launch_id,
            ScoreInput(
                activity_progress=rule.activity_progress,
                grading_progress=rule.grading_progress,
                score_given=rule.score_given,
                score_maximum=rule.score_maximum,
            ),
        )

    async def delivery(self, launch_id: str) -> LaunchDelivery:
        detail = await self._launches.get(launch_id)
        job = (await self._outbox.latest_by_launch([launch_id])).get(launch_id)
        if job is None:
            return LaunchDelivery(launch_id=launch_id, status="none", job=None)
        return LaunchDelivery(launch_id=detail.record.id, status=job.status.value, job=job)

    async def deliveries(self, query: JobFilter) -> list[ScoreJob]:
        return await self._outbox.list(query)

    async def get(self, job_id: str) -> ScoreJob:
        job = await self._outbox.get(job_id)
        if job is None:
            raise NotFound(f"delivery '{job_id[:64]}' does not exist")
        return job

    async def retry(self, job_id: str) -> ScoreJob:
        job = await self._outbox.retry(job_id, self._clock())
        if job is None:
            raise NotFound(f"delivery '{job_id[:64]}' does not exist")
        self._wakeup.notify()
        return job

    async def _target(self, message: LtiMessage, slug: str | None) -> ScoreTarget:
        service = message.ags
        if service is None or ags.SCOPE_SCORE not in service.scopes:
            raise Conflict("the launch offered no grade service (AGS with the score scope)")
        if service.lineitem is None and service.lineitems is None:
            raise Conflict("the launch offered neither a line item nor a line items container")
        resource = await self._resources.get(slug) if slug else None
        return ScoreTarget(
            lineitem_url=service.lineitem,
            lineitems_url=service.lineitems,
            resource_link_id=message.resource_link.id if message.resource_link else None,
            resource_id=slug,
            label=resource.fields.title if resource else None,
            score_maximum=resource.fields.score_maximum if resource else None,
            deployment_id=message.deployment_id,
        )

    def _timestamp(self, now: float) -> str:
        # AGS wants strictly increasing timestamps per line item and user; never reuse a millisecond.
        stamp = max(now, self._last_timestamp + 0.001)
        self._last_timestamp = stamp
        return ags.format_timestamp(stamp)

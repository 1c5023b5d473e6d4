"""Delivering one score job (AGS §3.4; design.md "Grades"): resolve the line item, optionally leave a
grade an instructor changed by hand, post the score with a fresh token, and let the pure classifier in
lti/ decide delivered / retry later / give up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ltigate.lti import ags
from ltigate.lti.delivery import Attempt, RetryPolicy, classify
from ltigate.lti.errors import LtiError, TokenRequestRejected
from ltigate.services.errors import ServiceError
from ltigate.services.line_items import LineItems
from ltigate.services.ports import Clock, HttpTransportError, PlatformStore, ScoreOutbox
from ltigate.services.records import DeliveryStatus, JobResult, Platform, ScoreJob
from ltigate.services.service_calls import PlatformServiceError, ServiceCalls

SCORE_SCOPES = (ags.SCOPE_SCORE,)


class ScoreDelivery:
    def __init__(
        self,
        platforms: PlatformStore,
        calls: ServiceCalls,
        line_items: LineItems,
        outbox: ScoreOutbox,
        clock: Clock,
        policy: RetryPolicy,
        jitter: Callable[[], float],
    ) -> None:
        self._platforms, self._calls, self._line_items, self._outbox = platforms, calls, line_items, outbox
        self._clock, self._policy, self._jitter = clock, policy, jitter

    async def platforms(self, platform_ids: Iterable[str]) -> dict[str, Platform | None]:
        """Each distinct platform once (None when removed): the worker looks them up per claimed batch."""
        return {platform_id: await self._platforms.get(platform_id) for platform_id in dict.fromkeys(platform_ids)}

    async def deliver(self, job: ScoreJob) -> JobResult:
        """One attempt; never raises for platform behaviour — every outcome is a JobResult."""
        return await self.deliver_to(job, await self._platforms.get(job.platform_id))

    async def deliver_to(self, job: ScoreJob, platform: Platform | None) -> JobResult:
        """`deliver` with the job's platform as just looked up (None: removed)."""
        if platform is None or not platform.active or not platform.fields.grade_passback:
            reason = (
                "the platform was removed"
                if platform is None
                else ("the platform is deactivated" if not platform.active else "grade passback is switched off")
            )
            return JobResult(status=DeliveryStatus.FAILED, error=reason)
        deployment_id = job.target.deployment_id
        lineitem_url = job.target.lineitem_url
        try:
            if lineitem_url is None:
                lineitem_url = await self._line_items.find_or_create(platform, deployment_id, job.target)
            if platform.fields.preserve_manual_grades and await self._changed_in_lms(platform, job, lineitem_url):
                return JobResult(
                    status=DeliveryStatus.SKIPPED,
                    lineitem_url=lineitem_url,
                    error="the grade in the LMS was changed by hand since ltigate's last score; not overwritten",
                )
            body = ags.score_body(
                user_id=job.user_id,
                timestamp=job.score.timestamp,
                activity_progress=job.score.activity_progress,
                grading_progress=job.score.grading_progress,
                score_given=job.score.score_given,
                score_maximum=job.score.score_maximum,
                comment=job.score.comment,
            )
            response = await self._calls.call(
                platform,
                deployment_id,
                SCORE_SCOPES,
                "POST",
                ags.service_url(lineitem_url, "/scores"),
                content_type=ags.SCORE,
                body=json.dumps(body).encode(),
            )
        except HttpTransportError as error:
            return self._decide(job, None, getattr(error, "kind", "unreachable"), None, str(error), lineitem_url)
        except TokenRequestRejected as error:
            status = error.response_status
            if status is not None and (status >= 500 or status in (408, 429)):
                # The token endpoint is down or busy: a passing fault, retried like a failed score post.
                return self._decide(job, status, None, None, error.message, lineitem_url)
            return JobResult(
                status=DeliveryStatus.FAILED, error=f"{error.code}: {error.message}", lineitem_url=lineitem_url
            )
        except PlatformServiceError as error:
            return self._decide(job, error.http_status, None, None, error.message, lineitem_url)
        except (LtiError, ServiceError) as error:
            # Token endpoint refusals (invalid_client, invalid_scope) and unusable answers need an administrator.
            return JobResult(
                status=DeliveryStatus.FAILED, error=f"{error.code}: {error.message}", lineitem_url=lineitem_url
            )
        snippet = " ".join(response.body[:200].decode("utf-8", "replace").split())
        return self._decide(job, response.status, None, response.headers.get("retry-after"), snippet, lineitem_url)

    def _decide(
        self,
        job: ScoreJob,
        status: int | None,
        transport: str | None,
        retry_after: str | None,
        detail: str,
        lineitem_url: str | None,
    ) -> JobResult:
        now = self._clock()
        decision = classify(
            Attempt(
                status=status,
                transport_error=transport,
                retry_after=retry_after,
                attempts=job.attempts + 1,
                age=now - job.created_at,
                now=now,
                jitter=self._jitter(),
                policy=self._policy,
            )
        )
        reason = f"{decision.reason}: {detail}"[:1000] if decision.reason and detail else decision.reason
        if decision.kind == "delivered":
            return JobResult(status=DeliveryStatus.DELIVERED, http_status=status, lineitem_url=lineitem_url)
        if decision.kind == "retry":
            return JobResult(
                status=DeliveryStatus.PENDING,
                next_attempt_at=decision.retry_at,
                error=reason,
                http_status=status,
                lineitem_url=lineitem_url,
            )
        return JobResult(status=DeliveryStatus.FAILED, error=reason, http_status=status, lineitem_url=lineitem_url)

    async def _changed_in_lms(self, platform: Platform, job: ScoreJob, lineitem_url: str) -> bool:
        previous = await self._outbox.last_delivered(platform.id, job.user_id, lineitem_url)
        if previous is None or previous.score.score_given is None:
            return False
        results = await self._line_items.results(platform, job.target.deployment_id, lineitem_url, user_id=job.user_id)
        mine = next((r for r in results if r.user_id == job.user_id), None)
        if mine is None or mine.result_score is None:
            return False
        sent_max = previous.score.score_maximum or 1.0
        lms_max = mine.result_maximum or 1.0
        return abs(mine.result_score / lms_max - previous.score.score_given / sent_max) > 1e-6

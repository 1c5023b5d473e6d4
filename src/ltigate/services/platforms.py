"""Platform registrations: create, update, deactivate, and decide on their deployments."""

from __future__ import annotations

import uuid

from ltigate.lti import ags
from ltigate.lti.errors import ScoreInvalid
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.ports import Clock, PlatformStore
from ltigate.services.records import (
    OUTCOMES,
    Deployment,
    DeploymentStatus,
    OutcomeRule,
    Platform,
    PlatformFields,
    RegisteredVia,
)
from ltigate.services.validation import check_issuer, check_text, check_url


def check_platform_fields(fields: PlatformFields) -> PlatformFields:
    """Validate and normalise; raises InvalidField naming the field. The licence note is never checked."""
    if fields.seats < 0:
        raise InvalidField(f"seats is {fields.seats}; use 0 for unlimited or a positive number", "seats")
    deployment_ids = tuple(dict.fromkeys(check_text(d, "deployment_ids") for d in fields.deployment_ids))
    return PlatformFields(
        name=check_text(fields.name, "name"),
        issuer=check_issuer(fields.issuer),
        client_id=check_text(fields.client_id, "client_id"),
        auth_url=check_url(fields.auth_url, "auth_url"),
        token_url=check_url(fields.token_url, "token_url"),
        jwks_url=check_url(fields.jwks_url, "jwks_url"),
        deployment_ids=deployment_ids,
        seats=fields.seats,
        grade_passback=fields.grade_passback,
        licence_note=fields.licence_note,
        deployment_policy=fields.deployment_policy,
        token_audience=check_text(fields.token_audience, "token_audience") if fields.token_audience else None,
        send_deployment_id=fields.send_deployment_id,
        preserve_manual_grades=fields.preserve_manual_grades,
        outcome_rules=check_outcome_rules(fields.outcome_rules),
    )


def check_outcome_rules(rules: tuple[OutcomeRule, ...]) -> tuple[OutcomeRule, ...]:
    """At most one rule per outcome, each making a score the platform would accept (AGS: progress values
    from its vocabularies, scoreGiven a finite number ≥ 0 that comes with scoreMaximum, a finite number
    > 0): a rule that cannot be sent is refused when it is saved, not when an app reports that outcome."""
    seen: set[str] = set()
    for rule in rules:
        if rule.outcome not in OUTCOMES:
            raise InvalidField(f"outcome '{rule.outcome[:40]}' is not one of {', '.join(OUTCOMES)}", "outcome_rules")
        if rule.outcome in seen:
            raise InvalidField(
                f"outcome '{rule.outcome}' has more than one rule; give one per outcome", "outcome_rules"
            )
        seen.add(rule.outcome)
        try:
            ags.score_body(
                user_id="rule-check",
                timestamp="2026-01-01T00:00:00+00:00",
                activity_progress=rule.activity_progress,
                grading_progress=rule.grading_progress,
                score_given=rule.score_given,
                score_maximum=rule.score_maximum,
            )
        except ScoreInvalid as error:
            raise InvalidField(f"the '{rule.outcome}' rule: {error.message}", "outcome_rules") from None
    return rules


class Platforms:
    def __init__(self, store: PlatformStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def create(
        self,
        fields: PlatformFields,
        *,
        awaiting_approval: bool = False,
        registered_via: RegisteredVia = RegisteredVia.MANUAL,
        product_family_code: str | None = None,
    ) -> Platform:
        """Raises InvalidField, Conflict."""
        return await self._store.create(
            uuid.uuid4().hex,
            check_platform_fields(fields),
            self._clock(),
            awaiting_approval=awaiting_approval,
            registered_via=registered_via,
            product_family_code=product_family_code,
        )

    async def approve(self, platform_id: str) -> Platform:
        """Approve a platform that registered itself: its launches are accepted from now on. Raises NotFound."""
        await self.get(platform_id)
        return await self._store.approve(platform_id, self._clock())

    async def update(self, platform_id: str, fields: PlatformFields) -> Platform:
        return await self._store.update(platform_id, check_platform_fields(fields), self._clock())

    async def get(self, platform_id: str) -> Platform:
        platform = await self._store.get(platform_id)
        if platform is None:
            raise NotFound(f"platform '{platform_id}' does not exist")
        return platform

    async def list(self) -> list[Platform]:
        return await self._store.list()

    async def set_active(self, platform_id: str, active: bool) -> Platform:
        await self.get(platform_id)
        return await self._store.set_active(platform_id, active, self._clock())

    async def decide_deployment(self, platform_id: str, deployment_id: str, status: DeploymentStatus) -> Deployment:
        """Approve or reject a deployment (pending ones come from launches)."""
        platform = await self.get(platform_id)
        if platform.deployment(deployment_id) is None and status is not DeploymentStatus.APPROVED:
            raise NotFound(f"deployment '{deployment_id}' is not known on platform '{platform.fields.name}'")
        return await self._store.put_deployment(platform_id, deployment_id, status, self._clock(), only_if_new=False)

    async def remove_deployment(self, platform_id: str, deployment_id: str) -> None:
        if not await self._store.delete_deployment(platform_id, deployment_id):
            raise NotFound(f"deployment '{deployment_id}' is not known on platform '{platform_id}'")

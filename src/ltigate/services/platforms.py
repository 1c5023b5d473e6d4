"""Platform registrations: create, update, deactivate, and decide on their deployments."""

from __future__ import annotations

import uuid

from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.ports import Clock, PlatformStore
from ltigate.services.records import Deployment, DeploymentStatus, Platform, PlatformFields, RegisteredVia
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
        outcome_rules=fields.outcome_rules,
    )


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

"""The seams between use cases and adapters: storage, key sets, the clock."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Protocol

from ltigate.lti.keys import PublicKey
from ltigate.services.records import (
    ApiKey,
    ConsumedState,
    Deployment,
    DeploymentStatus,
    KeyPurpose,
    KeyState,
    LaunchFilter,
    LaunchRecord,
    LoginState,
    Platform,
    PlatformFields,
    Resource,
    ResourceFields,
    ToolKey,
)

Clock = Callable[[], float]


class PlatformStore(Protocol):
    async def create(self, platform_id: str, fields: PlatformFields, now: float) -> Platform:
        """Raises Conflict when (issuer, client_id) is taken."""

    async def update(self, platform_id: str, fields: PlatformFields, now: float) -> Platform:
        """Replace the fields; deployment ids in `fields` are added as approved. Raises Conflict, NotFound."""

    async def set_active(self, platform_id: str, active: bool, now: float) -> Platform: ...

    async def get(self, platform_id: str) -> Platform | None: ...

    async def list(self) -> builtins.list[Platform]: ...

    async def find_by_issuer(self, issuer: str) -> builtins.list[Platform]: ...

    async def put_deployment(
        self, platform_id: str, deployment_id: str, status: DeploymentStatus, now: float, *, only_if_new: bool
    ) -> Deployment:
        """Add a deployment (or change its status); with only_if_new an existing one is returned unchanged."""

    async def delete_deployment(self, platform_id: str, deployment_id: str) -> bool: ...


class ResourceStore(Protocol):
    async def create(self, resource_id: str, fields: ResourceFields, now: float) -> Resource:
        """Raises Conflict when the slug is taken."""

    async def update(self, slug: str, fields: ResourceFields, now: float) -> Resource: ...

    async def get(self, slug: str) -> Resource | None: ...

    async def list(self) -> builtins.list[Resource]: ...

    async def delete(self, slug: str) -> bool: ...


class StateStore(Protocol):
    async def put(self, state: LoginState) -> None: ...

    async def consume(self, state_hash: str, now: float) -> ConsumedState | None:
        """Mark the state used, atomically; None when unknown or purged."""

    async def purge(self, now: float, keep_consumed_for: float) -> int:
        """Delete states expired (and consumed ones older than `keep_consumed_for`)."""


class LaunchLog(Protocol):
    async def record(self, launch: LaunchRecord) -> None: ...

    async def get(self, launch_id: str) -> LaunchRecord | None: ...

    async def list(self, query: LaunchFilter) -> builtins.list[LaunchRecord]: ...

    async def redeem_ticket(self, launch_id: str, jti: str, now: float) -> bool:
        """Mark the ticket redeemed; False when the jti does not match or was redeemed before."""


class KeyStore(Protocol):
    async def add(self, key: ToolKey) -> None: ...

    async def list(self, purpose: KeyPurpose) -> builtins.list[ToolKey]: ...

    async def set_state(self, kid: str, state: KeyState, at: float, retire_at: float | None = None) -> None: ...

    async def drop_retired(self, now: float) -> int: ...


class ApiKeyStore(Protocol):
    async def create(self, key: ApiKey, secret_hash: str) -> None: ...

    async def find(self, secret_hash: str) -> ApiKey | None: ...

    async def touch(self, key_id: str, now: float) -> None: ...

    async def list(self) -> builtins.list[ApiKey]: ...

    async def revoke(self, key_id: str, now: float) -> bool: ...


class KeyProvider(Protocol):
    async def key(self, jwks_url: str, kid: str) -> PublicKey:
        """The platform's verification key `kid`; raises KidNotFound, KeySetUnavailable, KeySetInvalid."""

"""The records the use cases read and write through the ports: frozen values, no behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class DeploymentPolicy(str, Enum):
    """What a launch from a deployment id not yet on the platform does."""

    REJECT = "reject"
    PENDING = "pending"
    APPROVE = "approve"


class DeploymentStatus(str, Enum):
    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Deployment:
    deployment_id: str
    status: DeploymentStatus
    created_at: float


@dataclass(frozen=True, slots=True)
class PlatformFields:
    """What an administrator gives for a platform; validated by services.platforms."""

    name: str
    issuer: str
    client_id: str
    auth_url: str
    token_url: str
    jwks_url: str
    deployment_ids: tuple[str, ...] = ()
    seats: int = 0
    grade_passback: bool = True
    licence_note: str = ""
    deployment_policy: DeploymentPolicy = DeploymentPolicy.PENDING
    token_audience: str | None = None


@dataclass(frozen=True, slots=True)
class Platform:
    id: str
    fields: PlatformFields
    active: bool
    created_at: float
    updated_at: float
    deployments: tuple[Deployment, ...] = ()

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)


@dataclass(frozen=True, slots=True)
class ResourceFields:
    slug: str
    title: str
    app_url: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    fields: ResourceFields
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class LoginState:
    """A login in progress: stored under the SHA-256 of the state value, never the value itself."""

    state_hash: str
    nonce: str
    platform_id: str
    target_link_uri: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ConsumedState:
    state: LoginState
    first_use: bool  # False: the state was consumed before (a replayed launch)


class LaunchOutcome(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LaunchRecord:
    """One entry of the launch log: every attempt, good or bad."""

    id: str
    created_at: float
    outcome: LaunchOutcome
    error_code: str | None = None
    error_message: str | None = None
    platform_id: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    deployment_id: str | None = None
    message_type: str | None = None
    sub: str | None = None
    user_name: str | None = None
    context_id: str | None = None
    resource_link_id: str | None = None
    resource_slug: str | None = None
    claims: Mapping[str, object] | None = field(default=None, repr=False)
    ticket_jti: str | None = None
    ticket_redeemed_at: float | None = None


@dataclass(frozen=True, slots=True)
class LaunchFilter:
    outcome: LaunchOutcome | None = None
    platform_id: str | None = None
    error_code: str | None = None
    sub: str | None = None
    limit: int = 50
    before: float | None = None


class KeyState(str, Enum):
    NEXT = "next"  # published, not yet signing
    ACTIVE = "active"  # published and signing
    RETIRED = "retired"  # published until `retire_at`, then dropped from the key set


class KeyPurpose(str, Enum):
    LTI = "lti"  # RS256: client assertions, deep-linking responses, platform-role id_tokens
    TICKET = "ticket"  # ES256: handoff tickets to the app


@dataclass(frozen=True, slots=True)
class ToolKey:
    kid: str
    purpose: KeyPurpose
    alg: str
    state: KeyState
    public_jwk: Mapping[str, str]
    sealed_private_key: bytes = field(repr=False)
    created_at: float
    activated_at: float | None = None
    retire_at: float | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

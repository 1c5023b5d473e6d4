"""The records the use cases read and write through the ports: frozen values, no behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final


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
    send_deployment_id: bool = False  # put the deployment_id claim in client assertions (LTI Core §6.2.1)
    preserve_manual_grades: bool = False  # read the result first; skip a score an instructor changed
    outcome_rules: tuple[OutcomeRule, ...] = ()  # empty: DEFAULT_OUTCOME_RULES


OUTCOMES: Final = ("completed", "timeout", "disconnected")  # what an app may report of a session


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """How a session outcome the app reports becomes a score (None: no scoreGiven)."""

    outcome: str  # completed | timeout | disconnected
    activity_progress: str
    grading_progress: str
    score_given: float | None = None
    score_maximum: float | None = None


DEFAULT_OUTCOME_RULES: tuple[OutcomeRule, ...] = (
    OutcomeRule("completed", "Completed", "FullyGraded", 1.0, 1.0),
    OutcomeRule("timeout", "Completed", "FullyGraded", 1.0, 1.0),
    OutcomeRule("disconnected", "InProgress", "NotReady"),
)


@dataclass(frozen=True, slots=True)
class Platform:
    id: str
    fields: PlatformFields
    active: bool
    created_at: float
    updated_at: float
    deployments: tuple[Deployment, ...] = ()
    seats_used: int = 0  # seats held by learners; may exceed fields.seats after the cap was lowered
    awaiting_approval: bool = False  # registered itself (Dynamic Registration); launches refused until approved
    registered_via: RegisteredVia = field(default_factory=lambda: RegisteredVia.MANUAL)
    product_family_code: str | None = None  # as the platform announced it in Dynamic Registration

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)


@dataclass(frozen=True, slots=True)
class ResourceFields:
    slug: str
    title: str
    app_url: str
    description: str = ""
    score_maximum: float | None = None  # graded resources: the line item's maximum
    picker: bool = False  # deep-linking launches go to the app, which answers with its own catalogue
    review_url: str | None = None  # Submission Review opens this; None: the app URL with review=1
    custom: Mapping[str, str] = field(default_factory=dict)  # custom parameters of deep-linked items
    tag: str | None = None  # the line item tag of deep-linked graded items


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    fields: ResourceFields
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class DeepLinkSession:
    """A deep-linking request waiting for its one response (from the picker page or the app's API)."""

    launch_id: str
    platform_id: str
    deployment_id: str
    resource_slug: str | None  # the picker resource the launch was handed to; None: ltigate's picker page
    settings: Mapping[str, object]  # the deep_linking_settings claim
    token_hash: str  # SHA-256 of the picker form's secret
    created_at: float
    expires_at: float
    answered_at: float | None = None


@dataclass(frozen=True, slots=True)
class LoginState:
    """A login in progress: stored under the SHA-256 of the state value, never the value itself."""

    state_hash: str
    nonce: str
    platform_id: str
    target_link_uri: str
    expires_at: float
    storage_target: str | None = None  # the login's lti_storage_target: state and nonce also in platform storage


@dataclass(frozen=True, slots=True)
class ConsumedState:
    state: LoginState
    first_use: bool  # False: the state was consumed before (a replayed launch); from `peek`: not yet consumed


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
    learner_id: str | None = None  # the learner account of the launch's user (none for anonymous launches)


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


# --- grades (AGS) and rosters (NRPS) ----------------------------------------------------------


class DeliveryStatus(str, Enum):
    """Where a score job stands; a launch without a grade service shows `none` (no job)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"  # not sent: an instructor changed the grade in the LMS (preserve manual grades)


@dataclass(frozen=True, slots=True)
class Score:
    """The fields of an AGS score (AGS §3.4; lti-reference §4.5) as the app gave them."""

    activity_progress: str
    grading_progress: str
    timestamp: str  # ISO 8601 with milliseconds and zone, fixed when the score is submitted
    score_given: float | None = None
    score_maximum: float | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreTarget:
    """Where a score goes: the launch's line item, or the container in which to find or create one."""

    lineitem_url: str | None
    lineitems_url: str | None
    resource_link_id: str | None
    resource_id: str | None  # the resource slug, used as the line item's resourceId
    label: str | None
    score_maximum: float | None  # the resource's maximum, for a line item ltigate creates
    deployment_id: str | None = None  # the launch's deployment, for the client assertion


@dataclass(frozen=True, slots=True)
class ScoreJob:
    id: str
    launch_id: str
    platform_id: str
    user_id: str
    score: Score
    target: ScoreTarget
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    delivered_at: float | None = None
    last_error: str | None = None
    last_status: int | None = None
    lease_owner: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a delivery attempt decided (from the pure classifier in lti/)."""

    status: DeliveryStatus  # DELIVERED, PENDING (retry at next_attempt_at), FAILED or SKIPPED
    next_attempt_at: float | None = None
    error: str | None = None
    http_status: int | None = None
    lineitem_url: str | None = None  # resolved line item, kept so a retry does not search again


@dataclass(frozen=True, slots=True)
class ServiceToken:
    access_token: str = field(repr=False)
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """A course (LTI context) seen in launches on one platform."""

    id: str
    platform_id: str
    context_id: str
    title: str | None
    label: str | None
    memberships_url: str | None
    synced_at: float | None
    member_count: int
    deployment_id: str | None = None  # of the latest launch, for the client assertion


@dataclass(frozen=True, slots=True)
class Member:
    """One NRPS membership (NRPS §2.3; lti-reference §5)."""

    user_id: str
    roles: tuple[str, ...]
    status: str = "Active"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    picture: str | None = None
    lis_person_sourcedid: str | None = None
    lti11_legacy_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A member with their latest launch in the context and that launch's grade delivery."""

    member: Member
    last_launch_id: str | None
    last_launch_at: float | None
    delivery: DeliveryStatus | None


@dataclass(frozen=True, slots=True)
class JobFilter:
    status: DeliveryStatus | None = None
    platform_id: str | None = None
    launch_id: str | None = None
    limit: int = 50


# --- learner accounts and seats -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearnerProfile:
    """What a launch says about its user: the identity (`sub`, per platform) and the details to keep."""

    sub: str
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = None
    picture: str | None = None
    lti11_user_id: str | None = None  # from the LTI 1.1 migration claim


@dataclass(frozen=True, slots=True)
class Learner:
    """A user account on one platform; `id` is the stable ltigate user id handed to the app."""

    id: str
    platform_id: str
    sub: str
    email: str | None
    given_name: str | None
    family_name: str | None
    name: str | None
    picture: str | None
    lti11_user_id: str | None
    created_at: float
    updated_at: float  # when a detail last changed
    last_launch_at: float | None


@dataclass(frozen=True, slots=True)
class LearnerVisit:
    """A launch's learner, found or created, and whether they hold a seat on the platform."""

    learner: Learner
    seated: bool


@dataclass(frozen=True, slots=True)
class LearnerFilter:
    platform_id: str | None = None
    q: str | None = None  # a case-insensitive part of the name, email or sub
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Seat:
    platform_id: str
    learner_id: str
    allocated_at: float
    last_used_at: float | None  # the learner's latest launch on the platform


@dataclass(frozen=True, slots=True)
class SeatHolder:
    seat: Seat
    learner: Learner


@dataclass(frozen=True, slots=True)
class SeatUsage:
    platform_id: str
    seats_licensed: int  # 0: unlimited
    used: int
    remaining: int | None  # None: unlimited; 0 also when the cap was lowered below `used`


# --- Dynamic Registration ----------------------------------------------------------------------


class RegisteredVia(str, Enum):
    MANUAL = "manual"  # an administrator entered it (console, CLI, API)
    DYNAMIC = "dynamic"  # the platform registered ltigate through Dynamic Registration


@dataclass(frozen=True, slots=True)
class RegistrationLink:
    """A one-time Dynamic Registration link; the secret itself is stored only as its SHA-256."""

    id: str
    note: str
    created_at: float
    expires_at: float
    used_at: float | None = None
    revoked_at: float | None = None
    platform_id: str | None = None  # the platform registered with it

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= now else "usable"


class AttemptOutcome(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RegistrationAttempt:
    """One Dynamic Registration attempt, kept for administrators: what happened, with its stable code."""

    id: str
    created_at: float
    outcome: AttemptOutcome
    stage: str  # "prepare" (the confirmation page) or "register"
    error_code: str | None = None
    error_message: str | None = None
    configuration_url: str | None = None  # without query: it may carry a token
    issuer: str | None = None
    client_id: str | None = None
    product_family_code: str | None = None
    platform_id: str | None = None
    link_id: str | None = None

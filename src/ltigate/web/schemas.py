"""The REST API's request and response bodies (also its OpenAPI schema)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from ltigate.lti.deep_linking import parse_settings
from ltigate.lti.errors import LtiError
from ltigate.lti.message import LtiMessage
from ltigate.services.launches import LaunchDetail
from ltigate.services.records import (
    DEFAULT_OUTCOME_RULES,
    DeploymentPolicy,
    LaunchRecord,
    OutcomeRule,
    Platform,
    PlatformFields,
    Resource,
)
from ltigate.services.seats import usage_of

MAX_SEATS: Final = 1_000_000_000  # and so within the databases' 64-bit integers


class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code")
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ToolOut(BaseModel):
    name: str = "ltigate"
    version: str
    base_url: str
    login_url: str = Field(description="OIDC login initiation URL (Moodle: 'Initiate login URL')")
    launch_url: str = Field(description="Redirect URI / launch URL; resources add ?resource=<slug>")
    redirect_uris: list[str]
    jwks_url: str = Field(description="Public key set URL (Moodle: 'Public keyset URL')")
    ticket_jwks_url: str = Field(description="Key set that verifies handoff tickets")
    deep_linking_url: str = Field(description="Deep linking URL: the launch URL itself, which shows the picker")
    registration_url: str = Field(
        description="Dynamic Registration URL (with LTIGATE_DYNAMIC_REGISTRATION=open; else a link from "
        "`ltigate registration-link create`)"
    )
    canvas_configuration_url: str = Field(description="Canvas developer-key JSON configuration")


class OutcomeRuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["completed", "timeout", "disconnected"]
    activityProgress: Literal["Initialized", "Started", "InProgress", "Submitted", "Completed"]
    gradingProgress: Literal["FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"]
    scoreGiven: float | None = Field(default=None, ge=0)
    scoreMaximum: float | None = Field(default=None, gt=0)

    def to_rule(self) -> OutcomeRule:
        return OutcomeRule(
            outcome=self.outcome,
            activity_progress=self.activityProgress,
            grading_progress=self.gradingProgress,
            score_given=self.scoreGiven,
            score_maximum=self.scoreMaximum,
        )

    @classmethod
    def of(cls, rule: OutcomeRule) -> OutcomeRuleBody:
        return cls(
            outcome=rule.outcome,  # type: ignore[arg-type]
            activityProgress=rule.activity_progress,  # type: ignore[arg-type]
            gradingProgress=rule.grading_progress,  # type: ignore[arg-type]
            scoreGiven=rule.score_given,
            scoreMaximum=rule.score_maximum,
        )


class PlatformIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=255)
    issuer: str = Field(max_length=1000, description="Issuer (iss) exactly as the LMS sends it")
    client_id: str = Field(max_length=255)
    auth_url: str = Field(max_length=2000, description="OIDC authentication request URL")
    token_url: str = Field(max_length=2000, description="OAuth 2 access token URL")
    jwks_url: str = Field(max_length=2000, description="The platform's public key set URL")
    deployment_ids: list[str] = Field(default_factory=list, max_length=1000)
    seats: int = Field(default=0, ge=0, le=MAX_SEATS, description="Seats licensed; 0 = unlimited")
    grade_passback: bool = True
    licence_note: str = Field(default="", max_length=10000)
    deployment_policy: DeploymentPolicy = DeploymentPolicy.PENDING
    token_audience: str | None = Field(default=None, max_length=2000)
    send_deployment_id: bool = Field(default=False, description="Put deployment_id in client assertions")
    preserve_manual_grades: bool = Field(
        default=False, description="Read the LMS grade first and do not overwrite one an instructor changed"
    )
    outcome_rules: list[OutcomeRuleBody] = Field(
        default_factory=list, max_length=3, description="Session outcome → score; empty for the defaults"
    )

    def to_fields(self) -> PlatformFields:
        values = self.model_dump(exclude={"outcome_rules"})
        return PlatformFields(
            **{**values, "deployment_ids": tuple(self.deployment_ids)},
            outcome_rules=tuple(r.to_rule() for r in self.outcome_rules),
        )


class PlatformPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=255)
    issuer: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=255)
    auth_url: str | None = Field(default=None, max_length=2000)
    token_url: str | None = Field(default=None, max_length=2000)
    jwks_url: str | None = Field(default=None, max_length=2000)
    deployment_ids: list[str] | None = Field(default=None, max_length=1000)
    seats: int | None = Field(default=None, ge=0, le=MAX_SEATS)
    grade_passback: bool | None = None
    licence_note: str | None = Field(default=None, max_length=10000)
    deployment_policy: DeploymentPolicy | None = None
    token_audience: str | None = Field(default=None, max_length=2000)
    send_deployment_id: bool | None = None
    preserve_manual_grades: bool | None = None
    outcome_rules: list[OutcomeRuleBody] | None = Field(default=None, max_length=3)


class DeploymentOut(BaseModel):
    deployment_id: str
    status: Literal["approved", "pending", "rejected"]
    created_at: float


class DeploymentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deployment_id: str = Field(min_length=1, max_length=255)
    status: Literal["approved", "rejected"]


class PlatformOut(BaseModel):
    id: str
    name: str
    issuer: str
    client_id: str
    auth_url: str
    token_url: str
    jwks_url: str
    token_audience: str | None
    deployments: list[DeploymentOut]
    seats: int = Field(description="Seats licensed; 0 = unlimited")
    seats_used: int = Field(description="Seats held by learners (may exceed `seats` after the cap was lowered)")
    seats_remaining: int | None = Field(description="Seats free for new learners; null when unlimited")
    grade_passback: bool
    licence_note: str
    deployment_policy: DeploymentPolicy
    send_deployment_id: bool
    preserve_manual_grades: bool
    outcome_rules: list[OutcomeRuleBody] = Field(description="The outcome table in force")
    active: bool
    awaiting_approval: bool = Field(
        description="Registered itself through Dynamic Registration; launches are refused until approved"
    )
    registered_via: Literal["manual", "dynamic"]
    product_family_code: str | None = Field(description="As the LMS announced it in Dynamic Registration")
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, p: Platform) -> PlatformOut:
        f = p.fields
        usage = usage_of(p)
        return cls(
            id=p.id,
            name=f.name,
            issuer=f.issuer,
            client_id=f.client_id,
            auth_url=f.auth_url,
            token_url=f.token_url,
            jwks_url=f.jwks_url,
            token_audience=f.token_audience,
            deployments=[
                DeploymentOut(deployment_id=d.deployment_id, status=d.status.value, created_at=d.created_at)
                for d in p.deployments
            ],
            seats=f.seats,
            seats_used=usage.used,
            seats_remaining=usage.remaining,
            grade_passback=f.grade_passback,
            licence_note=f.licence_note,
            deployment_policy=f.deployment_policy,
            send_deployment_id=f.send_deployment_id,
            preserve_manual_grades=f.preserve_manual_grades,
            outcome_rules=[OutcomeRuleBody.of(r) for r in (f.outcome_rules or DEFAULT_OUTCOME_RULES)],
            active=p.active,
            awaiting_approval=p.awaiting_approval,
            registered_via=p.registered_via.value,
            product_family_code=p.product_family_code,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class ResourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(max_length=200, description="May hold '/', e.g. org/project/device")
    title: str = Field(max_length=255)
    app_url: str = Field(max_length=2000, description="The app URL a launch opens")
    description: str = Field(default="", max_length=4000)
    score_maximum: float | None = Field(default=None, gt=0, description="Graded resources: the line item maximum")
    picker: bool = Field(
        default=False,
        description="Deep-linking launches to this resource go to the app, which answers with its own items "
        "through POST /api/v1/launches/{id}/deep-linking-response",
    )
    review_url: str | None = Field(
        default=None, max_length=2000, description="Submission Review opens this URL; null: the app URL with review=1"
    )
    custom: dict[str, str] = Field(
        default_factory=dict, description="Custom parameters put on deep-linked items (the LMS sends them back)"
    )
    tag: str | None = Field(default=None, max_length=255, description="The line item tag of deep-linked graded items")


class ResourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=255)
    app_url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=4000)
    score_maximum: float | None = Field(default=None, gt=0)
    picker: bool | None = None
    review_url: str | None = Field(default=None, max_length=2000)
    custom: dict[str, str] | None = None
    tag: str | None = Field(default=None, max_length=255)


class ResourceOut(BaseModel):
    id: str
    slug: str
    title: str
    description: str
    app_url: str
    score_maximum: float | None
    picker: bool
    review_url: str | None
    custom: dict[str, str]
    tag: str | None
    target_link_uri: str
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, r: Resource, target_link_uri: str) -> ResourceOut:
        f = r.fields
        return cls(
            id=r.id,
            slug=f.slug,
            title=f.title,
            description=f.description,
            app_url=f.app_url,
            score_maximum=f.score_maximum,
            picker=f.picker,
            review_url=f.review_url,
            custom=dict(f.custom),
            tag=f.tag,
            target_link_uri=target_link_uri,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class UserOut(BaseModel):
    id: str | None = Field(default=None, description="The stable ltigate user id; null for anonymous launches")
    sub: str | None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    picture: str | None = None
    locale: str | None = None
    lti11_user_id: str | None = None


class ContextOut(BaseModel):
    id: str
    label: str | None
    title: str | None
    types: list[str]


class ResourceLinkOut(BaseModel):
    id: str
    title: str | None
    description: str | None


class DeepLinkingOut(BaseModel):
    """What the LMS accepts in the answer to a deep-linking launch (DL 2.0 §4.4.1)."""

    accept_types: list[str]
    accept_presentation_document_targets: list[str]
    accept_media_types: str | None
    accept_multiple: bool
    accept_lineitem: bool | None
    auto_create: bool
    title: str | None
    text: str | None


class ForUserOut(BaseModel):
    """The learner whose submission an instructor reviews (Submission Review)."""

    user_id: str
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    person_sourcedid: str | None
    roles: list[str]


class ServicesOut(BaseModel):
    ags: dict[str, object] | None = Field(description="Assignment and Grade Services endpoint, when offered")
    nrps: dict[str, object] | None = Field(description="Names and Role Provisioning Service, when offered")
    deep_linking: bool


class LaunchSummary(BaseModel):
    id: str
    created_at: float
    outcome: Literal["succeeded", "failed"]
    error_code: str | None
    error_message: str | None
    platform_id: str | None
    issuer: str | None
    deployment_id: str | None
    message_type: str | None
    sub: str | None
    user_name: str | None
    context_id: str | None
    resource_link_id: str | None
    resource: str | None

    @classmethod
    def of(cls, r: LaunchRecord) -> LaunchSummary:
        return cls(
            id=r.id,
            created_at=r.created_at,
            outcome=r.outcome.value,
            error_code=r.error_code,
            error_message=r.error_message,
            platform_id=r.platform_id,
            issuer=r.issuer,
            deployment_id=r.deployment_id,
            message_type=r.message_type,
            sub=r.sub,
            user_name=r.user_name,
            context_id=r.context_id,
            resource_link_id=r.resource_link_id,
            resource=r.resource_slug,
        )


class LaunchOut(LaunchSummary):
    user: UserOut | None = None
    roles: list[str] = Field(default_factory=list, description="Full role URIs")
    short_roles: list[str] = Field(default_factory=list, description="Normalised short role names")
    context: ContextOut | None = None
    resource_link: ResourceLinkOut | None = None
    custom: dict[str, str] = Field(default_factory=dict)
    services: ServicesOut | None = None
    return_url: str | None = None
    document_target: str | None = None
    frame_ancestors: str | None = Field(
        default=None,
        description="Who may frame the launched pages: send `Content-Security-Policy: frame-ancestors <value>` "
        "with the app's pages, as ltigate does with its own (the platform's origins and 'self')",
    )
    deep_linking: DeepLinkingOut | None = Field(
        default=None,
        description="Deep-linking launches: what the LMS accepts; answer with POST "
        "/api/v1/launches/{id}/deep-linking-response",
    )
    for_user: ForUserOut | None = Field(default=None, description="Submission review launches: whose work")

    @classmethod
    def detail(cls, d: LaunchDetail) -> LaunchOut:
        base = LaunchSummary.of(d.record).model_dump()
        m = d.message
        if m is None:
            return cls(**base)
        u = m.user
        return cls(
            **base,
            user=UserOut(
                id=d.record.learner_id,
                sub=u.sub,
                name=u.name,
                given_name=u.given_name,
                family_name=u.family_name,
                email=u.email,
                picture=u.picture,
                locale=u.locale,
                lti11_user_id=m.lti11_user_id,
            ),
            roles=list(m.roles),
            short_roles=list(m.short_roles),
            context=ContextOut(
                id=m.context.id, label=m.context.label, title=m.context.title, types=list(m.context.types)
            )
            if m.context
            else None,
            resource_link=ResourceLinkOut(
                id=m.resource_link.id, title=m.resource_link.title, description=m.resource_link.description
            )
            if m.resource_link
            else None,
            custom=dict(m.custom),
            services=ServicesOut(
                ags={"scopes": list(m.ags.scopes), "lineitems": m.ags.lineitems, "lineitem": m.ags.lineitem}
                if m.ags
                else None,
                nrps={
                    "context_memberships_url": m.nrps.context_memberships_url,
                    "service_versions": list(m.nrps.service_versions),
                }
                if m.nrps
                else None,
                deep_linking=m.deep_linking is not None,
            ),
            return_url=m.presentation.return_url if m.presentation else None,
            document_target=m.presentation.document_target if m.presentation else None,
            deep_linking=_deep_linking(m),
            for_user=ForUserOut(
                user_id=m.for_user.user_id,
                name=m.for_user.name,
                given_name=m.for_user.given_name,
                family_name=m.for_user.family_name,
                email=m.for_user.email,
                person_sourcedid=m.for_user.person_sourcedid,
                roles=list(m.for_user.roles),
            )
            if m.for_user
            else None,
        )


def _deep_linking(message: LtiMessage) -> DeepLinkingOut | None:
    if not message.is_deep_linking or message.deep_linking is None:
        return None
    try:
        s = parse_settings(message.deep_linking)
    except LtiError:
        return None
    return DeepLinkingOut(
        accept_types=list(s.accept_types),
        accept_presentation_document_targets=list(s.accept_presentation_document_targets),
        accept_media_types=s.accept_media_types,
        accept_multiple=s.accept_multiple,
        accept_lineitem=s.accept_lineitem,
        auto_create=s.auto_create,
        title=s.title,
        text=s.text,
    )


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=8192)

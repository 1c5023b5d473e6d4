"""What the demo needs in the gateway, made sure of on every start (idempotently): an API key for the
demo app, the demo LMS registered as a platform, and the demo resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ltigate.demo.course import UNREGISTERED_DEPLOYMENT
from ltigate.services.errors import NotFound
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeploymentPolicy, DeploymentStatus, Platform, PlatformFields, ResourceFields

CLIENT_ID: Final = "demo-client"
DEPLOYMENT_ID: Final = "demo-deployment"
API_KEY_NAME: Final = "demo app"


@dataclass(frozen=True, slots=True)
class DemoResource:
    slug: str
    title: str
    description: str
    score_maximum: float | None = None  # graded: the app posts scores out of this


QUIZ_SLUG: Final = "demo/algebra-quiz"
RESOURCES: Final = (
    DemoResource(QUIZ_SLUG, "Algebra quiz", "Three short questions on linear equations.", score_maximum=3),
    DemoResource("demo/ai-assistant", "AI study assistant", "A study helper that knows the course."),
)


def platform_fields(lms_url: str) -> PlatformFields:
    """The demo LMS's registration. Unknown deployments are rejected so the broken launch shows
    `unknown_deployment`; grade passback is on, so the quiz's score reaches the LMS gradebook.
    """
    return PlatformFields(
        name="Demo LMS",
        issuer=lms_url,
        client_id=CLIENT_ID,
        auth_url=f"{lms_url}/auth",
        token_url=f"{lms_url}/token",
        jwks_url=f"{lms_url}/jwks",
        deployment_ids=(DEPLOYMENT_ID,),
        grade_passback=True,
        licence_note="Registered by `ltigate demo`.",
        deployment_policy=DeploymentPolicy.REJECT,
    )


async def seed(gateway: Gateway, *, lms_url: str, app_url: str) -> str:
    """Make sure the demo platform and resources exist as the demo expects; return a new API key's secret."""
    issued = await gateway.api_keys.create(API_KEY_NAME)
    await _register_platform(gateway, platform_fields(lms_url))
    for resource in RESOURCES:
        fields = ResourceFields(
            slug=resource.slug,
            title=resource.title,
            app_url=app_url,
            description=resource.description,
            score_maximum=resource.score_maximum,
        )
        try:
            await gateway.resources.update(resource.slug, fields)
        except NotFound:
            await gateway.resources.create(fields)
    return issued.secret


async def _register_platform(gateway: Gateway, fields: PlatformFields) -> Platform:
    existing = next((p for p in await gateway.platforms.list() if p.fields.issuer == fields.issuer), None)
    if existing is None:
        platform = await gateway.platforms.create(fields)
    else:
        platform = await gateway.platforms.update(existing.id, fields)
        if not platform.active:
            platform = await gateway.platforms.set_active(platform.id, True)
        # A deployment decided earlier keeps its status on update; the demo needs exactly this picture.
        deployment = platform.deployment(DEPLOYMENT_ID)
        if deployment is not None and deployment.status is not DeploymentStatus.APPROVED:
            await gateway.platforms.decide_deployment(platform.id, DEPLOYMENT_ID, DeploymentStatus.APPROVED)
        if platform.deployment(UNREGISTERED_DEPLOYMENT) is not None:
            await gateway.platforms.remove_deployment(platform.id, UNREGISTERED_DEPLOYMENT)
    gateway.registrations.invalidate()
    return platform


async def registration_url(gateway: Gateway) -> str | None:
    """The URL the demo LMS's Dynamic Registration button opens: a fresh one-time link (the default), the open
    registration URL, or None when Dynamic Registration is off."""
    mode = gateway.settings.dynamic_registration
    if mode == "off":
        return None
    if mode == "open":
        return gateway.urls.registration_url
    return (await gateway.registration_links.create("the demo LMS's Dynamic Registration button", 30 * 86400.0)).url

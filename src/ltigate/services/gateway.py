"""The assembled use cases, built by bootstrap and handed to the entry points (web, worker, CLI)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ltigate.config import Settings
from ltigate.services.admins import Admins
from ltigate.services.api_keys import ApiKeys
from ltigate.services.console_sessions import ConsoleSessions
from ltigate.services.deep_linking import DeepLinking
from ltigate.services.dynamic_registration import DynamicRegistration
from ltigate.services.grades import Grades
from ltigate.services.launch import LaunchService
from ltigate.services.launches import Launches
from ltigate.services.learners import Learners
from ltigate.services.line_items import LineItems
from ltigate.services.login import LoginService
from ltigate.services.metrics import Metrics
from ltigate.services.platforms import Platforms
from ltigate.services.ports import Clock, ScoreOutbox
from ltigate.services.registration_links import RegistrationLinks
from ltigate.services.registrations import Registrations
from ltigate.services.resources import Resources
from ltigate.services.rosters import Rosters
from ltigate.services.score_delivery import ScoreDelivery
from ltigate.services.seats import Seats
from ltigate.services.service_tokens import ServiceTokens
from ltigate.services.tool_keys import ToolKeys
from ltigate.services.wakeup import Wakeup


@dataclass(frozen=True, slots=True)
class ToolUrls:
    """The URLs an LMS administrator enters when registering the gateway."""

    login_url: str
    launch_url: str
    jwks_url: str
    ticket_jwks_url: str
    base_url: str
    registration_url: str = ""  # Dynamic Registration (open mode; links add /<secret>)
    canvas_configuration_url: str = ""  # Canvas's developer-key JSON configuration

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolUrls:
        return cls.for_base(settings.base_url)

    @classmethod
    def for_base(cls, base_url: str) -> ToolUrls:
        """The URLs under a public base URL (without trailing slash)."""
        return cls(
            login_url=base_url + "/lti/login",
            launch_url=base_url + "/lti/launch",
            jwks_url=base_url + "/.well-known/jwks.json",
            ticket_jwks_url=base_url + "/.well-known/ticket-jwks.json",
            base_url=base_url,
            registration_url=base_url + "/lti/register",
            canvas_configuration_url=base_url + "/lti/config/canvas.json",
        )


@dataclass(slots=True)
class Gateway:
    settings: Settings
    urls: ToolUrls
    platforms: Platforms
    resources: Resources
    api_keys: ApiKeys
    registrations: Registrations
    login: LoginService
    launch: LaunchService
    launches: Launches
    deep_linking: DeepLinking
    learners: Learners
    seats: Seats
    tool_keys: ToolKeys
    grades: Grades
    rosters: Rosters
    line_items: LineItems
    service_tokens: ServiceTokens
    outbox: ScoreOutbox
    outbox_wakeup: Wakeup
    score_delivery: ScoreDelivery
    admins: Admins
    console_sessions: ConsoleSessions
    clock: Clock
    metrics: Metrics
    check_ready: Callable[[], Awaitable[None]]
    maintain: Callable[[], Awaitable[int]]  # one housekeeping pass: purge expired states; returns rows removed
    close: Callable[[], Awaitable[None]]
    registration_links: RegistrationLinks
    dynamic_registration: DynamicRegistration
    started: list[str] = field(default_factory=list)

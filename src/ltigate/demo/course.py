"""The demo LMS's fixed world: one course, two people who launch, twenty more students on the roster (so
the roster service pages), and the tool resources the course links to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ltigate.lti.platform import LaunchUser

COURSE_ID: Final = "demo-course-101"
COURSE_LABEL: Final = "DEMO-101"
COURSE_TITLE: Final = "Demo Course 101"
UNREGISTERED_DEPLOYMENT: Final = "unregistered-deployment"
CUSTOM_PARAMETERS: Final = {"demo": "true"}

_MEMBERSHIP: Final = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
_INSTITUTION: Final = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A person of the demo course; `key` (student, instructor) is what the home page's forms send."""

    key: str
    role_label: str
    launch_user: LaunchUser


USERS: Final = (
    DemoUser(
        key="student",
        role_label="Learner",
        launch_user=LaunchUser(
            sub="demo-user-ada",
            name="Ada Learner",
            given_name="Ada",
            family_name="Learner",
            email="ada.learner@lms.example",
            roles=(_MEMBERSHIP + "Learner", _INSTITUTION + "Student"),
        ),
    ),
    DemoUser(
        key="instructor",
        role_label="Instructor",
        launch_user=LaunchUser(
            sub="demo-user-grace",
            name="Grace Teacher",
            given_name="Grace",
            family_name="Teacher",
            email="grace.teacher@lms.example",
            roles=(_MEMBERSHIP + "Instructor", _INSTITUTION + "Faculty"),
        ),
    ),
)


_GIVEN_NAMES: Final = (
    "Alan", "Barbara", "Claude", "Dorothy", "Edsger", "Frances", "Gordon", "Hedy", "Ivan", "Joan",
    "Ken", "Lynn", "Margaret", "Niklaus", "Olga", "Peter", "Radia", "Sophie", "Tim", "Valerie",
)  # fmt: skip
_FAMILY_NAMES: Final = (
    "Turing", "Liskov", "Shannon", "Vaughan", "Dijkstra", "Allen", "Moore", "Lamarr", "Sutherland", "Clarke",
    "Thompson", "Conway", "Hamilton", "Wirth", "Taussky", "Naur", "Perlman", "Wilson", "Berners", "Kazakova",
)  # fmt: skip


def _generated_students() -> tuple[LaunchUser, ...]:
    return tuple(
        LaunchUser(
            sub=f"demo-student-{number:02d}",
            name=f"{given} {family}",
            given_name=given,
            family_name=family,
            email=f"{given.lower()}.{family.lower()}@lms.example",
            roles=(_MEMBERSHIP + "Learner",),
        )
        for number, (given, family) in enumerate(zip(_GIVEN_NAMES, _FAMILY_NAMES, strict=True), start=1)
    )


# Everyone enrolled in the course, in roster order: the two launching users, then the generated students.
MEMBERS: Final = tuple(user.launch_user for user in USERS) + _generated_students()


def find_member(sub: str) -> LaunchUser | None:
    return next((member for member in MEMBERS if member.sub == sub), None)


def find_user(key: str) -> DemoUser | None:
    return next((user for user in USERS if user.key == key), None)


def user_by_sub(sub: str) -> DemoUser | None:
    return next((user for user in USERS if user.launch_user.sub == sub), None)


@dataclass(frozen=True, slots=True)
class LmsResource:
    """A link in the course to a tool resource; a graded one (`score_maximum` set) has a line item of its own."""

    title: str
    target_link_uri: str
    score_maximum: float | None = None
    custom: tuple[tuple[str, str], ...] = ()  # sent on its launches (items added by deep linking carry some)


@dataclass(frozen=True, slots=True)
class LmsConfig:
    """How the demo LMS is registered with the tool, and what the course links to.

    `redirect_uris` are the tool's registered launch URLs, compared byte for byte (lti-reference §1.4).
    `tool_jwks_url` is where the tool's key set is fetched to check its client assertions (lti-reference §3);
    without it the token endpoint refuses every request.
    """

    issuer: str
    client_id: str
    deployment_id: str
    tool_login_url: str
    redirect_uris: tuple[str, ...]
    resources: tuple[LmsResource, ...]
    token_ttl_seconds: int = 300
    tool_jwks_url: str | None = None
    page_size: int = 10  # line items, results and members per page unless the tool asks for `limit`

"""The demo LMS's fixed world: one course, two people, and the tool resources the course links to."""

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


def find_user(key: str) -> DemoUser | None:
    return next((user for user in USERS if user.key == key), None)


def user_by_sub(sub: str) -> DemoUser | None:
    return next((user for user in USERS if user.launch_user.sub == sub), None)


@dataclass(frozen=True, slots=True)
class LmsResource:
    """A link in the course to a tool resource."""

    title: str
    target_link_uri: str


@dataclass(frozen=True, slots=True)
class LmsConfig:
    """How the demo LMS is registered with the tool, and what the course links to.

    `redirect_uris` are the tool's registered launch URLs, compared byte for byte (lti-reference §1.4).
    """

    issuer: str
    client_id: str
    deployment_id: str
    tool_login_url: str
    redirect_uris: tuple[str, ...]
    resources: tuple[LmsResource, ...]
    token_ttl_seconds: int = 300

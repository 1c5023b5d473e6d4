"""What the demo LMS remembers between requests, in memory and bounded: launches waiting for the tool's
authentication request (keyed by the opaque `lti_message_hint`), and the last form posted per user so
the "replay" button can post it again.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from ltigate.demo.course import DemoUser, LmsResource
from ltigate.lti.errors import AuthRequestError

MAX_PENDING: Final = 1000
PENDING_TTL_SECONDS: Final = 600.0


class UnknownMessageHint(AuthRequestError):
    code = "unknown_message_hint"


class LoginHintMismatch(AuthRequestError):
    code = "login_hint_mismatch"


@dataclass(frozen=True, slots=True)
class PendingLaunch:
    user: DemoUser
    resource: LmsResource
    deployment_id: str
    expires_at: float
    deep_linking: bool = False  # an LtiDeepLinkingRequest ("add content") instead of a resource link launch


@dataclass(frozen=True, slots=True)
class PostedForm:
    """The authentication response (OIDC form_post) as the browser posted it to the tool."""

    action: str
    id_token: str
    state: str
    resource_title: str


class PendingLaunches:
    """Launches started on the home page; each is taken once by the authentication request."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, PendingLaunch] = OrderedDict()

    def add(self, launch: PendingLaunch) -> str:
        """Keep `launch` and return its opaque message hint; the oldest is dropped past MAX_PENDING."""
        hint = secrets.token_urlsafe(16)
        self._pending[hint] = launch
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        return hint

    def take(self, hint: str | None, login_hint: str, now: float) -> PendingLaunch:
        """The launch named by `hint`, removed; its user must be the one named by `login_hint`.

        Raises UnknownMessageHint (absent, unknown, used or expired) or LoginHintMismatch.
        """
        launch = self._pending.pop(hint, None) if hint else None
        if launch is None or launch.expires_at <= now:
            shown = (hint or "")[:60]
            raise UnknownMessageHint(
                f"lti_message_hint '{shown}' names no launch waiting here; start again from the LMS home page"
            )
        if launch.user.launch_user.sub != login_hint:
            raise LoginHintMismatch(
                f"login_hint '{login_hint[:60]}' is not the user who started this launch "
                f"('{launch.user.launch_user.sub}')"
            )
        return launch


class PostedForms:
    """The last form posted for each user."""

    def __init__(self) -> None:
        self._last: dict[str, PostedForm] = {}

    def remember(self, user: DemoUser, form: PostedForm) -> None:
        self._last[user.key] = form

    def last(self, user: DemoUser) -> PostedForm | None:
        return self._last.get(user.key)

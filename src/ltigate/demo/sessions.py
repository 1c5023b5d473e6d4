"""The demo app's only state: which launch a browser session belongs to, and the session's CSRF token.

The launch ticket is single-use, so the app keeps the launch id behind a random session cookie; everything
else it shows is read from the gateway's REST API on each page. In memory, bounded, expiring.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

MAX_SESSIONS: Final = 10_000
SESSION_TTL_SECONDS: Final = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class AppSession:
    launch_id: str
    csrf_token: str = field(repr=False)
    expires_at: float

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form's hidden `csrf` field carries this session's token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token.encode())


class AppSessions:
    def __init__(self) -> None:
        self._sessions: OrderedDict[str, AppSession] = OrderedDict()

    def start(self, launch_id: str, now: float) -> str:
        """A new session for `launch_id`; returns the cookie value. The oldest session goes past MAX_SESSIONS."""
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = AppSession(
            launch_id=launch_id, csrf_token=secrets.token_urlsafe(32), expires_at=now + SESSION_TTL_SECONDS
        )
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id

    def get(self, session_id: str | None, now: float) -> AppSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is not None and session.expires_at <= now:
            del self._sessions[session_id]
            return None
        return session

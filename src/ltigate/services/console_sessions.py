"""Console sign-in: server-side sessions, form tokens against cross-site requests, and the lock-out.

A session id is 256 random bits, given to the browser once and stored only as its SHA-256. Each sign-in
makes a new one (a session id planted before sign-in is never adopted). A session ends after
`idle_seconds` without a request or `absolute_seconds` after sign-in, whichever comes first.

Every form carries a token, HMAC-SHA256 under a key derived from the instance secret of what the form is
bound to (the session id; before sign-in, a random cookie), checked with `hmac.compare_digest`.

Lock-out: `max_failures` failed sign-ins within `window_seconds` for one account name, or from one client
address, lock sign-in for that name or address for `lock_seconds` from the last failure. Attempts while
locked are refused unchecked and not counted, so a lock ends on time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ltigate.services.admins import Admins, normalise_name
from ltigate.services.console_ports import Administrator, ConsoleSession, ConsoleSessionStore, SignInFailureStore
from ltigate.services.digest import secret_digest
from ltigate.services.errors import ServiceError
from ltigate.services.ports import Clock

MAX_ADDRESS: Final = 64


class SignInRefused(ServiceError):
    code = "sign_in_failed"
    status = 401


class SignInLocked(ServiceError):
    code = "sign_in_locked"
    status = 429

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_seconds: float = 30 * 60
    absolute_seconds: float = 12 * 3600
    touch_after_seconds: float = 60  # last_seen_at is written at most this often


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    window_seconds: float = 15 * 60
    lock_seconds: float = 15 * 60


@dataclass(frozen=True, slots=True)
class SignedIn:
    admin: Administrator
    session_id: str = field(repr=False)  # for the cookie; never stored
    expires_at: float


@dataclass(frozen=True, slots=True)
class ActiveSession:
    admin: Administrator
    session: ConsoleSession
    form_token: str = field(repr=False)


def locked_until(failures: Sequence[float], policy: LockoutPolicy) -> float | None:
    """The end of the lock these failure times impose, or None: any `max_failures` of them within
    `window_seconds` lock until `lock_seconds` after the last of those."""
    times = sorted(failures)
    n = policy.max_failures
    ends = [
        times[i] + policy.lock_seconds
        for i in range(n - 1, len(times))
        if times[i] - times[i - n + 1] <= policy.window_seconds
    ]
    return max(ends, default=None)


class ConsoleSessions:
    def __init__(
        self,
        admins: Admins,
        sessions: ConsoleSessionStore,
        failures: SignInFailureStore,
        secret_key: bytes,
        clock: Clock,
        policy: SessionPolicy = SessionPolicy(),
        lockout: LockoutPolicy = LockoutPolicy(),
    ) -> None:
        self._admins, self._sessions, self._failures, self._clock = admins, sessions, failures, clock
        self._form_key = hmac.new(secret_key, b"ltigate console forms v1", hashlib.sha256).digest()
        self.policy, self.lockout = policy, lockout

    def form_token(self, purpose: str, bound_to: str) -> str:
        """The token forms carry; `purpose` is 'session' (bound to the session id) or 'sign-in' (bound to
        the pre-sign-in cookie), so a token made for one is no good for the other."""
        message = f"{purpose}\x00{bound_to}".encode()
        return hmac.new(self._form_key, message, hashlib.sha256).hexdigest()

    def check_form_token(self, purpose: str, bound_to: str | None, presented: str | None) -> bool:
        if not bound_to or not presented:
            return False
        return hmac.compare_digest(self.form_token(purpose, bound_to).encode(), presented.encode())

    async def sign_in(self, name: str, password: str, client_address: str, *, replacing: str | None = None) -> SignedIn:
        """Check the credentials and open a new session (ending the one `replacing` names).

        Raises SignInLocked while the account name or the client address is locked out, and SignInRefused
        for a wrong name or password (counted) or a disabled account.
        """
        now = self._clock()
        name, address = normalise_name(name)[:100], (client_address or "unknown")[:MAX_ADDRESS]
        await self._refuse_if_locked(name, address, now)
        admin = await self._admins.check_credentials(name, password)
        if admin is None:
            await self._failures.add(name, address, now)
            await self._refuse_if_locked(name, address, now)
            raise SignInRefused("the name or password is wrong" + await self._warning(name, address, now))
        if not admin.active:
            raise SignInRefused("this account is disabled; another administrator can enable it", "name")
        if replacing:
            await self._sessions.delete(secret_digest(replacing))
        await self._failures.clear(name)
        session_id = secrets.token_urlsafe(32)
        expires_at = now + self.policy.absolute_seconds
        await self._sessions.create(
            ConsoleSession(
                id_hash=secret_digest(session_id),
                admin_id=admin.id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
                client_address=address,
            )
        )
        await self._admins.note_sign_in(admin.id, now)
        return SignedIn(admin=admin, session_id=session_id, expires_at=expires_at)

    async def resume(self, session_id: str | None) -> ActiveSession | None:
        """The live session for a cookie value; None (and the session deleted) when unknown, expired,
        idle too long, or its account is disabled."""
        if not session_id or len(session_id) > 200:
            return None
        id_hash = secret_digest(session_id)
        found = await self._sessions.get(id_hash)
        if found is None:
            return None
        session, admin = found
        now = self._clock()
        idle = now - session.last_seen_at > self.policy.idle_seconds
        if idle or now >= session.expires_at or not admin.active:
            await self._sessions.delete(id_hash)
            return None
        if now - session.last_seen_at >= self.policy.touch_after_seconds:
            await self._sessions.touch(id_hash, now)
        return ActiveSession(admin=admin, session=session, form_token=self.form_token("session", session_id))

    async def sign_out(self, session_id: str | None) -> None:
        if session_id:
            await self._sessions.delete(secret_digest(session_id))

    async def purge(self) -> int:
        """Delete ended sessions and failures too old to matter; returns the rows removed."""
        now = self._clock()
        removed = await self._sessions.purge(now - self.policy.idle_seconds, now)
        return removed + await self._failures.purge(now - self.lockout.window_seconds - self.lockout.lock_seconds)

    async def _recent(self, name: str, address: str, now: float) -> tuple[list[float], list[float]]:
        since = now - self.lockout.window_seconds - self.lockout.lock_seconds
        return await self._failures.recent(name, address, since)

    async def _refuse_if_locked(self, name: str, address: str, now: float) -> None:
        by_name, by_address = await self._recent(name, address, now)
        until = max(locked_until(by_name, self.lockout) or 0.0, locked_until(by_address, self.lockout) or 0.0)
        if until > now:
            minutes = math.ceil((until - now) / 60)
            raise SignInLocked(
                f"too many failed sign-ins for this account or from this address: sign-in is locked for "
                f"{minutes} more minute{'s' if minutes != 1 else ''}",
                until,
            )

    async def _warning(self, name: str, address: str, now: float) -> str:
        by_name, by_address = await self._recent(name, address, now)
        window_start = now - self.lockout.window_seconds
        used = max(sum(t > window_start for t in by_name), sum(t > window_start for t in by_address))
        left = self.lockout.max_failures - used
        if 0 < left <= 2:
            lock_minutes = round(self.lockout.lock_seconds / 60)
            return f"; {left} more failed attempt{'s' if left != 1 else ''} lock sign-in for {lock_minutes} minutes"
        return ""

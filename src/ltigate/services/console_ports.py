"""The console's records and storage seams: administrator accounts, console sessions (stored under the
SHA-256 of the session id, never the id itself) and failed sign-ins (for the lock-out).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Administrator:
    """A person who may sign in to the console. Names are kept lower-case, so they are unique regardless of case."""

    id: str
    name: str
    created_at: float
    updated_at: float
    disabled_at: float | None = None
    last_sign_in_at: float | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser. `id_hash` is the SHA-256 of the cookie's session id."""

    id_hash: str
    admin_id: str
    created_at: float
    last_seen_at: float
    expires_at: float  # the absolute end, whatever the activity
    client_address: str | None = None


class AdminStore(Protocol):
    async def create(self, admin: Administrator, password_hash: str) -> None:
        """Raises Conflict (field 'name') when the name is taken."""

    async def find(self, name: str) -> tuple[Administrator, str] | None:
        """The account and its password hash, by lower-case name."""

    async def get(self, admin_id: str) -> Administrator | None: ...

    async def list(self) -> builtins.list[Administrator]: ...

    async def set_password(self, admin_id: str, password_hash: str, now: float) -> bool: ...

    async def set_disabled(self, admin_id: str, disabled_at: float | None, now: float) -> bool: ...

    async def note_sign_in(self, admin_id: str, now: float) -> None: ...


class ConsoleSessionStore(Protocol):
    async def create(self, session: ConsoleSession) -> None: ...

    async def get(self, id_hash: str) -> tuple[ConsoleSession, Administrator] | None:
        """The session with its account."""

    async def touch(self, id_hash: str, now: float) -> None: ...

    async def delete(self, id_hash: str) -> None: ...

    async def delete_for_admin(self, admin_id: str) -> int: ...

    async def purge(self, idle_before: float, now: float) -> int:
        """Delete sessions last seen before `idle_before` or past their absolute end."""


class SignInFailureStore(Protocol):
    async def add(self, name: str, client_address: str, at: float) -> None: ...

    async def recent(self, name: str, client_address: str, since: float) -> tuple[list[float], list[float]]:
        """Times of the failures since `since`: (for this account name, from this client address)."""

    async def clear(self, name: str) -> None:
        """Forget the failures of an account name (after a successful sign-in)."""

    async def purge(self, before: float) -> int: ...

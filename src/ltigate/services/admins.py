"""Administrator accounts of the console: names, argon2id password hashes, disabling and password resets.

Passwords are hashed with argon2id (RFC 9106) in a worker thread, so a sign-in does not hold up the event
loop for the ~50 ms a hash takes. Disabling an account or resetting its password ends its sessions.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ltigate.services.console_ports import Administrator, AdminStore, ConsoleSessionStore
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.ports import Clock

MIN_PASSWORD: Final = 12
MAX_PASSWORD: Final = 1024  # argon2 takes any length; the cap keeps a sign-in form from hashing megabytes
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")


def normalise_name(name: str) -> str:
    """Account names compare without case and surrounding spaces."""
    return name.strip().lower()


def check_name(name: str) -> str:
    value = normalise_name(name)
    if not _NAME.match(value):
        raise InvalidField(
            f"administrator name '{name[:100]}' may hold letters, digits, '.', '_', '@' and '-' (1–100 characters)",
            "name",
        )
    return value


def check_password(password: str, name: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidField(f"the password has {len(password)} characters; use at least {MIN_PASSWORD}", "password")
    if len(password) > MAX_PASSWORD:
        raise InvalidField(f"the password has {len(password)} characters; at most {MAX_PASSWORD}", "password")
    if password.strip().lower() == name:
        raise InvalidField("the password must not be the account name", "password")
    return password


class Passwords:
    """argon2id hashing with the library's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches. Without a hash (unknown account) a decoy hash is checked, so an
        unknown name takes as long to refuse as a wrong password."""
        if password_hash is None:
            if self._decoy is None:
                self._decoy = await self.hash(secrets.token_urlsafe(16))
            password_hash = self._decoy
            password = "\x00" + password  # never matches the decoy
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class Admins:
    def __init__(self, store: AdminStore, sessions: ConsoleSessionStore, passwords: Passwords, clock: Clock) -> None:
        self._store, self._sessions, self._passwords, self._clock = store, sessions, passwords, clock

    async def create(self, name: str, password: str) -> Administrator:
        """Raises InvalidField (name, password) and Conflict (name taken)."""
        name = check_name(name)
        password_hash = await self._passwords.hash(check_password(password, name))
        now = self._clock()
        admin = Administrator(id=secrets.token_hex(8), name=name, created_at=now, updated_at=now)
        await self._store.create(admin, password_hash)
        return admin

    async def list(self) -> list[Administrator]:
        return await self._store.list()

    async def get(self, admin_id: str) -> Administrator:
        admin = await self._store.get(admin_id)
        if admin is None:
            raise NotFound(f"administrator '{admin_id[:64]}' does not exist")
        return admin

    async def named(self, name: str) -> Administrator:
        found = await self._store.find(normalise_name(name))
        if found is None:
            raise NotFound(f"administrator '{name[:100]}' does not exist", "name")
        return found[0]

    async def disable(self, name: str) -> Administrator:
        """Refuse the account's sign-ins and end its sessions."""
        admin = await self.named(name)
        now = self._clock()
        await self._store.set_disabled(admin.id, admin.disabled_at or now, now)
        await self._sessions.delete_for_admin(admin.id)
        return await self.get(admin.id)

    async def enable(self, name: str) -> Administrator:
        admin = await self.named(name)
        await self._store.set_disabled(admin.id, None, self._clock())
        return await self.get(admin.id)

    async def reset_password(self, name: str, password: str) -> Administrator:
        """Set a new password and end the account's sessions."""
        admin = await self.named(name)
        password_hash = await self._passwords.hash(check_password(password, admin.name))
        await self._store.set_password(admin.id, password_hash, self._clock())
        await self._sessions.delete_for_admin(admin.id)
        return admin

    async def note_sign_in(self, admin_id: str, now: float) -> None:
        await self._store.note_sign_in(admin_id, now)

    async def check_credentials(self, name: str, password: str) -> Administrator | None:
        """The account when the password matches (disabled or not); None otherwise, taking the same time
        for unknown names. An outdated hash is replaced by one with the current parameters."""
        if len(password) > MAX_PASSWORD:
            return None
        found = await self._store.find(normalise_name(name)[:100])
        admin, password_hash = found if found is not None else (None, None)
        if not await self._passwords.verify(password_hash, password) or admin is None or password_hash is None:
            return None
        if self._passwords.needs_rehash(password_hash):
            await self._store.set_password(admin.id, await self._passwords.hash(password), self._clock())
        return admin

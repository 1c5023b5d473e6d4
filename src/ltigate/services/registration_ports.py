"""The storage seams of Dynamic Registration: one-time registration links and the attempt log."""

from __future__ import annotations

import builtins
from typing import Protocol

from ltigate.services.records import RegistrationAttempt, RegistrationLink


class RegistrationLinkStore(Protocol):
    async def create(self, link: RegistrationLink, secret_hash: str) -> None: ...

    async def find(self, secret_hash: str) -> RegistrationLink | None: ...

    async def list(self) -> builtins.list[RegistrationLink]:
        """Every link, newest first."""

    async def claim(self, link_id: str, now: float) -> bool:
        """Mark the link used if it is unused, unrevoked and unexpired at `now`, atomically across processes;
        False when another request claimed it first (or it became unusable)."""

    async def release(self, link_id: str) -> None:
        """Make a claimed link usable again (its registration failed before anything was stored)."""

    async def complete(self, link_id: str, platform_id: str) -> None:
        """Record the platform registered with the claimed link."""

    async def revoke(self, link_id: str, now: float) -> bool:
        """True when the link existed and was neither used nor revoked before."""


class RegistrationAttemptLog(Protocol):
    async def record(self, attempt: RegistrationAttempt) -> None: ...

    async def list(self, limit: int) -> builtins.list[RegistrationAttempt]:
        """Newest first; `limit` capped at 500."""

    async def purge(self, before: float) -> int:
        """Delete attempts older than `before`; returns how many."""

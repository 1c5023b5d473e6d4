"""One-time Dynamic Registration links: `<base>/lti/register/<secret>`, made by an administrator and given to
one LMS administrator. The secret (256 random bits) is stored only as its SHA-256; a link expires, can be
revoked, and is used once: a registration claims it atomically, gives it back if it fails before anything is
stored, and records the platform when it succeeds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from ltigate.services.digest import secret_digest
from ltigate.services.errors import InvalidField, NotFound, ServiceError
from ltigate.services.ports import Clock
from ltigate.services.records import RegistrationLink
from ltigate.services.registration_ports import RegistrationLinkStore
from ltigate.services.validation import check_text

DEFAULT_TTL_SECONDS: Final = 7 * 24 * 3600.0
MAX_TTL_SECONDS: Final = 90 * 24 * 3600.0
MAX_SECRET_LENGTH: Final = 200


class RegistrationLinkError(ServiceError):
    code = "registration_link_invalid"
    status = 403


class RegistrationLinkRequired(RegistrationLinkError):
    code = "registration_link_required"


class RegistrationLinkUnknown(RegistrationLinkError):
    code = "registration_link_unknown"
    status = 404


class RegistrationLinkRevoked(RegistrationLinkError):
    code = "registration_link_revoked"
    status = 410


class RegistrationLinkUsed(RegistrationLinkError):
    code = "registration_link_used"
    status = 410


class RegistrationLinkExpired(RegistrationLinkError):
    code = "registration_link_expired"
    status = 410


@dataclass(frozen=True, slots=True)
class IssuedLink:
    link: RegistrationLink
    secret: str  # shown once
    url: str


class RegistrationLinks:
    def __init__(self, store: RegistrationLinkStore, clock: Clock, register_url: str) -> None:
        self._store, self._clock, self._register_url = store, clock, register_url

    def url(self, secret: str) -> str:
        return f"{self._register_url}/{secret}"

    async def create(self, note: str = "", ttl_seconds: float = DEFAULT_TTL_SECONDS) -> IssuedLink:
        """A new link valid for `ttl_seconds` (at most 90 days). Raises InvalidField."""
        if not 60 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise InvalidField(
                f"the link's lifetime is {ttl_seconds:g} s; it must be between a minute and 90 days", "expires"
            )
        now = self._clock()
        secret = secrets.token_urlsafe(32)
        link = RegistrationLink(
            id=secrets.token_hex(6),
            note=check_text(note, "note", required=False),
            created_at=now,
            expires_at=now + ttl_seconds,
        )
        await self._store.create(link, secret_digest(secret))
        return IssuedLink(link=link, secret=secret, url=self.url(secret))

    async def list(self) -> list[RegistrationLink]:
        return await self._store.list()

    async def revoke(self, link_id: str) -> None:
        if not await self._store.revoke(link_id, self._clock()):
            raise NotFound(f"registration link '{link_id[:40]}' does not exist or was used or revoked already")

    async def check(self, secret: str | None) -> RegistrationLink:
        """The usable link with this secret. Raises RegistrationLinkRequired (no secret), RegistrationLinkUnknown,
        RegistrationLinkRevoked, RegistrationLinkUsed or RegistrationLinkExpired."""
        if not secret:
            raise RegistrationLinkRequired(
                "this ltigate accepts Dynamic Registration only through a one-time registration link"
            )
        link = await self._store.find(secret_digest(secret[:MAX_SECRET_LENGTH]))
        if link is None:
            raise RegistrationLinkUnknown("this registration link is not known: check that it was copied whole")
        state = link.state(self._clock())
        if state == "revoked":
            raise RegistrationLinkRevoked(f"registration link {link.id} was revoked")
        if state == "used":
            raise RegistrationLinkUsed(f"registration link {link.id} was used already; each link registers once")
        if state == "expired":
            raise RegistrationLinkExpired(f"registration link {link.id} expired")
        return link

    async def claim(self, secret: str | None) -> RegistrationLink:
        """Check the link and take it for one registration, atomically; raises like `check`."""
        link = await self.check(secret)
        if not await self._store.claim(link.id, self._clock()):
            raise RegistrationLinkUsed(f"registration link {link.id} was used already; each link registers once")
        return link

    async def release(self, link: RegistrationLink) -> None:
        await self._store.release(link.id)

    async def complete(self, link: RegistrationLink, platform_id: str) -> None:
        await self._store.complete(link.id, platform_id)

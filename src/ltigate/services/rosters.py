"""Course rosters (NRPS 2.0; lti-reference §5): every page of the platform's membership container is
followed and streamed into the members table, so the roster is there between launches; each member is
shown with their latest launch and its grade delivery.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Final

from ltigate.lti import nrps
from ltigate.lti.message import LtiMessage
from ltigate.services.errors import Conflict, InvalidField, NotFound
from ltigate.services.ports import Clock, PlatformStore, RosterStore
from ltigate.services.records import ContextRecord, Member, Platform, RosterEntry
from ltigate.services.service_calls import ServiceCalls, expect_success

MAX_PAGES: Final = 10_000
MAX_PAGE_BYTES: Final = 8 * 1024 * 1024
MAX_LIMIT: Final = 1000
_REMEMBERED_CONTEXTS: Final = 20_000


def context_key(platform_id: str, context_id: str) -> str:
    """A stable key for a platform's course, usable in URLs whatever characters the LMS's id has."""
    return hashlib.sha256(f"{platform_id}\x00{context_id}".encode()).hexdigest()[:32]


class Rosters:
    def __init__(self, store: RosterStore, platforms: PlatformStore, calls: ServiceCalls, clock: Clock) -> None:
        self._store, self._platforms, self._calls, self._clock = store, platforms, calls, clock
        self._seen: OrderedDict[tuple[str, str, str | None], None] = OrderedDict()

    async def note_launch(self, platform: Platform, message: LtiMessage) -> None:
        """Remember the launch's course and its NRPS URL; written once per change, not per launch."""
        if message.context is None:
            return
        url = message.nrps.context_memberships_url if message.nrps else None
        marker = (platform.id, message.context.id, url)
        if marker in self._seen:
            self._seen.move_to_end(marker)
            return
        await self._store.upsert_context(
            platform.id,
            message.context.id,
            title=message.context.title,
            label=message.context.label,
            memberships_url=url,
            deployment_id=message.deployment_id,
            now=self._clock(),
        )
        self._seen[marker] = None
        if len(self._seen) > _REMEMBERED_CONTEXTS:
            self._seen.popitem(last=False)

    async def context(self, key: str) -> ContextRecord:
        found = await self._store.get_context(key)
        if found is None:
            raise NotFound(f"context '{key[:64]}' is unknown; it appears after a launch from that course")
        return found

    async def contexts(self, platform_id: str | None, limit: int) -> list[ContextRecord]:
        return await self._store.list_contexts(platform_id, min(max(limit, 1), 500))

    async def sync(self, key: str) -> ContextRecord:
        """Fetch every page of the course's memberships and replace the stored roster."""
        context = await self.context(key)
        platform = await self._platform(context)
        url = _memberships_url(context)
        await self._store.replace_members(key, self._pages(platform, context, url), self._clock())
        return await self.context(key)

    async def members(
        self, key: str, *, role: str | None, limit: int, offset: int = 0, refresh: bool = False
    ) -> list[RosterEntry]:
        """The stored roster (synced first when never synced or when `refresh`)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidField(f"limit must be between 1 and {MAX_LIMIT}", "limit")
        context = await self.context(key)
        if refresh or context.synced_at is None:
            await self.sync(key)
        return await self._store.members(key, role=role, limit=limit, offset=max(offset, 0))

    async def link_members(self, key: str, *, rlid: str, role: str | None, limit: int) -> list[Member]:
        """Members who can reach one resource link (NRPS `rlid`), read live and not stored."""
        context = await self.context(key)
        platform = await self._platform(context)
        url = nrps.memberships_url(_memberships_url(context), role=role, rlid=rlid)
        found: list[Member] = []
        async for batch in self._pages(platform, context, url):
            found.extend(batch)
            if len(found) >= limit:
                break
        return found[:limit]

    async def _platform(self, context: ContextRecord) -> Platform:
        platform = await self._platforms.get(context.platform_id)
        if platform is None:
            raise NotFound("the context's platform no longer exists")
        return platform

    async def _pages(self, platform: Platform, context: ContextRecord, url: str) -> AsyncIterator[Sequence[Member]]:
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = expect_success(
                await self._calls.call(
                    platform,
                    context.deployment_id,
                    (nrps.SCOPE,),
                    "GET",
                    next_url,
                    accept=nrps.MEDIA_TYPE,
                    max_body_bytes=MAX_PAGE_BYTES,
                ),
                "reading the course roster",
            )
            page = nrps.parse_membership_page(response.body)
            yield [_member(m) for m in page.members]
            next_url = nrps.next_page(response.headers)


def _memberships_url(context: ContextRecord) -> str:
    if not context.memberships_url:
        raise Conflict("the course's launches offered no roster service (NRPS)")
    return context.memberships_url


def _member(m: nrps.NrpsMember) -> Member:
    return Member(
        user_id=m.user_id,
        roles=tuple(m.roles),
        status=m.status,
        name=m.name,
        given_name=m.given_name,
        family_name=m.family_name,
        email=m.email,
        picture=m.picture,
        lis_person_sourcedid=m.lis_person_sourcedid,
        lti11_legacy_user_id=m.lti11_legacy_user_id,
    )

"""Seats (design.md "seat"): a learner's licence slot on a platform, allocated on their first launch and
reused after. Instructors and administrators never take one. When every seat licensed to the platform
(`seats`, 0 = unlimited) is held, a new learner's launch fails with SeatsExhausted; an administrator
frees seats one by one or those idle for some days.
"""

from __future__ import annotations

from typing import Final

from ltigate.lti.errors import SeatsExhausted
from ltigate.lti.roles import is_staff
from ltigate.services.errors import InvalidField, NotFound
from ltigate.services.ports import Clock, SeatStore
from ltigate.services.records import LearnerVisit, Platform, Seat, SeatHolder, SeatUsage

DAY: Final = 86_400.0
MAX_IDLE_DAYS: Final = 36_500


def seat_usage(platform_id: str, *, licensed: int, used: int) -> SeatUsage:
    """Usage from the cap (0 = unlimited) and the seats held; never a negative remainder."""
    remaining = None if licensed == 0 else max(0, licensed - used)
    return SeatUsage(platform_id=platform_id, seats_licensed=licensed, used=used, remaining=remaining)


def usage_of(platform: Platform) -> SeatUsage:
    """Usage as of the platform record (which may be cached a few seconds: `Seats.usage` reads it fresh)."""
    return seat_usage(platform.id, licensed=platform.fields.seats, used=platform.seats_used)


class Seats:
    def __init__(self, store: SeatStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def admit(self, platform: Platform, visit: LearnerVisit, roles: tuple[str, ...], now: float) -> None:
        """Let a launch's learner in: staff (instructor or administrator, in the context or the institution)
        always, a learner holding a seat always, any other learner when a seat can be allocated.

        Raises SeatsExhausted when every seat is held. Costs no statement unless a seat is allocated.
        """
        if visit.seated or is_staff(roles):
            return
        if await self._store.allocate(platform.id, visit.learner.id, now):
            return
        usage = await self._store.usage(platform.id)
        licensed, used = (usage.seats_licensed, usage.used) if usage else (platform.fields.seats, platform.seats_used)
        raise SeatsExhausted(
            f"all seats are taken: platform '{platform.fields.name}' has {licensed} seats licensed and {used} "
            "in use, and this learner holds none; an administrator can release seats or raise the number"
        )

    async def usage(self, platform_id: str) -> SeatUsage:
        """Seats licensed, used and remaining, read fresh; raises NotFound."""
        usage = await self._store.usage(platform_id)
        if usage is None:
            raise NotFound(f"platform '{platform_id[:64]}' does not exist")
        return usage

    async def list(self, platform_id: str, *, limit: int = 50, offset: int = 0) -> list[SeatHolder]:
        """The platform's seats with their learners, oldest allocation first; raises NotFound."""
        await self.usage(platform_id)
        return await self._store.list(platform_id, limit=limit, offset=offset)

    async def get(self, platform_id: str, learner_id: str) -> Seat | None:
        """The learner's seat on the platform, if they hold one."""
        return await self._store.get(platform_id, learner_id)

    async def release(self, platform_id: str, learner_id: str) -> None:
        """Free a learner's seat (their next launch takes a fresh one, if one is free); raises NotFound."""
        if not await self._store.release(platform_id, learner_id):
            await self.usage(platform_id)
            raise NotFound(f"learner '{learner_id[:64]}' holds no seat on platform '{platform_id[:64]}'")

    async def release_idle(self, platform_id: str, days: int) -> int:
        """Free the seats of learners who have not launched for `days` days (at least 1); returns how many.

        Raises InvalidField for days out of range, NotFound for an unknown platform.
        """
        if not 1 <= days <= MAX_IDLE_DAYS:
            raise InvalidField(f"days is {days}; give a number of days from 1 to {MAX_IDLE_DAYS}", "days")
        await self.usage(platform_id)
        return await self._store.release_idle(platform_id, self._clock() - days * DAY)

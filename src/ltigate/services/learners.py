"""Learner accounts: each launch with a `sub` finds or creates its learner (platform + `sub`) and keeps the
details the launch carries; the learner's id is the stable user id the app receives. Launches without a
`sub` (anonymous, LTI Core §5.3.6) get no account.
"""

from __future__ import annotations

from ltigate.lti.message import LtiMessage
from ltigate.services.errors import NotFound
from ltigate.services.ids import new_id
from ltigate.services.ports import LearnerStore
from ltigate.services.records import Learner, LearnerFilter, LearnerProfile, LearnerVisit, Platform


def learner_profile(message: LtiMessage) -> LearnerProfile | None:
    """The user of a verified launch as a profile; None for an anonymous launch."""
    user = message.user
    if user.sub is None:
        return None
    return LearnerProfile(
        sub=user.sub,
        email=user.email,
        given_name=user.given_name,
        family_name=user.family_name,
        name=user.name,
        picture=user.picture,
        lti11_user_id=message.lti11_user_id,
    )


class Learners:
    def __init__(self, store: LearnerStore) -> None:
        self._store = store

    async def visit(self, platform: Platform, message: LtiMessage, now: float) -> LearnerVisit | None:
        """Find or create the launch's learner, update changed details and the launch time (one statement);
        None for an anonymous launch."""
        profile = learner_profile(message)
        if profile is None:
            return None
        return await self._store.visit(new_id(), platform.id, profile, now)

    async def get(self, learner_id: str) -> Learner:
        learner = await self._store.get(learner_id)
        if learner is None:
            raise NotFound(f"learner '{learner_id[:64]}' does not exist")
        return learner

    async def list(self, query: LearnerFilter) -> list[Learner]:
        """Learners matching the filter, the most recent launch first."""
        return await self._store.list(query)

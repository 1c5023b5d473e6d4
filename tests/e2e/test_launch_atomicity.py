"""A launch's writes are one unit of work: a failure half-way through keeps none of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ltigate.lti.message import LtiMessage
from ltigate.services.gateway import Gateway
from ltigate.services.launch import CookieBinding, LaunchForm
from ltigate.services.records import DeploymentPolicy, LaunchFilter, LearnerFilter, Platform
from tests.e2e.conftest import Env, Registered
from tests.e2e.test_launch import login_target, ticket_of
from tests.support.platform import Browser

Register = Callable[..., Registered]


class _Crash(RuntimeError):
    pass


def test_a_launch_that_fails_after_its_writes_keeps_none_of_them(
    env: Env, register: Register, browser: Browser
) -> None:
    reg = register(policy=DeploymentPolicy.APPROVE)
    login = browser.login(reg.platform, "quiz")
    claims = reg.platform.claims(
        nonce=login.nonce,
        target_link_uri=login_target(browser, "quiz"),
        sub="half-way",
        deployment_id="deployment-first-seen-here",
        context={"id": "course-half-way", "label": "HW1", "title": "Half way"},
    )
    token = reg.platform.token(claims)

    async def crash_at_the_end(gateway: Gateway) -> None:
        # The last step of a launch, after the state, deployment, learner, log row and course were written.
        note_launch = gateway.rosters.note_launch

        async def fail(platform: Platform, message: LtiMessage) -> None:
            await note_launch(platform, message)
            raise _Crash("the process failed here")

        gateway.launch._after_success = fail
        with pytest.raises(_Crash):
            await gateway.launch.complete(LaunchForm(id_token=token, state=login.state), CookieBinding(login.state))

    env.gateway.run(crash_at_the_end)

    async def recorded(gateway: Gateway) -> tuple[int, bool, int, bool]:
        logged = await gateway.launches.list(LaunchFilter(platform_id=reg.id, sub="half-way"))
        platform = await gateway.platforms.get(reg.id)
        learners = await gateway.learners.list(LearnerFilter(platform_id=reg.id, q="half-way"))
        contexts = await gateway.rosters.contexts(reg.id, 50)
        return (
            len(logged),
            platform.deployment("deployment-first-seen-here") is not None,
            len(learners),
            any(context.context_id == "course-half-way" for context in contexts),
        )

    assert env.gateway.run(recorded) == (0, False, 0, False)

    # The state was not consumed either: the same launch, posted now, completes (once).
    ticket_of(browser.launch(token, login.state))
    assert env.gateway.run(recorded) == (1, True, 1, True)
    assert browser.launch(token, login.state).status_code == 400

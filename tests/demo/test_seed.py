"""The demo's registrations are made sure of on every start, whatever an administrator changed since."""

from __future__ import annotations

from pathlib import Path

import anyio

from ltigate.bootstrap import build_gateway, migrate
from ltigate.demo.course import UNREGISTERED_DEPLOYMENT
from ltigate.demo.seed import DEPLOYMENT_ID, seed
from ltigate.services.records import DeploymentPolicy, DeploymentStatus
from tests.demo.conftest import demo_settings

LMS = "http://127.0.0.1:18001"
APP = "http://127.0.0.1:18002/launch"


def test_seeding_twice_repairs_the_demo_registration(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    migrate(settings)

    async def scenario() -> None:
        gateway = await build_gateway(settings)
        try:
            first_key = await seed(gateway, lms_url=LMS, app_url=APP)
            [platform] = await gateway.platforms.list()
            await gateway.platforms.set_active(platform.id, False)
            await gateway.platforms.decide_deployment(platform.id, DEPLOYMENT_ID, DeploymentStatus.REJECTED)
            await gateway.platforms.decide_deployment(platform.id, UNREGISTERED_DEPLOYMENT, DeploymentStatus.APPROVED)

            second_key = await seed(gateway, lms_url=LMS, app_url=APP)

            [platform] = await gateway.platforms.list()
            assert platform.active and platform.fields.issuer == LMS
            assert platform.fields.deployment_policy is DeploymentPolicy.REJECT
            assert platform.fields.grade_passback
            assert [(d.deployment_id, d.status) for d in platform.deployments] == [
                (DEPLOYMENT_ID, DeploymentStatus.APPROVED)
            ]
            resources = {r.fields.slug: r.fields for r in await gateway.resources.list()}
            assert sorted(resources) == ["demo/ai-assistant", "demo/algebra-quiz"]
            assert {f.app_url for f in resources.values()} == {APP}
            assert resources["demo/algebra-quiz"].score_maximum == 3
            assert resources["demo/ai-assistant"].score_maximum is None
            assert first_key != second_key
            assert (await gateway.api_keys.authenticate(second_key)).name == "demo app"
        finally:
            await gateway.close()

    anyio.run(scenario)

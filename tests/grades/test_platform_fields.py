"""The platform settings grade delivery depends on, round-tripped through the REST API.

services.platforms.check_platform_fields used to rebuild PlatformFields without send_deployment_id,
preserve_manual_grades and outcome_rules, so Platforms.create and Platforms.update (the REST API, the CLI and
the console use them) stored the defaults whatever the administrator asked for.
"""

from __future__ import annotations

from pathlib import Path

from tests.grades.conftest import api_client
from tests.support.gateway import running_gateway

RULE = {
    "outcome": "timeout",
    "activityProgress": "Submitted",
    "gradingProgress": "Pending",
    "scoreGiven": 0.5,
    "scoreMaximum": 1.0,
}


def test_grading_fields_given_to_the_api_are_stored(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gateway, api_client(gateway, gateway.api_key()) as api:
        created = api.post(
            "/api/v1/platforms",
            json={
                "name": "Careful LMS",
                "issuer": "https://lms.example.edu",
                "client_id": "c-1",
                "auth_url": "https://lms.example.edu/auth",
                "token_url": "https://lms.example.edu/token",
                "jwks_url": "https://lms.example.edu/jwks",
                "deployment_ids": ["d-1"],
                "send_deployment_id": True,
                "preserve_manual_grades": True,
                "outcome_rules": [RULE],
            },
        )
        assert created.status_code == 201, created.text
        shown = api.get(f"/api/v1/platforms/{created.json()['id']}").json()
        assert (shown["send_deployment_id"], shown["preserve_manual_grades"]) == (True, True)
        assert shown["outcome_rules"] == [RULE]

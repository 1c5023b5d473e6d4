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


def platform(**fields: object) -> dict[str, object]:
    """A platform's JSON for the API, with the outcome rule RULE."""
    return {
        "name": "Careful LMS",
        "issuer": "https://lms.example.edu",
        "client_id": "c-1",
        "auth_url": "https://lms.example.edu/auth",
        "token_url": "https://lms.example.edu/token",
        "jwks_url": "https://lms.example.edu/jwks",
        "outcome_rules": [RULE],
        **fields,
    }


def test_grading_fields_given_to_the_api_are_stored(tmp_path: Path) -> None:
    with running_gateway(tmp_path) as gateway, api_client(gateway, gateway.api_key()) as api:
        created = api.post(
            "/api/v1/platforms",
            json=platform(deployment_ids=["d-1"], send_deployment_id=True, preserve_manual_grades=True),
        )
        assert created.status_code == 201, created.text
        shown = api.get(f"/api/v1/platforms/{created.json()['id']}").json()
        assert (shown["send_deployment_id"], shown["preserve_manual_grades"]) == (True, True)
        assert shown["outcome_rules"] == [RULE]


def test_outcome_rules_that_could_not_be_sent_are_refused_when_saved(tmp_path: Path) -> None:
    """An infinite score (JSON 1e999), a scoreGiven without scoreMaximum or two rules for one outcome
    would be stored and then fail every report of that outcome (or, for infinity, every JSON answer
    showing the platform): refused with invalid_field, and the stored rules stay as they were."""
    refused = [
        ('{"scoreGiven": 1e999, "scoreMaximum": 1}', "scoreGiven"),
        ('{"scoreGiven": 1, "scoreMaximum": 1e999}', "scoreMaximum"),
        ('{"scoreGiven": 1}', "without scoreMaximum"),
    ]
    with running_gateway(tmp_path) as gateway, api_client(gateway, gateway.api_key()) as api:
        created = api.post("/api/v1/platforms", json=platform())
        assert created.status_code == 201, created.text
        path = f"/api/v1/platforms/{created.json()['id']}"
        base = '{"outcome": "completed", "activityProgress": "Completed", "gradingProgress": "FullyGraded"'
        for numbers, named in refused:
            rule = base + ", " + numbers[1:]
            answer = api.patch(
                path, content=f'{{"outcome_rules": [{rule}]}}', headers={"content-type": "application/json"}
            )
            assert answer.status_code == 422, (numbers, answer.text)
            assert answer.json()["error"]["code"] == "invalid_field"
            assert named in answer.json()["error"]["message"]
        twice = api.patch(path, json={"outcome_rules": [RULE, RULE]})
        assert twice.status_code == 422 and "more than one rule" in twice.json()["error"]["message"]
        shown = api.get(path)
        assert shown.status_code == 200
        assert shown.json()["outcome_rules"] == [RULE]

"""Score delivery against an LMS that misbehaves on command (tests.support.fake_lms): the gateway, with its
worker, must end every score delivered or failed with its reason, lose none, never post one score twice at
once, retry only what a spec-following client may retry (AGS status codes; RFC 9110 Retry-After), renew an
expired token once, and leave a grade an instructor changed by hand when the platform asks it to.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.grades.conftest import Lms, api_client, browser, registered_lms, seed_resource
from tests.support.fake_lms import launch, settle, wait_until
from tests.support.gateway import GatewayHarness, database_params
from tests.support.platform import Browser
from tests.support.worker import running_gateway_with_worker

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
BASE_RETRY = 0.5


@dataclass
class World:
    gateway: GatewayHarness
    api: httpx.Client
    browser: Browser
    main: Lms


@pytest.fixture(scope="module", params=database_params())
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("faults")
    with running_gateway_with_worker(
        tmp,
        request.param,
        LTIGATE_OUTBOUND_TIMEOUT_SECONDS="1",
        LTIGATE_RETRY_BASE_SECONDS=str(BASE_RETRY),
    ) as gateway:
        seed_resource(gateway)
        with registered_lms(gateway) as main, api_client(gateway, gateway.api_key()) as api:
            b = browser(gateway)
            try:
                yield World(gateway=gateway, api=api, browser=b, main=main)
            finally:
                b.close()


def score(api: httpx.Client, launch_id: str, comment: str, given: float = 7, maximum: float = 10) -> dict[str, Any]:
    body = {
        "scoreGiven": given,
        "scoreMaximum": maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": comment,
    }
    answer = api.post(f"/api/v1/launches/{launch_id}/score", json=body)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["status"], job["attempts"], job["score"]["comment"]) == ("pending", 0, comment)
    return dict(job)


def outcomes(world: World, key: str) -> list[str]:
    return [call.outcome for call in world.main.lms.calls(key)]


# What each scripted score meets at the LMS, and the outcome of every request the gateway then sends.
SCENARIOS: dict[str, tuple[tuple[str, ...], list[str], str]] = {
    "flaky-500": (("500", "500"), ["500", "500", "applied"], "delivered"),
    "down-503": (("503",), ["503", "applied"], "delivered"),
    "busy-429": (("429",), ["429", "applied"], "delivered"),
    "slow": (("slow",), ["abandoned", "applied"], "delivered"),
    "refused-400": (("400",), ["400"], "failed"),
}


def test_every_score_ends_delivered_or_failed_none_lost_none_posted_twice_at_once(world: World) -> None:
    lms = world.main.lms
    users = [f"fault-user-{n}" for n in range(3)]
    launches = {user: launch(world.browser, lms, user) for user in users}
    for key, (faults, _, _) in SCENARIOS.items():
        lms.script(key, *faults)
    plain = [f"plain-{n}" for n in range(24)]
    jobs = {
        key: score(world.api, launches[users[n % len(users)]], key, given=n)
        for n, key in enumerate([*SCENARIOS, *plain])
    }

    settled = settle(world.api, [job["id"] for job in jobs.values()], seconds=40)

    for key, (_, expected_calls, status) in SCENARIOS.items():
        job = settled[jobs[key]["id"]]
        assert outcomes(world, key) == expected_calls, key
        assert job["status"] == status, (key, job)
        # One attempt per post the LMS saw; an attempt lost on the way (a pooled connection the LMS had just
        # closed, a loaded machine) never reaches its handler but is a legitimate retry too.
        assert len(expected_calls) <= job["attempts"] <= len(expected_calls) + 1, (key, job)
    for key in plain:
        assert outcomes(world, key) == ["applied"], key
        assert settled[jobs[key]["id"]]["attempts"] in (1, 2)
    # Never two copies of one score at the LMS at once; each delivered score applied exactly once.
    assert max(lms.max_in_flight.values()) == 1
    applied = lms.applied()
    assert applied == {key: 1 for key in jobs if key != "refused-400"}

    # Backoff from LTIGATE_RETRY_BASE_SECONDS (0.5 s), doubling, each delay jittered to 50..100 %.
    one, two, three = lms.calls("flaky-500")
    assert two.started - one.ended >= 0.5 * BASE_RETRY - 0.01
    assert three.started - two.ended >= BASE_RETRY - 0.01
    # A 429's Retry-After: 1 is honoured even though the backoff (0.25..0.5 s) is shorter.
    first, second = lms.calls("busy-429")
    assert second.started - first.ended >= 0.95
    # The slow answer was abandoned at the gateway's 1 s outbound timeout (which covers connecting and sending
    # too, so less of it shows at the LMS), not at the LMS's 4 s.
    abandoned = lms.calls("slow")[0]
    assert 0.5 <= abandoned.ended - abandoned.started < 3.0

    refused = settled[jobs["refused-400"]["id"]]
    assert refused["last_status"] == 400
    assert "400" in refused["last_error"] and "giving up" in refused["last_error"]
    assert "malformed or stale" in refused["last_error"]
    for key in jobs:
        if key != "refused-400":
            assert settled[jobs[key]["id"]]["last_error"] is None, key

    # What reached the gradebook is the score as posted, addressed to the launch's user.
    for key, job in jobs.items():
        if key == "refused-400":
            continue
        call = next(c for c in lms.calls(key) if c.outcome == "applied")
        assert call.content_type == "application/vnd.ims.lis.v1.score+json"
        assert call.item == "1"
        assert call.body["userId"] == job["user_id"]
        assert call.body["comment"] == key
        assert call.body["scoreGiven"] == job["score"]["scoreGiven"]
        assert (call.body["scoreMaximum"], call.body["activityProgress"], call.body["gradingProgress"]) == (
            10,
            "Completed",
            "FullyGraded",
        )
        assert TIMESTAMP.match(call.body["timestamp"]), call.body["timestamp"]
        assert call.body["timestamp"] == job["score"]["timestamp"]

    # None lost: the platform has exactly these jobs, none pending.
    listed = world.api.get("/api/v1/deliveries", params={"platform_id": world.main.platform_id, "limit": 500}).json()
    assert sorted(j["id"] for j in listed) == sorted(j["id"] for j in jobs.values())
    assert {j["status"] for j in listed} == {"delivered", "failed"}

    # The refused score is listed as failed and can be retried by hand: now the LMS takes it.
    failed = world.api.get("/api/v1/deliveries", params={"status": "failed"}).json()
    assert [j["id"] for j in failed if j["platform_id"] == world.main.platform_id] == [refused["id"]]
    retried = world.api.post(f"/api/v1/deliveries/{refused['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", refused["attempts"])
    again = settle(world.api, [refused["id"]])[refused["id"]]
    assert (again["status"], again["attempts"], again["last_error"]) == ("delivered", refused["attempts"] + 1, None)
    assert outcomes(world, "refused-400") == ["400", "applied"]
    assert lms.max_in_flight["refused-400"] == 1


def test_an_expired_token_is_renewed_once_within_one_attempt(world: World) -> None:
    lms = world.main.lms
    launch_id = launch(world.browser, lms, "renew-user")
    warm = score(world.api, launch_id, "renew-warm-up")  # a token is cached before the LMS expires it
    assert settle(world.api, [warm["id"]])[warm["id"]]["status"] == "delivered"
    requests_before = len(lms.token_requests)
    lms.script("renew", "expire")

    job = score(world.api, launch_id, "renew")
    done = settle(world.api, [job["id"]])[job["id"]]

    assert (done["status"], done["attempts"], done["last_error"]) == ("delivered", 1, None)
    refused, accepted = lms.calls("renew")
    assert (refused.outcome, refused.status, accepted.outcome, accepted.status) == ("401", 401, "applied", 200)
    new_requests = lms.token_requests[requests_before:]
    assert len(new_requests) == 1, [r.form.get("scope") for r in new_requests]
    assert new_requests[0].problems == []
    assert new_requests[0].form["scope"] == "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    assert refused.token != accepted.token
    assert accepted.token == new_requests[0].access_token
    assert refused.token == lms.calls("renew-warm-up")[0].token


def test_scores_meeting_a_revoked_token_at_once_renew_it_once(world: World) -> None:
    lms = world.main.lms
    launch_id = launch(world.browser, lms, "herd-user")
    warm = score(world.api, launch_id, "herd-warm-up")
    assert settle(world.api, [warm["id"]])[warm["id"]]["status"] == "delivered"
    stale = lms.calls("herd-warm-up")[0].token
    requests_before = len(lms.token_requests)
    lms.hold = True  # the twelve posts reach the LMS with the cached token and wait there
    try:
        jobs = [score(world.api, launch_id, f"herd-{n}", given=n) for n in range(12)]
        wait_until(lambda: len(lms.in_flight_now()) == 12, 10, "twelve posts held at the LMS")
        lms.expire_tokens()
    finally:
        lms.hold = False  # now all twelve meet a 401 at once
    settled = settle(world.api, [job["id"] for job in jobs])

    assert {(j["status"], j["attempts"]) for j in settled.values()} == {("delivered", 1)}
    new_requests = lms.token_requests[requests_before:]
    assert [r.problems for r in new_requests] == [[]]  # one renewal serves every score that met the 401
    fresh = new_requests[0].access_token
    for n in range(12):
        calls = lms.calls(f"herd-{n}")
        assert calls[-1].outcome == "applied" and calls[-1].token == fresh
        assert [(c.outcome, c.token) for c in calls[:-1]] == [("401", stale)]


def test_a_grade_changed_by_hand_in_the_lms_is_not_overwritten(world: World) -> None:
    with registered_lms(world.gateway, preserve_manual_grades=True) as careful:
        lms = careful.lms
        launch_id = launch(world.browser, lms, "manual-user")
        first = score(world.api, launch_id, "manual-1", given=8)
        assert settle(world.api, [first["id"]])[first["id"]]["status"] == "delivered"
        assert lms.reads == []  # nothing delivered before: nothing to compare with
        assert lms.results[("1", "manual-user")] == (8, 10)

        second = score(world.api, launch_id, "manual-2", given=9)
        assert settle(world.api, [second["id"]])[second["id"]]["status"] == "delivered"
        (read,) = lms.reads
        assert (read.path, read.query, read.status) == ("/ctx/lineitems/1/results", "user_id=manual-user", 200)
        assert read.accept == "application/vnd.ims.lis.v2.resultcontainer+json"
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly" in read.scopes

        lms.results[("1", "manual-user")] = (5, 10)  # the instructor regrades in the LMS
        third = score(world.api, launch_id, "manual-3", given=10)
        skipped = settle(world.api, [third["id"]])[third["id"]]

        assert skipped["status"] == "skipped"
        assert "changed by hand" in skipped["last_error"]
        assert lms.calls("manual-3") == []  # the score never reached the LMS
        assert lms.results[("1", "manual-user")] == (5, 10)
        assert len(lms.reads) == 2
        shown = world.api.get(f"/api/v1/launches/{launch_id}/delivery").json()
        assert (shown["status"], shown["delivery"]["id"]) == ("skipped", third["id"])
        assert "changed by hand" in shown["delivery"]["last_error"]


@pytest.mark.parametrize("database", database_params())
def test_a_score_the_lms_never_takes_fails_after_the_maximum_age(database: str, tmp_path: Path) -> None:
    with running_gateway_with_worker(
        tmp_path, database, LTIGATE_RETRY_BASE_SECONDS="0.2", LTIGATE_RETRY_MAX_AGE_SECONDS="2"
    ) as gateway:
        seed_resource(gateway)
        with registered_lms(gateway) as down, api_client(gateway, gateway.api_key()) as api:
            down.lms.script("never", *["503"] * 50)
            b = browser(gateway)
            try:
                launch_id = launch(b, down.lms, "patient-user")
            finally:
                b.close()
            started = time.monotonic()
            job = score(api, launch_id, "never")
            done = settle(api, [job["id"]], seconds=20)[job["id"]]
            elapsed = time.monotonic() - started

    calls = down.lms.calls("never")
    assert done["status"] == "failed"
    assert done["last_status"] == 503
    assert re.match(r"gave up after \d+ attempts over [\d.]+ hours; the platform answered 503", done["last_error"])
    assert done["attempts"] >= len(calls) >= 3
    assert {c.outcome for c in calls} == {"503"}
    assert 2.0 <= elapsed < 15

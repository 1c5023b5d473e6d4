"""A worker killed with SIGKILL in the middle of delivering: `ltigate serve --no-worker` takes 200 scores,
`ltigate worker` delivers them to a slow LMS (100 ms per score) and is killed while posts are in flight; a
new worker takes over once the dead one's leases run out. Every job ends delivered, each score reached the
LMS at least once, never two copies of one job at once, and the only duplicates are jobs the dead worker
held at the kill.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ltigate.bootstrap import migrate
from ltigate.services.gateway import Gateway
from ltigate.services.records import DeliveryStatus, JobFilter, ScoreJob
from tests.grades.conftest import Lms, api_client, registered_lms, seed_resource
from tests.support.fake_lms import FakeLms, launch, wait_until
from tests.support.gateway import GatewayHarness, database_params, make_settings
from tests.support.platform import Browser
from tests.support.servers import free_port
from tests.support.worker import Process, wait_ready, wait_running

SCORES = 200
USERS = 20
LEASE_SECONDS = 3.0
LMS_DELAY = 0.1


@dataclass
class Setup:
    harness: GatewayHarness
    env: dict[str, str]
    tmp: Path
    main: Lms
    api: httpx.Client


@pytest.fixture(params=database_params())
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    port = free_port()
    settings, cleanup = make_settings(tmp_path, request.param, port)
    env = {
        "LTIGATE_DATA_DIR": str(settings.data_dir),
        "LTIGATE_DATABASE_URL": settings.database_url,
        "LTIGATE_PORT": str(port),
        "LTIGATE_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "LTIGATE_RETRY_BASE_SECONDS": "0.5",
        "LTIGATE_LOG_LEVEL": "warning",
    }
    serve: Process | None = None
    try:
        migrate(settings)
        harness = GatewayHarness(settings=settings, url=f"http://127.0.0.1:{port}")
        seed_resource(harness)
        with registered_lms(harness, FakeLms(delay=LMS_DELAY)) as main:
            serve = Process(["serve", "--no-worker"], env, tmp_path / "serve.log")
            wait_ready(harness.url, serve)
            with api_client(harness, harness.api_key()) as api:
                yield Setup(harness=harness, env=env, tmp=tmp_path, main=main, api=api)
    finally:
        if serve is not None:
            serve.stop()
        cleanup()


def jobs_now(harness: GatewayHarness, platform_id: str) -> list[ScoreJob]:
    async def read(gateway: Gateway) -> list[ScoreJob]:
        return await gateway.grades.deliveries(JobFilter(platform_id=platform_id, limit=500))

    return harness.run(read)


def queue_scores(setup: Setup) -> dict[str, dict[str, Any]]:
    """SCORES scores for USERS learners; the comment names the job for the LMS (`job-<n>`)."""
    browser = Browser(setup.harness.url)
    try:
        launches = [launch(browser, setup.main.lms, f"learner-{n:02d}") for n in range(USERS)]
    finally:
        browser.close()
    queued: dict[str, dict[str, Any]] = {}
    for n in range(SCORES):
        body = {
            "scoreGiven": n % 11,
            "scoreMaximum": 10,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "comment": f"job-{n}",
        }
        answer = setup.api.post(f"/api/v1/launches/{launches[n % USERS]}/score", json=body)
        assert answer.status_code == 202, answer.text
        queued[f"job-{n}"] = answer.json()
    return queued


def test_a_worker_killed_mid_delivery_loses_nothing_and_duplicates_only_what_it_held(setup: Setup) -> None:
    lms = setup.main.lms
    queued = queue_scores(setup)
    time.sleep(0.5)
    assert lms.score_calls == []  # serve --no-worker delivers nothing

    first = Process(["worker"], setup.env, setup.tmp / "worker-1.log")
    try:
        wait_running(first)
        wait_until(lambda: len(lms.applied()) >= 50 and lms.in_flight_now(), 30, "deliveries in flight", step=0.005)
        first.kill()
        killed_at = time.time()
        in_flight_at_kill = lms.in_flight_now()  # posts started before the kill and not yet answered
    finally:
        first.stop()
    wait_until(lambda: not lms.in_flight_now(), 10, "the LMS to finish the posts of the dead worker")

    # The dead worker's state, frozen in the database: what it delivered, and what it still held.
    frozen = {job.id: job for job in jobs_now(setup.harness, setup.main.platform_id)}
    key_of = {job["id"]: key for key, job in queued.items()}
    held = {
        key_of[job.id]: job
        for job in frozen.values()
        if job.status is DeliveryStatus.PENDING and job.lease_owner is not None
    }
    delivered_before = {key_of[j.id] for j in frozen.values() if j.status is DeliveryStatus.DELIVERED}
    applied_at_kill = lms.applied()
    assert 0 < len(delivered_before) < SCORES
    assert len(applied_at_kill) >= 50
    assert held, "the worker held no job when it was killed"
    assert in_flight_at_kill <= set(held)
    assert set(applied_at_kill) - delivered_before, "no post was between the LMS and the database at the kill"
    assert len(frozen) == SCORES
    assert {j.status for j in frozen.values()} == {DeliveryStatus.DELIVERED, DeliveryStatus.PENDING}

    second = Process(["worker"], setup.env, setup.tmp / "worker-2.log")
    try:
        wait_running(second)

        def all_delivered() -> bool:
            return all(j.status is DeliveryStatus.DELIVERED for j in jobs_now(setup.harness, setup.main.platform_id))

        wait_until(all_delivered, 60, "every job to be delivered", step=0.25)
    finally:
        second.stop()

    final = jobs_now(setup.harness, setup.main.platform_id)
    assert len(final) == SCORES and {j.status for j in final} == {DeliveryStatus.DELIVERED}
    applied = lms.applied()
    assert set(applied) == set(queued)  # every score reached the LMS
    assert max(lms.max_in_flight.values()) == 1  # never two copies of one job at once
    duplicates = {key for key, count in applied.items() if count > 1}
    assert duplicates <= set(held)
    # Exactly the held jobs whose post reached the LMS before the kill (answered, or still being answered).
    assert duplicates == set(applied_at_kill) - delivered_before
    assert in_flight_at_kill <= duplicates
    assert all(applied[key] == 2 for key in duplicates)
    assert all(applied[key] == 1 for key in delivered_before)
    # A held job went out again only after the dead worker's lease ran out.
    for key, job in held.items():
        assert job.lease_until is not None
        assert job.lease_until - job.updated_at == pytest.approx(LEASE_SECONDS)  # LTIGATE_OUTBOX_LEASE_SECONDS
        later = [c for c in lms.calls(key) if c.at > killed_at]
        assert len(later) == 1, key
        assert later[0].at >= job.lease_until - 0.05, (key, later[0].at, job.lease_until)
    # The bodies of the duplicates are the same score, byte for byte the same timestamp.
    for key in duplicates:
        bodies = [c.body for c in lms.calls(key)]
        assert bodies[0] == bodies[1]
        assert bodies[0]["timestamp"] == queued[key]["score"]["timestamp"]

    unrecorded = set(applied_at_kill) - delivered_before
    print(
        f"\n[{setup.harness.settings.database_url.split('+')[0]}] SIGKILL after {len(delivered_before)} of {SCORES}"
        f" recorded delivered; jobs the dead worker held: {len(held)}; of those, posts in flight at the LMS at the"
        f" kill: {len(in_flight_at_kill)}, answered 2xx but not yet recorded: {len(unrecorded - in_flight_at_kill)},"
        f" never sent: {len(set(held) - unrecorded - in_flight_at_kill)}; duplicates after the restart:"
        f" {len(duplicates)}"
    )

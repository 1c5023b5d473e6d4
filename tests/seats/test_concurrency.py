"""The seat cap under concurrency: 200 distinct learners launching at once against 50 seats get exactly 50
seats and 150 seats_exhausted pages — on SQLite with one gateway process, and on PostgreSQL with two
`ltigate serve` processes sharing the database, launches spread over both, all through real HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ltigate.bootstrap import migrate
from ltigate.config import load_settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields
from ltigate.web.lti_endpoints import state_cookie_name
from tests.e2e.test_multi_node import start_node, wait_ready
from tests.seats.conftest import Registered, launch_claims, seed_resource, ticket_summary
from tests.support.gateway import POSTGRES_ENV, GatewayHarness, fresh_postgres_database, running_gateway
from tests.support.platform import LEARNER, Browser, ScriptedPlatform
from tests.support.platform import error_code as code_of
from tests.support.servers import ServerThread, free_port

SEATS, LEARNERS, IN_FLIGHT = 50, 200, 50


@dataclass
class Attempt:
    sub: str
    node: str
    id_token: str
    state: str


@dataclass
class Served:
    harness: GatewayHarness
    nodes: list[str]  # where launches are posted, in turn
    platform: ScriptedPlatform
    platform_id: str


def prepare(served: Served) -> list[Attempt]:
    """A login per learner (spread over the nodes) and its signed id_token, ready to post."""
    attempts = []
    browsers = [Browser(node) for node in served.nodes]
    reg = Registered(platform=served.platform, id=served.platform_id)
    try:
        for browser in browsers:
            browser.gateway_url = served.harness.url  # every node serves the one public URL
        for n in range(LEARNERS):
            browser = browsers[n % len(browsers)]
            login = browser.login(served.platform, "quiz")
            sub = f"learner-{n:03}"
            claims = launch_claims(reg, browser, login.nonce, sub, (LEARNER,), {"name": f"Learner {n}"})
            node = served.nodes[(n + 1) % len(served.nodes)]  # with two nodes, complete on the other one
            attempts.append(Attempt(sub, node, served.platform.token(claims), login.state))
    finally:
        for browser in browsers:
            browser.close()
    return attempts


async def launch_all(attempts: Sequence[Attempt]) -> list[httpx.Response]:
    """Post every launch at once, at most IN_FLIGHT in flight; each carries its own login cookie."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def post(attempt: Attempt) -> httpx.Response:
            async with gate:
                return await client.post(
                    f"{attempt.node}/lti/launch",
                    data={"id_token": attempt.id_token, "state": attempt.state},
                    headers={"Cookie": f"{state_cookie_name(attempt.state)}={attempt.state}"},
                )

        return await asyncio.gather(*(post(a) for a in attempts))


def check_the_cap(served: Served) -> None:
    attempts = prepare(served)
    started = time.perf_counter()
    responses = asyncio.run(launch_all(attempts))
    elapsed = time.perf_counter() - started

    outcomes = Counter((r.status_code, code_of(r)) for r in responses)
    assert outcomes == {(303, None): SEATS, (403, "seats_exhausted"): LEARNERS - SEATS}, outcomes
    admitted = {str(ticket_summary(r)["user_id"]) for r in responses if r.status_code == 303}
    refused_page = next(r for r in responses if r.status_code == 403)
    assert "All seats are taken" in refused_page.text
    assert f"has {SEATS} seats licensed and {SEATS} in use" in refused_page.text.replace("&#39;", "'")

    headers = {"Authorization": f"Bearer {served.harness.api_key()}"}
    with httpx.Client(base_url=served.harness.url, headers=headers, timeout=30) as api:
        seats = api.get(f"/api/v1/platforms/{served.platform_id}/seats", params={"limit": 500}).json()
        assert seats["usage"] == {
            "platform_id": served.platform_id,
            "seats_licensed": SEATS,
            "used": SEATS,
            "remaining": 0,
        }
        assert {s["learner_id"] for s in seats["seats"]} == admitted  # the counter equals the seats held
        log = api.get(
            "/api/v1/launches", params={"platform_id": served.platform_id, "limit": 500, "outcome": "failed"}
        ).json()
        assert Counter(entry["error_code"] for entry in log) == {"seats_exhausted": LEARNERS - SEATS}
        learners = api.get("/api/v1/learners", params={"platform_id": served.platform_id, "limit": 500}).json()
        assert len(learners) == LEARNERS
    by_node = Counter(a.node for a in attempts)
    print(  # the figures for the record (pytest -s)
        f"\n{LEARNERS} launches against {SEATS} seats on {len(served.nodes)} node(s) {dict(by_node)}: "
        f"{outcomes[(303, None)]} admitted, {outcomes[(403, 'seats_exhausted')]} seats_exhausted "
        f"in {elapsed:.2f} s ({LEARNERS / elapsed:.0f} launches/s, {IN_FLIGHT} in flight)"
    )


@contextmanager
def capped_platform(harness: GatewayHarness) -> Iterator[tuple[ScriptedPlatform, str]]:
    """A platform with SEATS seats and its key set served over HTTP."""
    platform = ScriptedPlatform()
    with ServerThread(platform.app(), lifespan="off") as jwks:
        platform.issuer = f"{jwks.url}/lms"

        async def create(gateway: Gateway) -> str:
            fields = PlatformFields(**platform.platform_fields(jwks.url, seats=SEATS))  # type: ignore[arg-type]
            return (await gateway.platforms.create(fields)).id

        yield platform, harness.run(create)


def test_the_cap_holds_under_concurrent_launches_on_sqlite(tmp_path: Path) -> None:
    with running_gateway(tmp_path, "sqlite") as harness:
        seed_resource(harness)
        with capped_platform(harness) as (platform, platform_id):
            check_the_cap(Served(harness, [harness.url], platform, platform_id))


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[GatewayHarness, list[str]]]:
    """Two `ltigate serve` processes on one fresh PostgreSQL database, both serving one public URL."""
    url, drop = fresh_postgres_database(os.environ[POSTGRES_ENV])
    ports = [free_port(), free_port()]
    base = f"http://127.0.0.1:{ports[0]}"
    env = {
        "LTIGATE_DATABASE_URL": url,
        "LTIGATE_BASE_URL": base,
        "LTIGATE_DATA_DIR": str(tmp_path / "data"),
        "LTIGATE_SECRET_KEY": "s" * 43,
    }
    settings = load_settings(env=env)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        migrate(settings)
        harness = GatewayHarness(settings=settings, url=base)
        harness.run(lambda gateway: gateway.tool_keys.ensure())  # one key set, made before both nodes start
        for port, name in zip(ports, "ab", strict=True):
            processes.append(start_node(env, port, tmp_path / f"node-{name}.log"))
        for process, port, name in zip(processes, ports, "ab", strict=True):
            wait_ready(f"http://127.0.0.1:{port}", process, tmp_path / f"node-{name}.log")
        yield harness, [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        drop()


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set")
def test_the_cap_holds_across_two_server_processes_on_postgres(
    two_nodes: tuple[GatewayHarness, list[str]],
) -> None:
    harness, nodes = two_nodes
    seed_resource(harness)
    with capped_platform(harness) as (platform, platform_id):
        check_the_cap(Served(harness, nodes, platform, platform_id))

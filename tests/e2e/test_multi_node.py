"""Two `ltigate serve` processes sharing one PostgreSQL database: a login on one completes on the other,
and a replay of that launch is refused by both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ltigate.bootstrap import migrate
from ltigate.config import load_settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.support.gateway import POSTGRES_ENV, GatewayHarness, fresh_postgres_database
from tests.support.platform import Browser, ScriptedPlatform, error_code
from tests.support.servers import ServerThread, free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set"),
]


def start_node(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ltigate", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"node exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"node at {url} not ready: {log.read_text()[-2000:]}")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[str, str, ScriptedPlatform]]:
    url, drop = fresh_postgres_database(os.environ[POSTGRES_ENV])
    port_a, port_b = free_port(), free_port()
    base = f"http://127.0.0.1:{port_a}"  # both nodes serve one public URL, as behind a load balancer
    env = {
        "LTIGATE_DATABASE_URL": url,
        "LTIGATE_BASE_URL": base,
        "LTIGATE_DATA_DIR": str(tmp_path / "data"),
        "LTIGATE_SECRET_KEY": "q" * 43,
    }
    settings = load_settings(env=env)
    platform = ScriptedPlatform()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        migrate(settings)
        with ServerThread(platform.app(), lifespan="off") as jwks_server:
            platform.issuer = f"{jwks_server.url}/lms"

            async def seed(gateway: Gateway) -> None:
                await gateway.platforms.create(PlatformFields(**platform.platform_fields(jwks_server.url)))  # type: ignore[arg-type]
                await gateway.resources.create(
                    ResourceFields(slug="quiz", title="Quiz", app_url="http://127.0.0.1:9/app")
                )

            GatewayHarness(settings=settings, url=base).run(seed)
            for port, name in ((port_a, "a"), (port_b, "b")):
                processes.append(start_node(env, port, tmp_path / f"node-{name}.log"))
            for process, port, name in zip(processes, (port_a, port_b), "ab", strict=True):
                wait_ready(f"http://127.0.0.1:{port}", process, tmp_path / f"node-{name}.log")
            yield base, f"http://127.0.0.1:{port_b}", platform
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        drop()


def test_login_on_one_node_completes_on_the_other_and_replays_fail_on_both(
    nodes: tuple[str, str, ScriptedPlatform], tmp_path: Path
) -> None:
    node_a, node_b, platform = nodes
    browser = Browser(node_a)
    try:
        login = browser.login(platform, "quiz")
        claims = platform.claims(nonce=login.nonce, target_link_uri=f"{node_a}/lti/launch?resource=quiz")
        token = platform.token(claims)
        form = {"id_token": token, "state": login.state}
        completed = browser.http.post(f"{node_b}/lti/launch", data=form)
        assert completed.status_code == 303, error_code(completed)
        assert "ticket=" in completed.headers["location"]
        replay_ids = []
        for node in (node_a, node_b):
            replay = browser.http.post(f"{node}/lti/launch", data=form)
            assert (replay.status_code, error_code(replay)) == (400, "launch_replayed")
            replay_ids.append(replay.headers["x-request-id"])
        # `serve` logs one JSON object a line; the refusal is logged under the id its answer named.
        logged = (tmp_path / "node-b.log").read_text()
        lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
        refused = [line for line in lines if line.get("request_id") == replay_ids[1]]
        assert [line["error_code"] for line in refused] == ["launch_replayed"]
        assert token not in logged and login.state not in logged
    finally:
        browser.close()

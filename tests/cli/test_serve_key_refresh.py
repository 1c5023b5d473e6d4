"""A server process that runs no worker (`serve --no-worker`) still reloads the tool keys, so after
`ltigate keys rotate` in another process it publishes the new `next` key and signs with the promoted one."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import httpx

from ltigate.bootstrap import build_gateway, migrate
from ltigate.cli.serve import background_tasks
from ltigate.services.gateway import Gateway
from ltigate.services.records import KeyPurpose
from ltigate.services.tool_keys import RotationResult
from ltigate.web.app import DeferredApp
from ltigate.worker import housekeeping, runner
from tests.support.gateway import GatewayHarness, make_settings
from tests.support.servers import ServerThread, free_port


def test_without_the_worker_a_server_process_still_reloads_the_keys() -> None:
    assert background_tasks(run_worker=True) == [runner.run_all]
    assert background_tasks(run_worker=False) == [housekeeping.refresh_keys]
    # Under `serve --workers N`, also the metrics every process leaves for the others' scrapes.
    assert background_tasks(run_worker=False, supervised=True) == [
        housekeeping.refresh_keys,
        housekeeping.publish_metrics,
    ]


def test_a_server_without_the_worker_picks_up_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    port = free_port()
    settings, cleanup = make_settings(tmp_path, "sqlite", port)
    try:
        migrate(settings)
        refresh = functools.partial(housekeeping.refresh_keys, interval=0.05)
        with ServerThread(DeferredApp(lambda: build_gateway(settings), background=[refresh]), port=port) as server:
            served_before = _served_kids(server.url)
            elsewhere = GatewayHarness(settings=settings, url=server.url)

            async def rotate(gateway: Gateway) -> RotationResult:
                return await gateway.tool_keys.rotate(KeyPurpose.LTI)

            result = elsewhere.run(rotate)
            assert result.activated in served_before  # it was published ahead as `next`
            assert result.published_next not in served_before
            deadline = time.monotonic() + 10
            while result.published_next not in _served_kids(server.url) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _served_kids(server.url) == served_before | {result.published_next}
    finally:
        cleanup()


def _served_kids(base_url: str) -> set[str]:
    answer = httpx.get(f"{base_url}/.well-known/jwks.json", timeout=5)
    assert answer.status_code == 200
    return {key["kid"] for key in answer.json()["keys"] if key["alg"] == "RS256"}

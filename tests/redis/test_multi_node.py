"""Two served gateways sharing one database and one Redis, as two nodes behind a load balancer: a login on
one completes on the other, the platform's key set is fetched once for both, replays are refused by both;
and with Redis gone, launches still complete (each node fetches for itself), never with a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ltigate.bootstrap import build_gateway, migrate
from ltigate.config import Settings, load_settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from ltigate.web.app import DeferredApp
from tests.redis.conftest import SharedRedis
from tests.redis.sockets import redis_port, redis_url_at
from tests.support.gateway import GatewayHarness
from tests.support.platform import Browser, ScriptedPlatform, error_code
from tests.support.servers import ServerThread, free_port
from tests.support.tcp_proxy import TcpProxy


@dataclass
class Nodes:
    a: str
    b: str
    platform: ScriptedPlatform
    settings: Settings
    api_key: str

    def launch(self, login_on: str, launch_on: str, replay_on: tuple[str, ...] | None = None) -> httpx.Response:
        """Log in through one node, post the platform's id_token to another (one browser, one cookie jar);
        after a success, check that the launch cannot be replayed (on both nodes unless `replay_on` says)."""
        browser = Browser(login_on)
        try:
            target = f"{self.a}/lti/launch?resource=quiz"  # the public URL, whichever node answers
            login = browser.login(self.platform, "quiz", target_link_uri=target)
            claims = self.platform.claims(nonce=login.nonce, target_link_uri=target)
            form = {"id_token": self.platform.token(claims), "state": login.state}
            response = browser.http.post(f"{launch_on}/lti/launch", data=form)
            if response.status_code == 303:
                for node in replay_on or (self.a, self.b):
                    replay = browser.http.post(f"{node}/lti/launch", data=form)
                    assert (replay.status_code, error_code(replay)) == (400, "launch_replayed")
            return response
        finally:
            browser.close()

    def __iter__(self) -> Iterator[str]:
        return iter((self.a, self.b))

    def metrics(self, node: str) -> str:
        response = httpx.get(f"{node}/metrics", headers={"Authorization": f"Bearer {self.api_key}"}, timeout=10)
        assert response.status_code == 200
        return response.text


@contextmanager
def two_nodes(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[Nodes]:
    port_a, port_b = free_port(), free_port()
    base = f"http://127.0.0.1:{port_a}"  # both nodes serve one public URL
    env = {
        "LTIGATE_DATA_DIR": str(tmp_path / "data"),
        "LTIGATE_BASE_URL": base,
        "LTIGATE_REDIS_URL": redis_url,
        "LTIGATE_REDIS_KEY_PREFIX": prefix,
        "LTIGATE_REDIS_TIMEOUT_SECONDS": "0.5",
    }
    settings = load_settings(env=env)
    migrate(settings)
    platform = ScriptedPlatform()
    with ExitStack() as stack:
        jwks_server = stack.enter_context(ServerThread(platform.app(), lifespan="off"))
        platform.issuer = f"{jwks_server.url}/lms"

        async def seed(gateway: Gateway) -> str:
            await gateway.platforms.create(PlatformFields(**platform.platform_fields(jwks_server.url)))  # type: ignore[arg-type]
            await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url="http://127.0.0.1:9/app"))
            return (await gateway.api_keys.create("metrics")).secret

        api_key = GatewayHarness(settings=settings, url=base).run(seed)
        for port in (port_a, port_b):
            stack.enter_context(ServerThread(DeferredApp(lambda: build_gateway(settings)), port=port))
        yield Nodes(a=base, b=f"http://127.0.0.1:{port_b}", platform=platform, settings=settings, api_key=api_key)


def test_one_key_set_fetch_serves_both_nodes_and_replays_fail_on_both(
    tmp_path: Path, shared_redis: SharedRedis
) -> None:
    with two_nodes(tmp_path, shared_redis.url, shared_redis.prefix) as nodes:
        first = nodes.launch(login_on=nodes.a, launch_on=nodes.b)
        assert first.status_code == 303, error_code(first)
        assert "ticket=" in first.headers["location"]
        second = nodes.launch(login_on=nodes.b, launch_on=nodes.a)
        assert second.status_code == 303, error_code(second)
        assert nodes.platform.jwks_fetches == 1  # node b fetched; node a took the set from Redis
        assert "ltigate_jwks_fetches_total 1\n" in nodes.metrics(nodes.b)
        metrics_a = nodes.metrics(nodes.a)
        assert "ltigate_jwks_fetches_total 0\n" in metrics_a
        assert "ltigate_jwks_shared_sets_total 1\n" in metrics_a
        assert 'ltigate_redis_fallbacks_total{cache="jwks"} 0\n' in metrics_a
        assert any(b":jwks:" in key for key in shared_redis.stored_keys())


@pytest.mark.parametrize("down", ["closed port", "cut proxy"])
def test_without_redis_launches_complete_on_both_nodes(tmp_path: Path, shared_redis: SharedRedis, down: str) -> None:
    with TcpProxy(redis_port(shared_redis.url)) as proxy:
        url = redis_url_at(shared_redis.url, proxy.port if down == "cut proxy" else free_port())
        with two_nodes(tmp_path, url, shared_redis.prefix) as nodes:
            if down == "cut proxy":
                # Node a fetches and shares the key set; node b has not needed it yet.
                assert nodes.launch(login_on=nodes.a, launch_on=nodes.a, replay_on=(nodes.a,)).status_code == 303
                proxy.down()
            for login_on, launch_on in ((nodes.a, nodes.b), (nodes.b, nodes.a), (nodes.a, nodes.b)):
                response = nodes.launch(login_on=login_on, launch_on=launch_on)
                assert response.status_code == 303, (response.status_code, error_code(response))
            assert nodes.platform.jwks_fetches == 2  # without Redis each node fetches for itself, once
            fallbacks = [sample(nodes.metrics(node), 'ltigate_redis_fallbacks_total{cache="jwks"}') for node in nodes]
            assert sum(fallbacks) >= 1  # counted (and logged) where Redis was needed and missing


def sample(metrics: str, series: str) -> float:
    [value] = [line.split()[-1] for line in metrics.splitlines() if line.startswith(series + " ")]
    return float(value)

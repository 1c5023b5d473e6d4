"""The deploy tests' setting: a migrated database (SQLite, or PostgreSQL when configured) seeded with a
platform whose key set a ScriptedPlatform serves on 127.0.0.1, a resource and an API key, and the
LTIGATE_* environment that `ltigate serve` processes run with."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ltigate.bootstrap import migrate
from ltigate.config import load_settings
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.e2e.conftest import APP_URL, Registered
from tests.support.gateway import POSTGRES_ENV, GatewayHarness, fresh_postgres_database
from tests.support.platform import ScriptedPlatform
from tests.support.servers import ServerThread, free_port
from tests.support.worker import Process


@dataclass
class Deployment:
    env: dict[str, str]  # LTIGATE_* for `ltigate serve`
    harness: GatewayHarness  # the same database, for seeding through the use cases
    registered: Registered  # the platform, registered
    api_key: str

    @property
    def port(self) -> int:
        return int(self.env["LTIGATE_PORT"])

    @property
    def url(self) -> str:
        """Where `ltigate serve` itself listens."""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def database(tmp: Path, kind: str) -> Iterator[dict[str, str]]:
    """LTIGATE_* naming a fresh, empty database: SQLite in `tmp`, or a new database on the test server."""
    env = {"LTIGATE_DATA_DIR": str(tmp / "data"), "LTIGATE_SECRET_KEY": "q" * 43}
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if kind == "postgres":
        env["LTIGATE_DATABASE_URL"], drop = fresh_postgres_database(os.environ[POSTGRES_ENV])
    try:
        yield env
    finally:
        drop()


@contextmanager
def deployment(tmp: Path, kind: str, **extra: str) -> Iterator[Deployment]:
    """A migrated, seeded database; `extra` LTIGATE_* settings win over the defaults (port, base URL)."""
    port = free_port()
    with database(tmp, kind) as env:
        env.update({"LTIGATE_PORT": str(port), "LTIGATE_BASE_URL": f"http://127.0.0.1:{port}", **extra})
        settings = load_settings(env=env)
        migrate(settings)
        platform = ScriptedPlatform()
        with ServerThread(platform.app(), lifespan="off") as key_set_server:
            platform.issuer = f"{key_set_server.url}/lms"
            harness = GatewayHarness(settings=settings, url=settings.base_url)

            async def seed(gateway: Gateway) -> str:
                fields = platform.platform_fields(key_set_server.url)
                created = await gateway.platforms.create(PlatformFields(**fields))  # type: ignore[arg-type]
                await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))
                return created.id

            registered = Registered(platform=platform, id=harness.run(seed), url=key_set_server.url)
            yield Deployment(env=env, harness=harness, registered=registered, api_key=harness.api_key())


def wait_for_line(process: Process, text: str, seconds: float = 60.0) -> None:
    """Until `text` is in the process's output; fails early when the process exits."""
    deadline = time.monotonic() + seconds
    while text not in process.log.read_text(errors="replace"):
        if process.popen.poll() is not None:
            raise AssertionError(f"the process exited ({process.popen.returncode}): {process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} within {seconds:g} s: {process.tail()}")
        time.sleep(0.05)

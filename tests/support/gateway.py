"""A real gateway for tests: migrated database (SQLite file, or PostgreSQL when configured), served over
HTTP on 127.0.0.1 by uvicorn in a thread, plus helpers to seed it through the use cases.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.engine import make_url

from ltigate.bootstrap import build_gateway, migrate
from ltigate.config import Settings, load_settings
from ltigate.services.gateway import Gateway
from ltigate.web.app import DeferredApp
from tests.support.servers import ServerThread, free_port

POSTGRES_ENV = "LTIGATE_TEST_POSTGRES_URL"
T = TypeVar("T")


def database_params() -> list[object]:
    """pytest params: 'sqlite' always, 'postgres' skipped cleanly without LTIGATE_TEST_POSTGRES_URL."""
    skip = pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} is not set")
    return ["sqlite", pytest.param("postgres", marks=[skip, pytest.mark.postgres])]


def _admin(base_url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(base_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def fresh_postgres_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the test server, so runs are independent; returns (url, drop)."""
    name = "ltigate_t_" + uuid.uuid4().hex[:12]
    _admin(base_url, f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    return url, lambda: _admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class GatewayHarness:
    settings: Settings
    url: str

    def run(self, work: Callable[[Gateway], Awaitable[T]]) -> T:
        """Run `work` against a gateway built in a fresh event loop (the served one keeps its own)."""

        async def main() -> T:
            gateway = await build_gateway(self.settings)
            try:
                result = await work(gateway)
                gateway.registrations.invalidate()
                return result
            finally:
                await gateway.close()

        return asyncio.run(main())

    def api_key(self) -> str:
        async def create(gateway: Gateway) -> str:
            return (await gateway.api_keys.create("tests")).secret

        return self.run(create)


def make_settings(tmp_path: Path, database: str, port: int, **extra: str) -> tuple[Settings, Callable[[], None]]:
    env = {"LTIGATE_DATA_DIR": str(tmp_path / "data"), "LTIGATE_PORT": str(port), **extra}
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if database == "postgres":
        url, cleanup = fresh_postgres_database(os.environ[POSTGRES_ENV])
        env["LTIGATE_DATABASE_URL"] = url
    return load_settings(env=env), cleanup


@contextmanager
def running_gateway(tmp_path: Path, database: str = "sqlite", **extra: str) -> Iterator[GatewayHarness]:
    port = free_port()
    settings, cleanup = make_settings(tmp_path, database, port, **extra)
    try:
        migrate(settings)
        with ServerThread(DeferredApp(lambda: build_gateway(settings)), port=port) as server:
            yield GatewayHarness(settings=settings, url=server.url)
    finally:
        cleanup()

"""Fixtures for the storage adapter tests: a fresh, migrated database for every test, on SQLite and, when
LTIGATE_TEST_POSTGRES_URL names a server, on PostgreSQL (a throwaway database per test, copied from a
template migrated once per run). Async tests run on asyncio through anyio's pytest plugin.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

try:
    import ltigate  # noqa: F401
except ModuleNotFoundError:  # the package is not installed into the venv yet: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ltigate.db.engine import create_engine
from ltigate.db.migrate import upgrade

POSTGRES_URL_VARIABLE = "LTIGATE_TEST_POSTGRES_URL"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class PostgresServer:
    """Creates and drops throwaway databases on the server of LTIGATE_TEST_POSTGRES_URL."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._prefix = f"ltigate_test_{secrets.token_hex(4)}"
        self._numbers = itertools.count()
        self.created: list[str] = []
        self.template: str | None = None

    def url(self, database: str) -> str:
        return self._url.set(database=database).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        async def run() -> None:
            # CREATE and DROP DATABASE cannot run inside a transaction.
            engine = create_async_engine(self._url, isolation_level="AUTOCOMMIT")
            try:
                async with engine.connect() as connection:
                    await connection.exec_driver_sql(statement)
            finally:
                await engine.dispose()

        asyncio.run(run())

    def create(self, template: str | None = None) -> str:
        """A new empty (or template-copied) database; returns its URL."""
        name = f"{self._prefix}_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return self.url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(str(name))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    server = PostgresServer(url)
    template_url = server.create()
    upgrade(template_url)
    server.template = make_url(template_url).database
    yield server
    for name in list(server.created):
        server.drop(server.url(name))


@pytest.fixture
def missing_postgres_database_url(postgres: PostgresServer) -> str:
    """A URL on the PostgreSQL test server naming a database that does not exist."""
    return postgres.url("ltigate_no_such_database")


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'ltigate.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database at the head revision, used by this test alone."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'ltigate.db'}"
        upgrade(url)
        yield url
        return
    yield request.getfixturevalue("postgres_database_url")


@pytest.fixture
def postgres_database_url(postgres: PostgresServer) -> Iterator[str]:
    """A database at the head revision on the PostgreSQL test server, used by this test alone (for tests of
    PostgreSQL's own paths)."""
    url = postgres.create(template=postgres.template)
    yield url
    postgres.drop(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()

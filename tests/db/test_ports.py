"""Each store implements its service port with exactly the port's methods and signatures."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ltigate.db.apikeys import SqlApiKeyStore
from ltigate.db.keys import SqlKeyStore
from ltigate.db.launches import SqlLaunchLog
from ltigate.db.outbox import SqlScoreOutbox
from ltigate.db.platforms import SqlPlatformStore
from ltigate.db.resources import SqlResourceStore
from ltigate.db.rosters import SqlRosterStore
from ltigate.db.states import SqlStateStore
from ltigate.db.tokens import SqlTokenCache
from ltigate.services import ports

PAIRS = [
    (ports.PlatformStore, SqlPlatformStore),
    (ports.ResourceStore, SqlResourceStore),
    (ports.StateStore, SqlStateStore),
    (ports.LaunchLog, SqlLaunchLog),
    (ports.KeyStore, SqlKeyStore),
    (ports.ApiKeyStore, SqlApiKeyStore),
    (ports.ScoreOutbox, SqlScoreOutbox),
    (ports.TokenCache, SqlTokenCache),
    (ports.RosterStore, SqlRosterStore),
]


def port_methods(port: type) -> list[str]:
    return sorted(name for name, value in vars(port).items() if inspect.isfunction(value) and not name.startswith("_"))


@pytest.mark.parametrize(("port", "store"), PAIRS, ids=[store.__name__ for _, store in PAIRS])
def test_store_matches_its_port(port: type, store: type) -> None:
    public = sorted(
        name for name, value in vars(store).items() if inspect.isfunction(value) and not name.startswith("_")
    )
    assert public == port_methods(port)
    for name in port_methods(port):
        expected, actual = inspect.signature(getattr(port, name)), inspect.signature(getattr(store, name))
        assert [(p.name, p.kind, p.default) for p in actual.parameters.values()] == [
            (p.name, p.kind, p.default) for p in expected.parameters.values()
        ], name
        # Annotations are strings (postponed evaluation); list[...] and builtins.list[...] mean the same.
        assert actual.return_annotation.replace("builtins.", "") == expected.return_annotation.replace(
            "builtins.", ""
        ), name
        assert inspect.iscoroutinefunction(getattr(store, name)), name


def check_types(engine: AsyncEngine) -> None:
    """Never called: mypy checks that each store is assignable to its port."""
    _platforms: ports.PlatformStore = SqlPlatformStore(engine)
    _resources: ports.ResourceStore = SqlResourceStore(engine)
    _states: ports.StateStore = SqlStateStore(engine)
    _launches: ports.LaunchLog = SqlLaunchLog(engine)
    _keys: ports.KeyStore = SqlKeyStore(engine)
    _api_keys: ports.ApiKeyStore = SqlApiKeyStore(engine)
    _outbox: ports.ScoreOutbox = SqlScoreOutbox(engine)
    _tokens: ports.TokenCache = SqlTokenCache(engine)
    _rosters: ports.RosterStore = SqlRosterStore(engine)

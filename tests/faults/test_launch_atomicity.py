"""A database failure in the middle of one launch's writes, made deterministic: just before a chosen statement
of the launch, PostgreSQL's connection is cut (TcpProxy, `ltigate serve` as a process) or SQLite's statement
fails with a disk I/O error (a `before_cursor_execute` listener, the gateway served in-process).

The launch gets the 503 page and the next launch works; and the launch is in the database whole (state
consumed, learner seated, launch logged) or not at all, so the browser may post it again.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from tests.faults.conftest import SEATS, Attempt, Node, half_recorded, launch, register, seed_resource, stored
from tests.support.gateway import database_params, running_gateway
from tests.support.platform import Browser, ScriptedPlatform, error_code
from tests.support.servers import ServerThread
from tests.support.tcp_proxy import Cut

# Writes of a launch after its state is consumed (one unit of work since fcfa397; before it, each its own
# transaction, and a failure before any of these left the state consumed and the launch unlogged).
CUT_BEFORE = {
    "learner upsert": r"^\s*INSERT INTO learners",
    "seat": r"^\s*INSERT INTO seats",
    "launch log": r"^\s*INSERT INTO launches",
}


class FailingStatement:
    """Makes the first statement matching a pending Cut raise SQLite's 'disk I/O error', on every engine of this
    process (the served gateway's included): SQLAlchemy's public `before_cursor_execute` event."""

    def __init__(self) -> None:
        self._cuts: list[Cut] = []

    def cut_before(self, pattern: str) -> Cut:
        cut = Cut(re.compile(pattern, re.IGNORECASE))
        self._cuts.append(cut)
        return cut

    def __call__(self, _conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        for cut in self._cuts:
            if cut.pattern.search(statement):
                self._cuts.remove(cut)
                cut.sql = statement
                cut.fired.set()
                raise OperationalError(statement, parameters, sqlite3.OperationalError("disk I/O error"))


@pytest.fixture(scope="module", params=database_params())
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if request.param == "postgres":
        yield request.getfixturevalue("proxied_node")
        return
    failing = FailingStatement()
    event.listen(Engine, "before_cursor_execute", failing)
    try:
        with running_gateway(tmp_path_factory.mktemp("atomicity")) as harness:
            seed_resource(harness)
            platform = ScriptedPlatform()
            with ServerThread(platform.app(), lifespan="off") as jwks:
                platform.issuer = f"{jwks.url}/lms"
                platform_id = register(harness, platform, jwks.url, seats=SEATS)
                yield Node(harness, platform, platform_id, harness.api_key(), failing.cut_before)
    finally:
        event.remove(Engine, "before_cursor_execute", failing)


@dataclass
class CutLaunch:
    answer: httpx.Response
    state: str
    token: str


def cut_mid_launch(node: Node, browser: Browser, statement: str, sub: str) -> CutLaunch:
    """A launch by `sub` whose database fails just before `statement`."""
    assert launch(browser, node.platform, f"warm-up-{sub}").status_code == 303  # the statements are prepared
    login = browser.login(node.platform, "quiz")
    target = f"{node.url}/lti/launch?resource=quiz"
    token = node.platform.token(node.platform.claims(nonce=login.nonce, target_link_uri=target, sub=sub))
    cut = node.cut_before(CUT_BEFORE[statement])
    answer = browser.launch(token, login.state)
    assert cut.fired.is_set(), f"no statement matched {CUT_BEFORE[statement]!r}"
    return CutLaunch(answer, login.state, token)


@pytest.mark.parametrize("statement", list(CUT_BEFORE))
def test_a_failure_mid_launch_fails_that_launch_cleanly(node: Node, browser: Browser, statement: str) -> None:
    cut = cut_mid_launch(node, browser, statement, f"clean-{statement}")
    assert (cut.answer.status_code, error_code(cut.answer)) == (503, "database_unavailable"), cut.answer.text[:500]
    assert "the database is unavailable" in cut.answer.text
    assert launch(browser, node.platform, f"after-{statement}").status_code == 303
    db = stored(node.harness, node.platform_id)
    assert db.seats_used == len(db.seats)  # a seat's counter and its row are one transaction


@pytest.mark.parametrize("statement", list(CUT_BEFORE))
def test_a_failure_mid_launch_leaves_the_launch_whole_or_absent(node: Node, browser: Browser, statement: str) -> None:
    sub = f"whole-{statement}"
    cut = cut_mid_launch(node, browser, statement, sub)
    db = stored(node.harness, node.platform_id)
    assert half_recorded([Attempt(sub, cut.state, cut.answer.status_code, error_code(cut.answer))], db) == {}
    # Nothing of it was kept, so the browser may post the launch again (a refresh) and get in.
    again = browser.launch(cut.token, cut.state)
    assert again.status_code == 303, error_code(again)
    assert sub in stored(node.harness, node.platform_id).succeeded_subs()


@pytest.fixture
def browser(node: Node) -> Iterator[Browser]:
    b = Browser(node.url)
    yield b
    b.close()

"""`ltigate serve` killed with SIGKILL at a random point while browsers launch, then started again on the same
database. The platform licenses exactly one seat per learner of the test, so a leaked or doubled seat shows as
a refused launch. Afterwards: every launch whose browser got its 303 is in the launch log once, with its
learner seated; a launch the kill cut is there whole or not at all; the seats held are exactly those of the
learners with a logged launch, and the seat counter equals them; every learner launches again on their own
seat; and the states of logins that never finished are purged once expired, then refused as unknown.
(The worker side of a kill is tests/grades/test_worker_kill.py.)
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ltigate.bootstrap import KEEP_CONSUMED_SECONDS, migrate
from ltigate.db import engine as db_engine
from ltigate.db.states import SqlStateStore
from ltigate.services.digest import secret_digest
from tests.faults.conftest import (
    Attempt,
    attempt,
    launch,
    launch_id_of,
    register,
    seed_resource,
    settings_env,
    stored,
    wait_for,
)
from tests.support.gateway import GatewayHarness, database_params, make_settings
from tests.support.platform import Browser, ScriptedPlatform, error_code
from tests.support.servers import ServerThread, free_port
from tests.support.worker import Process, wait_ready

LEARNERS = 24  # and seats licensed: one each
BROWSERS = 4
STATE_TTL = 30  # LTIGATE_STATE_TTL_SECONDS (its minimum)
MAX_ATTEMPTS = 400  # per browser; the kill comes long before
ABANDONED_EVERY = 5  # every fifth login is never completed, as when the user closes the tab


@dataclass
class Node:
    harness: GatewayHarness
    platform: ScriptedPlatform
    platform_id: str
    env: dict[str, str]
    tmp: Path


@pytest.fixture(params=database_params())
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    port = free_port()
    settings, cleanup = make_settings(tmp_path, request.param, port, LTIGATE_STATE_TTL_SECONDS=str(STATE_TTL))
    try:
        migrate(settings)
        harness = GatewayHarness(settings=settings, url=f"http://127.0.0.1:{port}")
        seed_resource(harness)
        platform = ScriptedPlatform()
        with ServerThread(platform.app(), lifespan="off") as jwks:
            platform.issuer = f"{jwks.url}/lms"
            platform_id = register(harness, platform, jwks.url, seats=LEARNERS)
            env = settings_env(harness, port, LTIGATE_STATE_TTL_SECONDS=str(STATE_TTL))
            yield Node(harness=harness, platform=platform, platform_id=platform_id, env=env, tmp=tmp_path)
    finally:
        cleanup()


def test_a_server_killed_under_launch_load_leaves_no_lost_launch_leaked_seat_or_stuck_state(node: Node) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    first = Process(["serve"], node.env, node.tmp / "serve-1.log")
    try:
        wait_ready(node.harness.url, first)
        attempts, killed_after = _load_until_killed(node, first, rng)
    finally:
        first.stop()
    second = Process(["serve"], node.env, node.tmp / "serve-2.log")
    try:
        wait_ready(node.harness.url, second)
        _check_after_restart(node, attempts, f"seed {seed}, killed after {killed_after:.2f} s")
    finally:
        second.stop()


def _load_until_killed(node: Node, process: Process, rng: random.Random) -> tuple[list[Attempt], float]:
    """Launches from BROWSERS browsers; SIGKILL once at least 20 succeeded, after a random extra 0–0.4 s."""
    attempts: list[Attempt] = []
    lock, stop = threading.Lock(), threading.Event()
    subs = [rng.randrange(LEARNERS) for _ in range(BROWSERS * MAX_ATTEMPTS)]

    def browse(n: int) -> None:
        browser = Browser(node.harness.url)
        try:
            for i in range(MAX_ATTEMPTS):
                if stop.is_set():
                    return
                sub = f"learner-{subs[n * MAX_ATTEMPTS + i]:02d}"
                done = attempt(browser, node.platform, sub, abandon=i % ABANDONED_EVERY == n % ABANDONED_EVERY)
                with lock:
                    attempts.append(done)
                if done.status == 0:  # the server is gone
                    return
        finally:
            browser.close()

    threads = [threading.Thread(target=browse, args=(n,)) for n in range(BROWSERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: sum(a.status == 303 for a in attempts) >= 20, 30, "20 launches before the kill", step=0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        process.kill()
        killed_after = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return attempts, killed_after


def _check_after_restart(node: Node, attempts: list[Attempt], run: str) -> None:
    url, platform = node.harness.url, node.platform
    answered = [a for a in attempts if a.status == 303]
    cut = [a for a in attempts if a.status == 0 and a.state is not None]  # launch posted, no answer: in flight
    unexpected = [a for a in attempts if a.status not in (0, 302, 303)]
    assert not unexpected, (run, unexpected[:5])
    db = stored(node.harness, node.platform_id)

    # Every launch that got its 303 is logged, once, as succeeded, with its learner seated.
    succeeded = {i: row for i, row in db.launches.items() if row[0] == "succeeded"}
    for a in answered:
        assert a.launch_id in succeeded, (run, a)
        assert succeeded[a.launch_id][1:] == (a.sub, db.learners[a.sub]), (run, a)
        assert db.consumed(a.state or "") is True, (run, a)
    # A launch the kill cut is whole or absent: logged exactly when its state was consumed. So the log holds
    # the answered launches and those cut ones, each once.
    consumed_cut = sum(db.consumed(a.state or "") is True for a in cut)
    assert len(succeeded) == len(answered) + consumed_cut, run
    # Seats: the counter equals the seats held, one per learner, exactly the learners with a logged launch.
    assert db.seats_used == len(db.seats) <= LEARNERS, run
    assert db.seats == {db.learners[sub] for sub in db.succeeded_subs()}, run

    # Every learner launches again on the restarted server: none is refused a seat, none takes a second one.
    browser = Browser(url)
    try:
        for n in range(LEARNERS):
            response = launch(browser, platform, f"learner-{n:02d}")
            assert response.status_code == 303, (run, n, error_code(response))
            launch_id_of(response)
    finally:
        browser.close()
    after = stored(node.harness, node.platform_id)
    assert after.seats_used == len(after.seats) == LEARNERS == len(after.succeeded_subs()), run

    # Unfinished logins left unused states; none has expired yet, so housekeeping has removed none of them.
    unused = [a for a in attempts if a.status == 302 and a.state is not None]
    assert unused and all(after.consumed(a.state or "") is False for a in unused), run
    now = time.time()
    assert min(after.state_expiry[secret_digest(a.state or "")] for a in unused) > now, run
    removed = _purge(node, now + STATE_TTL + 1)  # housekeeping once every state has expired
    purged = stored(node.harness, node.platform_id)
    assert not [h for h, consumed in purged.states.items() if consumed is None], run  # no unused state left
    assert removed == len(after.states) - len(purged.states) > 0
    assert all(purged.consumed(a.state or "") is True for a in answered), run  # kept: a replay is named as one
    _purge(node, now + KEEP_CONSUMED_SECONDS + STATE_TTL + 1)
    assert stored(node.harness, node.platform_id).states == {}, run
    # An abandoned login's state (and its nonce) is gone: completing it now is refused as unknown.
    browser = Browser(url)
    try:
        late = unused[0]
        target = f"{url}/lti/launch?resource=quiz"
        token = platform.token(platform.claims(nonce="n" * 43, target_link_uri=target, sub=late.sub))
        response = browser.launch(token, late.state or "")
        assert (response.status_code, error_code(response)) == (400, "state_unknown"), run
    finally:
        browser.close()
    print(
        f"\n[{node.harness.settings.database_url.split(':')[0]}] {run}: {len(attempts)} attempts, {len(answered)} "
        f"answered 303, {len(cut)} launches cut by the kill ({consumed_cut} of them recorded whole, the others not "
        f"at all), {len(unused)} logins never completed, {removed} states purged"
    )


def _purge(node: Node, now: float) -> int:
    """One housekeeping purge of login states (what `Gateway.maintain` runs) as of `now`."""

    async def purge() -> int:
        engine = db_engine.create_engine(node.harness.settings.database_url)
        try:
            return await SqlStateStore(engine).purge(now, KEEP_CONSUMED_SECONDS)
        finally:
            await db_engine.dispose(engine)

    return asyncio.run(purge())

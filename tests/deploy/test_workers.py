"""`ltigate serve --workers 2` as a real process tree: two server processes accept on the supervisor's one
socket (which process served a request is read from /proc: the one holding the connection's server end),
a login on one completes on the other, both deliver scores and each score reaches the LMS once, a killed
process is replaced while the other keeps answering, a process that keeps dying stops the supervisor,
SIGTERM stops everything, a killed supervisor leaves nothing behind, and a start-up failure is told once.
On SQLite, and on PostgreSQL when LTIGATE_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from ltigate.cli.supervisor import RestartBudget
from ltigate.config import SettingsError, load_settings
from tests.deploy.conftest import Deployment, database, deployment, wait_for_line
from tests.deploy.processes import descendants, holder, loaded, running, server_of, server_processes
from tests.e2e.test_launch import login_target, ticket_of
from tests.grades.conftest import registered_lms
from tests.support.fake_lms import FakeLms, launch, settle, wait_until
from tests.support.gateway import database_params
from tests.support.platform import Browser
from tests.support.servers import free_port
from tests.support.worker import Process, wait_ready

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

LISTENING = "with 2 server processes"  # the supervisor's line once every process serves


@dataclass
class Cluster:
    deployment: Deployment
    supervisor: Process
    event_loop: str

    @property
    def url(self) -> str:
        return self.deployment.url

    def processes(self) -> set[int]:
        return server_processes(self.supervisor.pid)


def start(deployment: Deployment, log: Path, **env: str) -> Process:
    """`ltigate serve --workers 2`, once both processes serve."""
    process = Process(["serve", "--workers", "2"], {**deployment.env, **env}, log)
    port = env.get("LTIGATE_PORT", str(deployment.port))
    wait_ready(f"http://127.0.0.1:{port}", process, seconds=60)
    wait_for_line(process, LISTENING)
    assert len(server_processes(process.pid)) == 2, process.tail()
    return process


def once(setup: Deployment) -> None:
    """Skip the PostgreSQL run of a test of the supervision alone, where the database makes no difference."""
    if "LTIGATE_DATABASE_URL" in setup.env:
        pytest.skip("the supervision alone: the database makes no difference")


def log_lines(process: Process) -> list[dict[str, object]]:
    text = process.log.read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module", params=database_params())
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory.mktemp("workers"), request.param) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def cluster(setup: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # uvloop on one database, the default loop on the other: either way the setting reaches the processes.
    loop = "uvloop" if "LTIGATE_DATABASE_URL" not in setup.env else "asyncio"
    supervisor = start(setup, tmp_path_factory.mktemp("cluster") / "serve.log", LTIGATE_EVENT_LOOP=loop)
    yield Cluster(setup, supervisor, loop)
    supervisor.stop()


class Pinned(Browser):
    """A browser whose requests all go over one kept-alive connection, to one server process."""

    def __init__(self, url: str, cluster: Cluster) -> None:
        super().__init__(url)
        self._cluster = cluster
        self.served_by: list[int] = []
        self.http.event_hooks = {"response": [lambda response: self.served_by.append(self.server(response))]}

    def server(self, response: httpx.Response) -> int:
        return server_of(response, self._cluster.processes())


def browser_on(cluster: Cluster, pid: int, attempts: int = 200) -> Pinned:
    """A browser whose connection the kernel gave to process `pid` (new connections until one lands there)."""
    for _ in range(attempts):
        browser = Pinned(cluster.url, cluster)
        browser.http.get("/healthz")
        if browser.served_by == [pid]:
            return browser
        browser.close()
    raise AssertionError(f"no connection of {attempts} went to process {pid}")


def test_two_processes_serve_and_a_login_on_one_completes_on_the_other(cluster: Cluster) -> None:
    first, second = sorted(cluster.processes())
    on_first, on_second = browser_on(cluster, first), browser_on(cluster, second)
    try:
        platform = cluster.deployment.registered.platform
        login = on_first.login(platform, "quiz")
        for cookie in on_first.http.cookies.jar:  # the state cookie moves with the browser
            on_second.http.cookies.jar.set_cookie(cookie)
        claims = platform.claims(nonce=login.nonce, target_link_uri=login_target(on_first, "quiz"))
        ticket = ticket_of(on_second.launch(platform.token(claims), login.state))
        assert set(on_first.served_by) == {first} and set(on_second.served_by) == {second}
        api = {"Authorization": f"Bearer {cluster.deployment.api_key}"}
        redeemed = httpx.post(f"{cluster.url}/api/v1/tickets/redeem", json={"ticket": ticket}, headers=api)
        assert redeemed.status_code == 200 and redeemed.json()["outcome"] == "succeeded", redeemed.text
    finally:
        on_first.close()
        on_second.close()


@dataclass
class AttributedLms(FakeLms):
    """The fake LMS, noting which server process posted each score (the one holding that connection)."""

    processes: Callable[[], set[int]] = set
    posted_by: dict[str, int] = field(default_factory=dict)

    async def _score(self, request: Request) -> Response:
        assert request.client is not None
        body = json.loads(await request.body())  # Starlette keeps the body for the handler
        self.posted_by[body["comment"]] = holder(request.client.port, request.url.port or 0, self.processes())
        return await super()._score(request)


def test_every_process_delivers_scores_and_each_score_reaches_the_lms_once(cluster: Cluster) -> None:
    lms = AttributedLms(processes=cluster.processes)
    key = {"Authorization": f"Bearer {cluster.deployment.api_key}"}
    with registered_lms(cluster.deployment.harness, lms):
        browser = Browser(cluster.url)
        try:
            launch_id = launch(browser, lms, "learner-1")
        finally:
            browser.close()
        job_ids, keys = [], []
        for pid in sorted(cluster.processes()):  # half of the scores through each process
            api = browser_on(cluster, pid)
            api.http.headers.update(key)
            try:
                for n in range(10):
                    score = {"scoreGiven": n, "scoreMaximum": 10, "activityProgress": "Completed"}
                    score |= {"gradingProgress": "FullyGraded", "comment": f"{pid}-{n}"}
                    answer = api.http.post(f"/api/v1/launches/{launch_id}/score", json=score)
                    assert answer.status_code == 202, answer.text
                    job_ids.append(answer.json()["id"])
                    keys.append(f"{pid}-{n}")
                assert set(api.served_by) == {pid}
            finally:
                api.close()
        with httpx.Client(base_url=cluster.url, headers=key) as client:
            jobs = settle(client, job_ids)
    assert {job["status"] for job in jobs.values()} == {"delivered"}
    assert lms.applied() == dict.fromkeys(keys, 1)  # each score once, though both processes deliver
    assert set(lms.posted_by.values()) == cluster.processes()


def test_a_scrape_answered_by_either_process_counts_the_launches_of_both(cluster: Cluster) -> None:
    first, second = sorted(cluster.processes())
    scrapers = {pid: browser_on(cluster, pid) for pid in (first, second)}
    key = {"Authorization": f"Bearer {cluster.deployment.api_key}"}

    def succeeded(pid: int) -> float:
        answer = scrapers[pid].http.get("/metrics", headers=key)
        assert answer.status_code == 200, answer.text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in answer.text.splitlines()
            if line.startswith("ltigate_launches_total{") and 'outcome="succeeded"' in line
        )

    def agreed() -> float | None:
        totals = {succeeded(pid) for pid in (first, second)}
        return totals.pop() if len(totals) == 1 else None

    try:
        # Each process publishes its figures once a second: wait until both answer the same.
        wait_until(lambda: agreed() is not None, 10, "both processes to count the same launches")
        before = agreed()
        assert before is not None
        platform = cluster.deployment.registered.platform
        for pid, count in ((first, 3), (second, 2)):
            browser = browser_on(cluster, pid)
            try:
                for _ in range(count):
                    login = browser.login(platform, "quiz")
                    claims = platform.claims(nonce=login.nonce, target_link_uri=login_target(browser, "quiz"))
                    ticket_of(browser.launch(platform.token(claims), login.state))
                assert set(browser.served_by) == {pid}
            finally:
                browser.close()
        wait_until(lambda: agreed() == before + 5, 10, "both processes to count the five new launches")
        assert {pid: succeeded(pid) for pid in (first, second)} == {first: before + 5, second: before + 5}
        assert all(set(scraper.served_by) == {pid} for pid, scraper in scrapers.items())
    finally:
        for scraper in scrapers.values():
            scraper.close()


def test_every_process_runs_the_event_loop_the_settings_name(cluster: Cluster) -> None:
    for pid in cluster.processes():
        assert loaded(pid, "uvloop/loop.") == (cluster.event_loop == "uvloop"), pid


def test_a_killed_process_is_replaced_while_the_other_keeps_answering(cluster: Cluster) -> None:
    before = cluster.processes()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: not running(victim), 10, "the killed process to end")
    for _ in range(10):  # new connections, answered by the survivor while the replacement starts
        assert httpx.get(f"{cluster.url}/readyz", timeout=5).status_code == 200
    wait_until(lambda: len(cluster.processes() - {victim}) == 2, 30, "a replacement process")
    (replacement,) = cluster.processes() - before

    def served_by_replacement() -> bool:
        with httpx.Client(base_url=cluster.url, timeout=5) as client:
            return server_of(client.get("/healthz"), cluster.processes()) == replacement

    wait_until(served_by_replacement, 60, "the replacement to serve", step=0.01)
    noted = [line for line in log_lines(cluster.supervisor) if line.get("pid") == victim]
    assert [(line["level"], line["message"]) for line in noted][-1] == (
        "warning",
        "server process exited unexpectedly (killed by SIGKILL); starting another",
    )


def test_sigterm_stops_every_process_and_the_supervisor_exits_0(setup: Deployment, tmp_path: Path) -> None:
    port = free_port()
    supervisor = start(setup, tmp_path / "serve.log", LTIGATE_PORT=str(port))
    tree = descendants(supervisor.pid)  # the server processes and multiprocessing's resource tracker
    idle = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        assert idle.get("/healthz").status_code == 200  # a kept-alive connection must not hold the stop up
        began = time.monotonic()
        supervisor.popen.send_signal(signal.SIGTERM)
        assert supervisor.popen.wait(timeout=15) == 0, supervisor.tail()
        assert time.monotonic() - began < 15
        # multiprocessing's resource tracker ends on its own once the pipe the others held is closed
        wait_until(lambda: not [pid for pid in tree if running(pid)], 10, "every process to end")
    finally:
        idle.close()
        supervisor.stop()


def test_a_killed_supervisor_leaves_no_process_behind(setup: Deployment, tmp_path: Path) -> None:
    once(setup)
    port = free_port()
    supervisor = start(setup, tmp_path / "serve.log", LTIGATE_PORT=str(port))
    tree = descendants(supervisor.pid)
    supervisor.kill()
    wait_until(lambda: not [pid for pid in tree if running(pid)], 15, "the orphaned processes to stop")


def test_processes_that_keep_dying_stop_the_supervisor(setup: Deployment, tmp_path: Path) -> None:
    once(setup)
    supervisor = start(setup, tmp_path / "serve.log", LTIGATE_PORT=str(free_port()))
    killed: set[int] = set()
    try:
        while supervisor.popen.poll() is None and len(killed) < 20:
            for pid in server_processes(supervisor.pid) - killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.05)
        assert supervisor.popen.wait(timeout=30) == 1, supervisor.tail()
    finally:
        supervisor.stop()
    lines = log_lines(supervisor)
    started = [line for line in lines if line["message"] == "server process started"]
    assert len(started) == 2 + 5  # two, then five replacements within a minute; the next death stops it all
    gave_up = [line for line in lines if line["level"] == "error"]
    assert [line["message"] for line in gave_up] == ["server processes keep exiting (5 replaced within 60 s); stopping"]


@pytest.mark.parametrize("kind", database_params())
def test_a_start_up_failure_is_told_once_and_the_supervisor_exits_non_zero(kind: str, tmp_path: Path) -> None:
    with database(tmp_path, kind) as env:  # never migrated
        log = tmp_path / "serve.log"
        supervisor = Process(["serve", "--workers", "2", "--port", str(free_port())], env, log)
        try:
            assert supervisor.popen.wait(timeout=60) == 2, supervisor.tail()
        finally:
            supervisor.stop()
    text = log.read_text()
    assert text.count("error database_not_migrated: the database is not migrated: run `ltigate migrate`") == 1
    started = [line for line in log_lines(supervisor) if line["message"] == "server process started"]
    assert len(started) == 1  # the others never started: the first failed alone
    assert log_lines(supervisor)[-1]["message"] == "server process failed to start (exit status 2); stopping"


def test_the_workers_setting_is_a_positive_whole_number(tmp_path: Path) -> None:
    env = {"LTIGATE_DATA_DIR": str(tmp_path)}
    assert load_settings(env=env).workers == 1
    assert load_settings(env={**env, "LTIGATE_WORKERS": "4"}).workers == 4
    assert load_settings(env=env, workers=3).workers == 3  # the --workers flag
    with pytest.raises(SettingsError, match="LTIGATE_WORKERS: 0 is below the minimum 1"):
        load_settings(env={**env, "LTIGATE_WORKERS": "0"})


def test_the_restart_budget_allows_so_many_restarts_per_window() -> None:
    budget = RestartBudget(restarts=2, window_seconds=10.0)
    assert [budget.allow(t) for t in (0.0, 1.0, 2.0, 9.9)] == [True, True, False, False]
    assert budget.allow(10.0)  # the restart at 0 s has left the window
    assert not budget.allow(10.5)
    assert budget.allow(11.0)


def test_one_process_is_the_default(setup: Deployment, tmp_path: Path) -> None:
    once(setup)
    port = free_port()
    served = Process(["serve", "--port", str(port)], setup.env, tmp_path / "serve.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", served, seconds=60)
        assert server_processes(served.pid) == set() and not descendants(served.pid)
    finally:
        served.stop()
    assert served.popen.returncode in (0, -signal.SIGTERM)

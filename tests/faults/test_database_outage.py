"""PostgreSQL going away under launch load, without touching the shared server: `ltigate serve` reaches it
through a TcpProxy that cuts every connection and refuses new ones, then accepts again.

While it is down, the LTI endpoints answer 503 with the error page and its code, the API a JSON 503, /readyz
503 and /healthz 200, promptly; once it is back the same process serves launches again, and a launch refused
during the outage can be posted again. Every launch is in the database whole or not at all (its state
consumed, its learner seated and its launch logged together), those the cut caught half-way included.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.faults.conftest import Attempt, Node, attempt, half_recorded, launch, stored, wait_for
from tests.support.platform import Browser, error_code

pytestmark = pytest.mark.postgres

DOWN_SECONDS = 3.0  # longer than the pool's idle-ping threshold (db/engine.py PING_IDLE_AFTER_SECONDS)
ANSWER_WITHIN = 5.0  # an answer while the database is down comes at least this fast


def test_requests_fail_cleanly_while_postgres_is_down_and_recover_without_a_restart(proxied_node: Node) -> None:
    node = proxied_node
    assert node.proxy is not None and node.process is not None
    browser, api = Browser(node.url), httpx.Client(base_url=node.url, timeout=15)
    api.headers["Authorization"] = f"Bearer {node.api_key}"
    load = Load(node)
    try:
        for n in range(3):
            assert launch(browser, node.platform, f"before-{n}").status_code == 303
        pending = browser.login(node.platform, "quiz")  # its launch is posted while the database is down
        target = f"{node.url}/lti/launch?resource=quiz"
        pending_token = node.platform.token(
            node.platform.claims(nonce=pending.nonce, target_link_uri=target, sub="pending")
        )
        load.start()
        time.sleep(0.5)

        cut_at = time.monotonic()
        node.proxy.down()
        down_at = time.monotonic()  # from here every connection is cut and new ones are refused
        answers = {
            "login": browser.http.post("/lti/login", data=_login_form(node)),
            "launch": browser.launch(pending_token, pending.state),
            "api": api.get("/api/v1/launches"),
            "readyz": httpx.get(f"{node.url}/readyz", timeout=15),
            "healthz": httpx.get(f"{node.url}/healthz", timeout=15),
        }
        slowest = max(a.elapsed.total_seconds() for a in answers.values())
        for name in ("login", "launch"):
            page = answers[name]
            assert (page.status_code, error_code(page)) == (503, "database_unavailable"), (name, page.text[:500])
            assert page.headers["content-type"].startswith("text/html")
            assert "the database is unavailable" in page.text
        assert answers["api"].status_code == 503
        assert answers["api"].json()["error"]["code"] == "database_unavailable"
        assert (answers["readyz"].status_code, answers["readyz"].json()["error"]["code"]) == (
            503,
            "database_unavailable",
        )
        assert (answers["healthz"].status_code, answers["healthz"].json()) == (200, {"status": "ok"})
        assert slowest < ANSWER_WITHIN, slowest
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))

        up_at = time.monotonic()  # (the finally below brings it up should an assertion fail while down)
        node.proxy.up()
        wait_for(lambda: httpx.get(f"{node.url}/readyz", timeout=5).status_code == 200, 15, "/readyz 200 again")
        ready_after = time.monotonic() - up_at
        retried = browser.launch(pending_token, pending.state)  # nothing of it was written: it goes through now
        assert retried.status_code == 303, (retried.status_code, error_code(retried))
        for n in range(3):
            assert launch(browser, node.platform, f"after-{n}").status_code == 303
        time.sleep(0.5)
        attempts = load.stop()
    finally:
        node.proxy.up()
        load.stop()
        browser.close()
        api.close()
    assert node.process.popen.poll() is None, "ltigate serve exited"

    # Under load: every answer a success or the coded 503; nothing started while down succeeded.
    unexpected = [a for a in attempts if (a.status, a.code) not in {(303, None), (503, "database_unavailable")}]
    assert not unexpected, unexpected[:5]
    while_down = [a for a in attempts if down_at <= a.started and a.ended <= up_at]
    assert while_down and all(a.status == 503 for a in while_down)
    after = [a for a in attempts if a.started >= up_at + ready_after]
    assert after and all(a.status == 303 for a in after), [a for a in after if a.status != 303][:5]

    # The database: seat counter equal to the seats held; every launch whole or absent, those the cut caught
    # half-way included (test_launch_atomicity cuts one deterministically before each of its writes).
    db = stored(node.harness, node.platform_id)
    assert db.seats_used == len(db.seats)
    in_flight = [a for a in attempts if a.started < down_at and a.ended > cut_at]
    assert half_recorded(attempts, db) == {}
    print(
        f"\n{len(attempts)} launches under load: {len(while_down)} refused while down, {len(in_flight)} in flight"
        f" at the cut ({[(a.status, a.code) for a in in_flight]}); ready again {ready_after:.2f} s after the"
        " database came back"
    )


def _login_form(node: Node) -> dict[str, str]:
    return {
        "iss": node.platform.issuer,
        "login_hint": "u",
        "target_link_uri": f"{node.url}/lti/launch?resource=quiz",
        "client_id": node.platform.client_id,
        "lti_deployment_id": node.platform.deployment_id,
    }


class Load:
    """Two browsers launching one fresh learner after another until stopped (bounded: 60 s, 2000 attempts)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._attempts: list[Attempt] = []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._browse, args=(n,)) for n in range(2)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Attempt]:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self._threads)
        return list(self._attempts)

    def _browse(self, n: int) -> None:
        browser = Browser(self._node.url)
        deadline = time.monotonic() + 60
        try:
            for i in range(1000):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                done = attempt(browser, self._node.platform, f"load-{n}-{i}")
                with self._lock:
                    self._attempts.append(done)
                time.sleep(0.01)
        finally:
            browser.close()

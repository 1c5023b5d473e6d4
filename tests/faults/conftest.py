"""Shared pieces of the fault tests: launches by a ScriptedPlatform through a Browser, what the database holds
after them (read with plain SQL, as an operator would check), and `ltigate serve` reaching PostgreSQL through
a TcpProxy (tcp_proxy.py) that can take the database away.

The gateway, platform, browser and process helpers are the suite's own (tests.support).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ltigate.bootstrap import migrate
from ltigate.db import engine as db_engine
from ltigate.lti.keys import SigningKey
from ltigate.services.digest import secret_digest
from ltigate.services.gateway import Gateway
from ltigate.services.records import PlatformFields, ResourceFields
from tests.support.gateway import POSTGRES_ENV, GatewayHarness, make_settings
from tests.support.platform import Browser, ScriptedPlatform, error_code
from tests.support.servers import ServerThread, free_port
from tests.support.tcp_proxy import Cut, TcpProxy
from tests.support.worker import Process, wait_ready

APP_URL = "http://127.0.0.1:9/app"  # never contacted: the browser stops at the redirect
POSTGRES_PORT = 5432
SEATS = 1000


@dataclass(frozen=True)
class Attempt:
    """One login and launch as the browser saw them: `status` 0 when no answer came (connection lost)."""

    sub: str
    state: str | None
    status: int
    code: str | None = None
    launch_id: str | None = None
    started: float = 0.0  # time.monotonic()
    ended: float = 0.0


def launch(
    browser: Browser, platform: ScriptedPlatform, sub: str = "user-1", *, key: SigningKey | None = None
) -> httpx.Response:
    """Log in and launch resource `quiz` as learner `sub` (signed with `key`, default the platform's)."""
    login = browser.login(platform, "quiz")
    target = f"{browser.gateway_url}/lti/launch?resource=quiz"
    claims = platform.claims(nonce=login.nonce, target_link_uri=target, sub=sub)
    return browser.launch(platform.token(claims, key), login.state)


def attempt(browser: Browser, platform: ScriptedPlatform, sub: str, *, abandon: bool = False) -> Attempt:
    """A launch that may fail anywhere (the login, the launch, the connection); never raises for that.
    `abandon`: the browser stops after the login (its answer, 302, is the attempt's status)."""
    started = time.monotonic()
    state: str | None = None
    try:
        login = browser.http.post(
            "/lti/login",
            data={
                "iss": platform.issuer,
                "login_hint": sub,
                "target_link_uri": f"{browser.gateway_url}/lti/launch?resource=quiz",
                "client_id": platform.client_id,
                "lti_deployment_id": platform.deployment_id,
            },
        )
        if login.status_code != 302:
            return Attempt(sub, None, login.status_code, error_code(login), None, started, time.monotonic())
        query = httpx.URL(login.headers["location"]).params
        state = query["state"]
        if abandon:
            return Attempt(sub, state, login.status_code, None, None, started, time.monotonic())
        target = f"{browser.gateway_url}/lti/launch?resource=quiz"
        token = platform.token(platform.claims(nonce=query["nonce"], target_link_uri=target, sub=sub))
        answer = browser.launch(token, state)
    except httpx.TransportError:
        return Attempt(sub, state, 0, None, None, started, time.monotonic())
    launch_id = launch_id_of(answer) if answer.status_code == 303 else None
    return Attempt(sub, state, answer.status_code, error_code(answer), launch_id, started, time.monotonic())


def launch_id_of(response: httpx.Response) -> str:
    """The launch id a 303 hands to the app: the subject of its ticket (read, not verified: the test's own)."""
    assert response.status_code == 303, f"{response.status_code} {error_code(response)}: {response.text[:300]}"
    ticket = httpx.URL(response.headers["location"]).params["ticket"]
    return str(jwt.decode(ticket, options={"verify_signature": False})["sub"])


def seed_resource(harness: GatewayHarness) -> None:
    """The resource `quiz`, which every launch here opens."""

    async def create(gateway: Gateway) -> None:
        await gateway.resources.create(ResourceFields(slug="quiz", title="Quiz", app_url=APP_URL))

    harness.run(create)


def register(harness: GatewayHarness, platform: ScriptedPlatform, jwks_base: str, **fields: object) -> str:
    """Register `platform`, its key set at `jwks_base`/jwks; the platform's id."""

    async def create(gateway: Gateway) -> str:
        values = platform.platform_fields(jwks_base, **fields)
        return (await gateway.platforms.create(PlatformFields(**values))).id  # type: ignore[arg-type]

    return harness.run(create)


@dataclass(frozen=True)
class Stored:
    """What the database holds about launches, learners, seats and login states (one platform)."""

    launches: dict[str, tuple[str, str | None, str | None]]  # id → (outcome, sub, learner_id)
    learners: dict[str, str]  # sub → learner id
    seats: set[str]  # learner ids
    seats_used: int
    states: dict[str, float | None]  # state hash → consumed_at
    state_expiry: dict[str, float]

    def succeeded_subs(self) -> set[str]:
        return {sub for outcome, sub, _ in self.launches.values() if outcome == "succeeded" and sub}

    def consumed(self, state: str) -> bool | None:
        """True/False for a stored state, None when it is not (or no longer) stored."""
        digest = secret_digest(state)
        return None if digest not in self.states else self.states[digest] is not None


def stored(harness: GatewayHarness, platform_id: str) -> Stored:
    """Read the tables directly, on a connection of its own (not through the served process)."""

    async def read() -> Stored:
        engine = db_engine.create_engine(harness.settings.database_url)
        try:
            async with engine.connect() as db:
                p = {"p": platform_id}
                rows = await db.execute(
                    text("SELECT id, outcome, sub, learner_id FROM launches WHERE platform_id = :p"), p
                )
                launches = {r.id: (r.outcome, r.sub, r.learner_id) for r in rows}
                rows = await db.execute(text("SELECT sub, id FROM learners WHERE platform_id = :p"), p)
                learners = {r.sub: r.id for r in rows}
                rows = await db.execute(text("SELECT learner_id FROM seats WHERE platform_id = :p"), p)
                seats = {r.learner_id for r in rows}
                used = (await db.execute(text("SELECT seats_used FROM platforms WHERE id = :p"), p)).scalar_one()
                query = "SELECT state_hash, consumed_at, expires_at FROM login_states WHERE platform_id = :p"
                states = (await db.execute(text(query), p)).all()
        finally:
            await db_engine.dispose(engine)
        return Stored(
            launches=launches,
            learners=learners,
            seats=seats,
            seats_used=int(used),
            states={r.state_hash: r.consumed_at for r in states},
            state_expiry={r.state_hash: r.expires_at for r in states},
        )

    return asyncio.run(read())


def half_recorded(attempts: list[Attempt], db: Stored) -> dict[str, str]:
    """Launches the database holds only part of, by sub: a consumed state without a succeeded launch logged
    (or the reverse), or a seat without one. Each attempt must have its own sub."""
    found: dict[str, str] = {}
    succeeded = db.succeeded_subs()
    for a in attempts:
        if a.state is None:
            continue
        consumed, logged = db.consumed(a.state), a.sub in succeeded
        seated = db.learners.get(a.sub) in db.seats
        if consumed and not logged:
            found[a.sub] = f"state consumed, no launch logged (seat: {seated}, answer {a.status} {a.code})"
        elif logged and consumed is False:
            found[a.sub] = "launch logged, state unused"
        elif seated and not logged:
            found[a.sub] = f"seat held, no launch logged (answer {a.status} {a.code})"
    return found


def wait_for(condition: Callable[[], bool], seconds: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(step)


def settings_env(harness: GatewayHarness, port: int, **extra: str) -> dict[str, str]:
    """The environment of an `ltigate serve` process for `harness`'s database, on `port`."""
    return {
        "LTIGATE_DATA_DIR": str(harness.settings.data_dir),
        "LTIGATE_DATABASE_URL": harness.settings.database_url,
        "LTIGATE_PORT": str(port),
        "LTIGATE_LOG_LEVEL": "warning",
        **extra,
    }


@dataclass
class Node:
    """A served gateway with one registered platform (SEATS seats). `harness` seeds and reads the database
    directly; `cut_before(pattern)` cuts the served gateway's database connection just before the first
    statement matching `pattern`."""

    harness: GatewayHarness
    platform: ScriptedPlatform
    platform_id: str
    api_key: str
    cut_before: Callable[[str], Cut]
    proxy: TcpProxy | None = None
    process: Process | None = None

    @property
    def url(self) -> str:
        return self.harness.url


@pytest.fixture(scope="session")
def proxied_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """`ltigate serve` (worker included) on a fresh PostgreSQL database that it reaches only through a
    TcpProxy; skipped without LTIGATE_TEST_POSTGRES_URL. Tests leave the proxy up."""
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    tmp = tmp_path_factory.mktemp("proxied")
    port = free_port()
    settings, drop = make_settings(tmp, "postgres", port)
    process: Process | None = None
    try:
        migrate(settings)
        harness = GatewayHarness(settings=settings, url=f"http://127.0.0.1:{port}")
        seed_resource(harness)
        api_key = harness.api_key()
        platform = ScriptedPlatform()
        with ServerThread(platform.app(), lifespan="off") as jwks, TcpProxy(POSTGRES_PORT, postgres=True) as proxy:
            platform.issuer = f"{jwks.url}/lms"
            platform_id = register(harness, platform, jwks.url, seats=SEATS)
            through_proxy = make_url(settings.database_url).set(port=proxy.port).render_as_string(hide_password=False)
            process = Process(
                ["serve"], settings_env(harness, port, LTIGATE_DATABASE_URL=through_proxy), tmp / "serve.log"
            )
            wait_ready(harness.url, process)
            yield Node(harness, platform, platform_id, api_key, proxy.cut_before, proxy, process)
    finally:
        if process is not None:
            process.stop()
        drop()

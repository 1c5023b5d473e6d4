"""CPU per step of a launch, each step timed alone in one process, sequentially: the two use cases and the
pieces of `LaunchService.complete` (token parsing and checks, ticket, and the stores it writes to).

    .venv/bin/python bench/steps.py [--runs 2000] [--database-url postgresql+asyncpg://...]

Process CPU (all threads, so a database driver's thread counts) per call, in microseconds. Run it on an
idle core (`taskset -c 0`) and take the minimum of a few runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import secrets
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness import Database, free_port
from lms import KeySetServer, Lms
from target import RESOURCE, ServedGateway

from ltigate.bootstrap import build_gateway
from ltigate.config import load_settings
from ltigate.db import engine as db_engine
from ltigate.db.launches import SqlLaunchLog
from ltigate.db.resources import SqlResourceStore
from ltigate.db.states import SqlStateStore
from ltigate.lti.keys import parse_key_set
from ltigate.lti.launch import read_unverified_launch, verify_id_token
from ltigate.lti.message import parse_message
from ltigate.lti.ticket import issue_ticket
from ltigate.services.launch import CookieBinding, LaunchForm
from ltigate.services.records import KeyPurpose, LaunchOutcome, LaunchRecord, LoginState


async def timed(name: str, step: Callable[[], Awaitable[object]], runs: int) -> None:
    for _ in range(min(50, runs)):
        await step()
    started = time.process_time()
    for _ in range(runs):
        await step()
    print(f"{name:34s} {(time.process_time() - started) / runs * 1e6:8.1f} µs")


def sync(function: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def step() -> object:
        return function()

    return step


async def main(args: argparse.Namespace, workdir: Path) -> None:
    lms = Lms()
    jwks = KeySetServer(lms)
    lms.base_url = await jwks.start()
    database = await Database.create(args.database_url)
    served = ServedGateway(data_dir=workdir / "data", port=free_port(), database=database)
    try:
        served.migrate()
        await served.seed(lms.issuer, lms.client_id, lms.deployment_id, lms.base_url)
        settings = load_settings(env=served.env)
        gateway = await build_gateway(settings)
        engine = db_engine.create_engine(settings.database_url)
        try:
            await steps(args.runs, gateway, engine, lms)
        finally:
            # db_engine.dispose also closes the inline SQLite engine; older trees only had engine.dispose.
            await getattr(db_engine, "dispose", lambda e: e.dispose())(engine)
            await gateway.close()
    finally:
        await jwks.close()
        await database.drop()


async def steps(runs: int, gateway: object, engine: object, lms: Lms) -> None:
    target = f"{gateway.urls.launch_url}?resource={RESOURCE}"  # type: ignore[attr-defined]
    params = {
        "iss": lms.issuer,
        "login_hint": "user-1",
        "target_link_uri": target,
        "client_id": lms.client_id,
        "lti_deployment_id": lms.deployment_id,
    }
    login, launch = gateway.login, gateway.launch  # type: ignore[attr-defined]
    await timed("LoginService.begin", lambda: login.begin(params), runs)

    pending = []
    for _ in range(runs + 60):
        redirect = await login.begin(params)
        nonce = parse_qs(urlsplit(redirect.url).query)["nonce"][0]
        pending.append((redirect.state, lms.token(lms.claims(nonce=nonce, target_link_uri=target, user=1))))
    queue = iter(pending)

    async def complete() -> object:
        state, token = next(queue)
        return await launch.complete(LaunchForm(id_token=token, state=state), CookieBinding(state))

    await timed("LaunchService.complete", complete, runs)

    token = pending[0][1]
    unverified = read_unverified_launch(token)
    key = parse_key_set(lms.key_set()).find(lms.kid)
    assert key is not None
    now = time.time()

    def verify() -> dict[str, object]:
        return verify_id_token(unverified, key, issuer=lms.issuer, client_id=lms.client_id, now=now, leeway=60)

    claims = verify()
    ticket_key = gateway.tool_keys.signing_key(KeyPurpose.TICKET)  # type: ignore[attr-defined]
    await timed("· read_unverified_launch", sync(lambda: read_unverified_launch(token)), runs)
    await timed("· verify_id_token", sync(verify), runs)
    await timed("· parse_message", sync(lambda: parse_message(claims, lms.client_id)), runs)
    summary = {"resource": RESOURCE, "sub": "user-1", "roles": ["Learner"]}
    ticket_args = {"issuer": "http://gw", "audience": "http://app", "launch_id": "a" * 32, "jti": "b" * 22}
    await timed(
        "· issue_ticket (ES256)",
        sync(lambda: issue_ticket(**ticket_args, summary=summary, now=int(now), ttl=120, key=ticket_key)),
        runs,
    )

    states, log, resources = SqlStateStore(engine), SqlLaunchLog(engine), SqlResourceStore(engine)  # type: ignore[arg-type]

    def state(state_hash: str) -> LoginState:
        return LoginState(
            state_hash=state_hash, nonce="n" * 43, platform_id="p", target_link_uri=target, expires_at=now + 600
        )

    await timed("· states.put", lambda: states.put(state(secrets.token_hex(32))), runs)
    hashes = [secrets.token_hex(32) for _ in range(runs + 60)]
    for state_hash in hashes:
        await states.put(state(state_hash))
    unused = iter(hashes)
    await timed("· states.consume", lambda: states.consume(next(unused), now), runs)
    await timed("· resources.get (store, uncached)", lambda: resources.get(RESOURCE), runs)

    def record() -> LaunchRecord:
        return LaunchRecord(
            id=uuid.uuid4().hex,
            created_at=now,
            outcome=LaunchOutcome.SUCCEEDED,
            issuer=lms.issuer,
            client_id=lms.client_id,
            deployment_id=lms.deployment_id,
            message_type="LtiResourceLinkRequest",
            sub="user-1",
            resource_slug=RESOURCE,
            claims=claims,
            ticket_jti="j" * 22,
        )

    await timed("· log.record", lambda: log.record(record()), runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL admin URL; default SQLite")
    arguments = parser.parse_args()
    factory = None
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        factory = uvloop.new_event_loop
    with (
        tempfile.TemporaryDirectory(prefix="ltigate-steps-") as tmp,
        asyncio.Runner(loop_factory=factory) as runner,
    ):
        runner.run(main(arguments, Path(tmp)))

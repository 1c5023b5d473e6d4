"""Score delivery throughput: `ltigate worker` draining a queue of score jobs into a fake AGS endpoint.

    .venv/bin/python bench/scores.py [--jobs 10000] [--platforms 5] [--kill-at 0.5]
                                     [--enqueue submit|outbox] [--timeout 600]
                                     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Sets up a fresh gateway (temporary data directory; with --database-url, a fresh database on that server,
dropped afterwards), runs `ltigate migrate`, and seeds through the use cases: `--platforms` platforms whose
token URL is on the fake LMS, one resource per platform, and one successful launch per job, written
straight into the launch log store (SqlLaunchLog.record) with claims built by
ltigate.lti.platform.build_resource_link_claims plus an AGS claim coupling the link to its own line item.
The jobs are then queued with `gateway.grades.submit` (the use case the REST API calls; default) or with
`--enqueue outbox` straight through the outbox store (SqlScoreOutbox.enqueue; faster setup, same rows).

The fake LMS is a separate process (uvicorn, httptools, one worker, pinned with taskset to CPU
`--lms-cpu`, together with this script, which only polls); `ltigate worker` runs pinned to CPU
`--worker-cpu`. The LMS answers the token endpoint (counting requests per platform and scope set) and
the scores endpoint (204; counting posts per job, so duplicates show, and checking the bearer token is
one it issued to that platform). Throughput is taken between the first and the last delivery
(delivered_at in the outbox) and, as a cross-check, between the first and the last score post the LMS
received. With `--kill-at F` the worker is killed with SIGKILL once a fraction F of the jobs is
delivered and started again at once; the run then reports lost jobs (must be 0) and duplicates (only
the jobs in flight at the kill may be posted twice). Jobs the killed worker held stay leased until their
lease ends (OutboxSettings.lease_seconds, 120 s), so the restarted worker picks them up only then.

Prints figures only; nothing here asserts a time. All traffic is on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from harness import (
    BIN,
    Database,
    backend_cpu_seconds,
    cpu_seconds,
    environment,
    free_port,
    http_get_json,
    machine_busy_seconds,
    migrate,
    pinned,
    wait_port,
)

SCRIPT = Path(__file__).resolve()
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


# --- the fake LMS (run as `scores.py lms --port N` in its own process) ----------------------------------


class FakeLms:
    """A raw ASGI app: token endpoint and AGS scores endpoint for platforms /p/<i>/, plus /stats."""

    def __init__(self) -> None:
        self.token_requests: Counter[str] = Counter()  # "<platform> <scope set>" -> requests
        self.issued: dict[str, str] = {}  # access token -> platform
        self.posts: Counter[str] = Counter()  # "<platform>/<job>" -> score posts
        self.bad_auth = 0
        self.bad_body = 0
        self.torn = 0  # requests whose client went away before the body was complete
        self.first_post: float | None = None
        self.last_post: float | None = None

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # a request cut off (its worker killed): never counted
                self.torn += 1
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload, kind = self.answer(scope["method"], scope["path"], dict(scope["headers"]), body)
        headers = [(b"content-length", str(len(payload)).encode())]
        if kind:
            headers.append((b"content-type", kind))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def answer(self, method: str, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes, bytes]:
        parts = path.strip("/").split("/")
        # /p/<i>/lineitems/<n>/lineitem/scores
        if method == "POST" and len(parts) == 6 and parts[0] == "p" and parts[5] == "scores":
            platform, job = parts[1], parts[3]
            token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
            if self.issued.get(token) != platform:
                self.bad_auth += 1
                return 401, b'{"error":"invalid_token"}', b"application/json"
            try:
                document = json.loads(body)
            except ValueError:
                document = None
            if not isinstance(document, dict) or document.get("userId") != f"user-{job}" or "timestamp" not in document:
                self.bad_body += 1
                return 400, b'{"error":"bad score"}', b"application/json"
            now = time.time()
            if self.first_post is None:
                self.first_post = now
            self.last_post = now
            self.posts[f"{platform}/{job}"] += 1
            return 204, b"", b""
        # /p/<i>/token
        if method == "POST" and len(parts) == 3 and parts[0] == "p" and parts[2] == "token":
            form = parse_qs(body.decode())
            scope = " ".join(sorted(form.get("scope", [""])[0].split()))
            self.token_requests[f"{parts[1]} {scope}"] += 1
            token = uuid.uuid4().hex
            self.issued[token] = parts[1]
            answer = {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
            return 200, json.dumps(answer).encode(), b"application/json"
        if method == "GET" and path == "/stats":
            counts = Counter(self.posts.values())
            stats = {
                "token_requests": dict(self.token_requests),
                "posts": sum(self.posts.values()),
                "jobs_posted": len(self.posts),
                "posted_more_than_once": sum(n for times, n in counts.items() if times > 1),
                "extra_posts": sum((times - 1) * n for times, n in counts.items() if times > 1),
                "bad_auth": self.bad_auth,
                "bad_body": self.bad_body,
                "torn": self.torn,
                "first_post": self.first_post,
                "last_post": self.last_post,
            }
            return 200, json.dumps(stats).encode(), b"application/json"
        if method == "GET" and path == "/posted":
            return 200, json.dumps(sorted(self.posts)).encode(), b"application/json"
        return 404, b"not found", b"text/plain"


def serve_lms(port: int) -> None:
    import uvicorn

    uvicorn.run(
        FakeLms(),
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


# --- helpers --------------------------------------------------------------------------------------------


def start_lms(port: int, cpu: str | None, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            pinned(cpu, [sys.executable, str(SCRIPT), "lms", "--port", str(port)]), stdout=log, stderr=subprocess.STDOUT
        )


# --- seeding --------------------------------------------------------------------------------------------


async def seed(env: dict[str, str], lms_url: str, jobs: int, platforms: int, enqueue: str) -> dict[str, float]:
    """Platforms, resources, one launch per job and the jobs; returns the seconds each step took."""
    from ltigate.bootstrap import build_gateway
    from ltigate.config import load_settings
    from ltigate.db.launches import SqlLaunchLog
    from ltigate.lti import claims as c
    from ltigate.lti.platform import LaunchUser, build_ags_claim, build_resource_link_claims
    from ltigate.services.grades import ScoreInput
    from ltigate.services.records import (
        DeliveryStatus,
        DeploymentPolicy,
        LaunchOutcome,
        LaunchRecord,
        PlatformFields,
        ResourceFields,
        Score,
        ScoreJob,
        ScoreTarget,
    )

    took: dict[str, float] = {}
    gateway = await build_gateway(load_settings(env=env))
    try:
        started = time.perf_counter()
        created = []
        for i in range(platforms):
            base = f"{lms_url}/p/{i}"
            platform = await gateway.platforms.create(
                PlatformFields(
                    name=f"Bench LMS {i}",
                    issuer=f"https://lms{i}.bench.test",
                    client_id=f"client-{i}",
                    auth_url=f"{base}/auth",
                    token_url=f"{base}/token",
                    jwks_url=f"{base}/jwks",
                    deployment_ids=("dep-1",),
                    deployment_policy=DeploymentPolicy.REJECT,
                )
            )
            await gateway.resources.create(
                ResourceFields(slug=f"quiz-{i}", title=f"Quiz {i}", app_url="http://127.0.0.1:9/app", score_maximum=10)
            )
            created.append(platform)
        took["platforms and resources"] = time.perf_counter() - started

        # Launches straight into the launch log store: the id_token verification is the launch bench's business.
        log = SqlLaunchLog(gateway_engine(gateway))
        started = time.perf_counter()
        now = time.time()
        records = []
        for n in range(jobs):
            i = n % platforms
            platform = created[i]
            lineitem = f"{lms_url}/p/{i}/lineitems/{n}/lineitem"
            claims = build_resource_link_claims(
                issuer=platform.fields.issuer,
                client_id=platform.fields.client_id,
                deployment_id="dep-1",
                nonce=uuid.uuid4().hex,
                now=int(now),
                ttl=300,
                user=LaunchUser(
                    sub=f"user-{n}",
                    name="Ada Learner",
                    given_name="Ada",
                    family_name="Learner",
                    email=f"user-{n}@example.edu",
                    roles=(LEARNER,),
                ),
                target_link_uri=f"http://127.0.0.1:8000/lti/launch?resource=quiz-{i}",
                resource_link_id=f"rl-{n}",
                resource_link_title=f"Quiz {i}",
                context_id=f"ctx-{i}",
                context_label=f"C{i}",
                context_title=f"Course {i}",
                extra={
                    c.AGS_ENDPOINT: build_ags_claim(
                        [SCORE_SCOPE, LINEITEM_SCOPE], f"{lms_url}/p/{i}/lineitems", lineitem
                    )
                },
            )
            records.append(
                LaunchRecord(
                    id=uuid.uuid4().hex,
                    created_at=now + n * 1e-6,
                    outcome=LaunchOutcome.SUCCEEDED,
                    platform_id=platform.id,
                    issuer=platform.fields.issuer,
                    client_id=platform.fields.client_id,
                    deployment_id="dep-1",
                    message_type=c.RESOURCE_LINK_REQUEST,
                    sub=f"user-{n}",
                    user_name="Ada Learner",
                    context_id=f"ctx-{i}",
                    resource_link_id=f"rl-{n}",
                    resource_slug=f"quiz-{i}",
                    claims=claims,
                    ticket_jti=uuid.uuid4().hex,
                )
            )
        await in_batches(records, log.record)
        took["launches (launch log store)"] = time.perf_counter() - started

        started = time.perf_counter()
        if enqueue == "submit":
            score = ScoreInput(
                activity_progress="Completed", grading_progress="FullyGraded", score_given=7, score_maximum=10
            )
            await in_batches(records, lambda record: gateway.grades.submit(record.id, score))
            took["score jobs (gateway.grades.submit)"] = time.perf_counter() - started
        else:
            stamp = time.time()

            def job(n: int, record: LaunchRecord) -> ScoreJob:
                i = n % platforms
                return ScoreJob(
                    id=uuid.uuid4().hex,
                    launch_id=record.id,
                    platform_id=record.platform_id or "",
                    user_id=record.sub or "",
                    score=Score("Completed", "FullyGraded", _timestamp(stamp + n * 0.001), 7.0, 10.0, None),
                    target=ScoreTarget(
                        lineitem_url=f"{lms_url}/p/{i}/lineitems/{n}/lineitem",
                        lineitems_url=f"{lms_url}/p/{i}/lineitems",
                        resource_link_id=record.resource_link_id,
                        resource_id=record.resource_slug,
                        label=f"Quiz {i}",
                        score_maximum=10.0,
                        deployment_id="dep-1",
                    ),
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=stamp + n * 1e-6,  # distinct, as jobs queued one by one are
                    created_at=stamp,
                    updated_at=stamp,
                )

            await in_batches([job(n, r) for n, r in enumerate(records)], gateway.outbox.enqueue)
            took["score jobs (outbox store)"] = time.perf_counter() - started
        counts = await gateway.outbox.counts()
        if counts[DeliveryStatus.PENDING] != jobs:
            raise RuntimeError(f"expected {jobs} pending jobs after seeding, found {counts}")
    finally:
        await gateway.close()
    return took


def _timestamp(epoch: float) -> str:
    from ltigate.lti.ags import format_timestamp

    return format_timestamp(epoch)


def gateway_engine(gateway: Any) -> Any:
    """The engine behind the gateway's stores (bench-only reach into the wiring)."""
    return gateway.outbox._engine


async def in_batches(items: list[Any], work: Callable[[Any], Awaitable[object]], width: int = 16) -> None:
    """Run `work` for every item, `width` at a time (PostgreSQL overlaps round trips; SQLite runs inline)."""
    for start in range(0, len(items), width):
        await asyncio.gather(*(work(item) for item in items[start : start + width]))


# --- the run --------------------------------------------------------------------------------------------


@dataclass
class Worker:
    env: dict[str, str]
    cpu: str | None
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    cpu_before: float = 0.0

    profile: str | None = None
    profiler: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                pinned(self.cpu, [str(BIN / "ltigate"), "worker"]), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        if self.profile:  # py-spy attaches to the worker and samples it until it exits
            self.profiler = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "-p",
                    str(self.process.pid),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    self.profile,
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.profiler is not None:
            try:
                self.profiler.wait(timeout=30)  # py-spy writes its file once the worker is gone
            except subprocess.TimeoutExpired:
                self.profiler.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


async def outbox_state(engine: Any, *, full: bool = True) -> dict[str, Any]:
    """Counts per status; with `full` also the leased pending jobs, the first and last delivered_at and the
    most attempts (kept out of the polls, which should cost the database little)."""
    from sqlalchemy import func, select

    from ltigate.db.engine import transaction
    from ltigate.db.schema import score_jobs

    state: dict[str, Any] = {}
    async with transaction(engine) as connection:
        rows = (await connection.execute(select(score_jobs.c.status, func.count()).group_by(score_jobs.c.status))).all()
        state["counts"] = {status: count for status, count in rows}
        if full:
            state["leased"] = (
                await connection.execute(
                    select(func.count()).where(score_jobs.c.status == "pending", score_jobs.c.lease_owner.is_not(None))
                )
            ).scalar_one()
            state["first"], state["last"] = (
                await connection.execute(
                    select(func.min(score_jobs.c.delivered_at), func.max(score_jobs.c.delivered_at))
                )
            ).one()
            state["max_attempts"] = (await connection.execute(select(func.max(score_jobs.c.attempts)))).scalar_one()
    return state


async def run(args: argparse.Namespace) -> int:
    from ltigate.config import load_settings
    from ltigate.db import engine as db_engine

    data_dir = Path(tempfile.mkdtemp(prefix="ltigate-bench-scores-"))
    database = await Database.create(args.database_url)
    lms_port = free_port()
    lms_url = f"http://127.0.0.1:{lms_port}"
    env = environment(data_dir, database)
    if args.lease_seconds is not None:
        env["LTIGATE_OUTBOX_LEASE_SECONDS"] = str(args.lease_seconds)
    lms = start_lms(lms_port, args.lms_cpu, data_dir / "lms.log")
    worker = Worker(env, args.worker_cpu, data_dir / "worker.log", profile=args.profile)
    engine = None
    try:
        if args.lms_cpu is not None and shutil.which("taskset"):
            os.sched_setaffinity(0, {int(c) for c in args.lms_cpu.split(",")})  # this poller shares the LMS's core
        await wait_port(lms_port, lms, "the fake LMS")
        print(
            f"database: {'PostgreSQL ' + (database.name or '') if database.url else 'SQLite (WAL) in ' + str(data_dir)}"
        )
        print(
            f"fake LMS: {lms_url} (uvicorn + httptools, 1 process, CPU {args.lms_cpu}); worker: CPU {args.worker_cpu}"
        )
        migrate(env)
        took = await seed(env, lms_url, args.jobs, args.platforms, args.enqueue)
        for what, seconds in took.items():
            print(f"seeded {what}: {seconds:.1f} s")

        engine = db_engine.create_engine(load_settings(env=env).database_url)
        deadline = time.monotonic() + args.timeout
        worker_started = time.time()
        backend_cpu, backend_before = 0.0, backend_cpu_seconds(database.name)
        # Everything else busy on the machine meanwhile: the machine's busy time less the worker, the LMS,
        # this poller and the bench database's backends.
        known_before = cpu_seconds(lms.pid) + cpu_seconds(os.getpid())
        machine_before = machine_busy_seconds()
        worker.start()
        killed_at: dict[str, Any] | None = None
        steady: tuple[float, int] | None = None
        restarts = 0
        cpu_total = 0.0
        last_report = 0.0
        while time.monotonic() < deadline:
            state = await outbox_state(engine, full=False)
            delivered = state["counts"].get("delivered", 0)
            settled = sum(n for status, n in state["counts"].items() if status != "pending")
            if settled >= args.jobs:
                break
            if worker.process is not None and worker.process.poll() is not None:
                raise RuntimeError(f"ltigate worker exited with {worker.process.returncode}:\n{worker.log_tail()}")
            if steady is None and delivered > 0 and args.kill_at is None:
                steady = (worker.cpu_seconds(), delivered)  # start-up (imports, schema check) left out from here
            if args.kill_at is not None and killed_at is None and delivered >= args.kill_at * args.jobs:
                cpu_total += worker.cpu_seconds()
                backend_cpu += backend_cpu_seconds(database.name) - backend_before
                worker.kill()
                after = await outbox_state(engine)
                lms_stats = await http_get_json(lms_port, "/stats")
                killed_at = {
                    "time": time.time(),
                    "delivered": after["counts"].get("delivered", 0),
                    "leased": after["leased"],
                    "posted": lms_stats["jobs_posted"],
                }
                print(
                    f"SIGKILL at {killed_at['delivered']} delivered: {killed_at['leased']} jobs left leased "
                    f"(in flight), the LMS had received {killed_at['posted']} jobs' scores; restarting"
                )
                backend_before = backend_cpu_seconds(database.name)
                worker.start()
                restarts += 1
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                print(f"  … {delivered} delivered", flush=True)
            await asyncio.sleep(args.poll)
        else:
            print(f"TIMEOUT after {args.timeout:.0f} s")
        finished = time.time()
        if worker.process and worker.process.poll() is None:
            cpu_now = worker.cpu_seconds()
            cpu_total += cpu_now
            if steady is not None:
                settled_now = (await outbox_state(engine, full=False))["counts"].get("delivered", 0)
                steady = (cpu_now - steady[0], settled_now - steady[1]) if settled_now > steady[1] else None
        backend_cpu += backend_cpu_seconds(database.name) - backend_before
        known = cpu_seconds(lms.pid) + cpu_seconds(os.getpid()) - known_before + cpu_total + backend_cpu
        other_load = (machine_busy_seconds() - machine_before - known) / max(time.time() - worker_started, 1e-9)
        worker.stop()
        state = await outbox_state(engine)
        lms_stats = await http_get_json(lms_port, "/stats")
        posted = set(await http_get_json(lms_port, "/posted"))
        report(
            args,
            state,
            lms_stats,
            posted,
            worker_started,
            finished,
            cpu_total,
            killed_at,
            backend_cpu,
            steady,
            other_load,
        )
        return 0
    finally:
        worker.stop()
        lms.terminate()
        try:
            lms.wait(timeout=10)
        except subprocess.TimeoutExpired:
            lms.kill()
        if engine is not None:
            await db_engine.dispose(engine)
        await database.drop()
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def report(
    args: argparse.Namespace,
    state: dict[str, Any],
    lms: dict[str, Any],
    posted: set[str],
    worker_started: float,
    finished: float,
    cpu: float,
    killed_at: dict[str, Any] | None,
    backend_cpu: float,
    steady: tuple[float, int] | None,
    other_load: float,
) -> None:
    counts = state["counts"]
    delivered = counts.get("delivered", 0)
    print()
    print(f"jobs: {args.jobs} over {args.platforms} platforms; outbox at the end: {counts}")
    if state["first"] is not None and state["last"] is not None and state["last"] > state["first"]:
        span = state["last"] - state["first"]
        print(f"delivered/s (first to last delivered_at): {delivered / span:,.0f}  ({delivered} in {span:.2f} s)")
    if lms["first_post"] is not None and lms["last_post"] > lms["first_post"]:
        span = lms["last_post"] - lms["first_post"]
        rate = lms["posts"] / span
        print(f"posts/s received by the LMS (first to last post): {rate:,.0f}  ({lms['posts']} in {span:.2f} s)")
    waits = "start-up, lease wait" if killed_at else "start-up"
    print(f"worker start to all settled: {finished - worker_started:.2f} s (includes {waits})")
    if cpu:
        print(f"worker CPU: {cpu:.2f} s, {cpu / max(delivered, 1) * 1e6:.0f} µs per delivered score")
    if steady is not None:
        print(
            f"worker CPU while delivering (start-up left out): {steady[0] / steady[1] * 1e6:.0f} µs per score "
            f"over {steady[1]} scores: at most {steady[1] / steady[0]:,.0f} scores/s on a core of its own"
        )
    if backend_cpu:
        per_score = backend_cpu / max(delivered, 1) * 1e6
        print(f"PostgreSQL backends' CPU: {backend_cpu:.2f} s, {per_score:.0f} µs per delivered score")
    print(
        f"other CPU load: {max(other_load, 0.0):.0%} of a core from worker start to all settled (other processes "
        "on the machine; the rates are clean only when it is near 0, the CPU per score is the steadier figure)"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("token requests per (platform, scope set):")
    for key, count in sorted(lms["token_requests"].items()):
        print(f"  platform {key.split(' ', 1)[0]} [{key.split(' ', 1)[1]}]: {count}")
    lost = args.jobs - len(posted)
    print(
        f"score posts: {lms['posts']} for {lms['jobs_posted']} jobs; duplicates: {lms['posted_more_than_once']} jobs "
        f"({lms['extra_posts']} extra posts); lost (never posted): {lost}; "
        f"not delivered in the outbox: {args.jobs - delivered}"
    )
    print(
        f"rejected by the LMS: bad token {lms['bad_auth']}, bad body {lms['bad_body']}; cut off: {lms['torn']}; "
        f"max attempts of a job: {state['max_attempts']}"
    )
    if killed_at:
        print(
            f"kill: {killed_at['leased']} jobs were in flight; duplicates ({lms['posted_more_than_once']}) "
            f"{'≤' if lms['posted_more_than_once'] <= killed_at['leased'] else '>'} in flight; "
            f"restart to all delivered: {finished - killed_at['time']:.1f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    lms = sub.add_parser("lms", help="(internal) run the fake LMS")
    lms.add_argument("--port", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--platforms", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL server URL; a fresh database is created and dropped")
    parser.add_argument("--enqueue", choices=("submit", "outbox"), default="submit")
    parser.add_argument("--kill-at", type=float, help="SIGKILL the worker when this fraction is delivered")
    parser.add_argument(
        "--lease-seconds", type=float, help="LTIGATE_OUTBOX_LEASE_SECONDS for the worker (default: the gateway's, 120)"
    )
    parser.add_argument("--lms-cpu", default="0")
    parser.add_argument("--worker-cpu", default="1")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between outbox polls")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--profile", help="record the worker with py-spy into this file (collapsed stacks)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    if args.mode == "lms":
        serve_lms(args.port)
        return 0
    if args.kill_at is not None and not 0 < args.kill_at < 1:
        parser.error("--kill-at must be between 0 and 1")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Roster sync memory and speed: `gateway.rosters.sync` reading a large NRPS membership container.

    .venv/bin/python bench/roster.py [--members 50000] [--page 50] [--timeout 600]
                                     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Sets up a fresh gateway (temporary data directory; with --database-url, a fresh database on that server,
dropped afterwards), runs `ltigate migrate`, registers a platform whose token URL is on a fake NRPS
server, and records the course through the use case a launch goes through (`gateway.rosters.note_launch`
with a message parsed from claims carrying the NRPS claim). The fake NRPS server is a separate process
(uvicorn, httptools; pinned with taskset to `--server-cpu`) that makes every page on the fly — `--members`
members, `--page` per page, each page linking the next with `Link: <…>; rel="next"` — so its memory is
not this process's. The sync runs in this process (pinned to `--sync-cpu`) while a sampling thread reads
VmRSS from /proc/self/status every 5 ms: the figures are RSS before, peak during, after, and the growth,
next to members/s. A second sync of the same course (all rows updated, none new) runs too, unless
`--once`. Prints figures only; nothing here asserts a time or a size. All traffic is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from harness import Database, environment, free_port, http_get_json, migrate, wait_port

SCRIPT = Path(__file__).resolve()
NRPS_MEDIA_TYPE = b"application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


# --- the fake NRPS server (run as `roster.py serve --port N --members M --page P`) --------------------------


class FakeNrps:
    """A raw ASGI app: /token (client credentials, not verified) and /memberships?page=N, made on the fly."""

    def __init__(self, members: int, page: int, base_url: str) -> None:
        self.members, self.page, self.base_url = members, page, base_url
        self.pages_served = 0
        self.token_requests = 0

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
        while (await receive()).get("more_body"):
            pass
        headers: list[tuple[bytes, bytes]] = []
        if scope["method"] == "POST" and scope["path"] == "/token":
            self.token_requests += 1
            answer = {"access_token": uuid.uuid4().hex, "token_type": "Bearer", "expires_in": 3600, "scope": NRPS_SCOPE}
            status, body, kind = 200, json.dumps(answer).encode(), b"application/json"
        elif scope["method"] == "GET" and scope["path"] == "/memberships":
            number = int(parse_qs(scope["query_string"].decode()).get("page", ["0"])[0])
            status, body, kind = 200, self.page_body(number), NRPS_MEDIA_TYPE
            if (number + 1) * self.page < self.members:
                headers.append((b"link", f'<{self.base_url}/memberships?page={number + 1}>; rel="next"'.encode()))
            self.pages_served += 1
        elif scope["method"] == "GET" and scope["path"] == "/stats":
            stats = {"pages_served": self.pages_served, "token_requests": self.token_requests}
            status, body, kind = 200, json.dumps(stats).encode(), b"application/json"
        else:
            status, body, kind = 404, b"not found", b"text/plain"
        headers += [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def page_body(self, number: int) -> bytes:
        first = number * self.page
        members = [
            {
                "status": "Active",
                "name": f"Learner {n}",
                "given_name": "Learner",
                "family_name": f"Number{n:06d}",
                "email": f"learner{n}@example.edu",
                "user_id": f"user-{n}",
                "lis_person_sourcedid": f"sis-{n}",
                "roles": [INSTRUCTOR if n % 500 == 0 else LEARNER],
            }
            for n in range(first, min(first + self.page, self.members))
        ]
        document = {
            "id": f"{self.base_url}/memberships?page={number}",
            "context": {"id": "big-course", "label": "BIG", "title": "A very big course"},
            "members": members,
        }
        return json.dumps(document).encode()


def serve_nrps(port: int, members: int, page: int) -> None:
    import uvicorn

    app = FakeNrps(members, page, f"http://127.0.0.1:{port}")
    uvicorn.run(
        app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", access_log=False, log_level="warning"
    )


# --- helpers --------------------------------------------------------------------------------------------


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler:
    """A thread reading VmRSS every `interval` seconds (it runs even while the event loop is busy)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = rss_kib()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, rss_kib())


def start_server(port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(SCRIPT), "serve", "--port", str(port), "--members", str(args.members)]
    command += ["--page", str(args.page)]
    if args.server_cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", args.server_cpu, *command]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


# --- the run --------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from ltigate.bootstrap import build_gateway
    from ltigate.config import load_settings
    from ltigate.lti import claims as c
    from ltigate.lti.message import parse_message
    from ltigate.lti.platform import LaunchUser, build_nrps_claim, build_resource_link_claims
    from ltigate.services.records import DeploymentPolicy, PlatformFields
    from ltigate.services.rosters import context_key

    data_dir = Path(tempfile.mkdtemp(prefix="ltigate-bench-roster-"))
    database = await Database.create(args.database_url)
    env = environment(data_dir, database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, args)
    try:
        if args.sync_cpu is not None:
            os.sched_setaffinity(0, {int(cpu) for cpu in args.sync_cpu.split(",")})
        await wait_port(port, server, "the fake NRPS server")
        migrate(env)
        print(
            f"database: {'PostgreSQL ' + str(database.name) if database.name else 'SQLite (WAL) in ' + str(data_dir)}"
        )
        print(
            f"fake NRPS: {base} (uvicorn + httptools, CPU {args.server_cpu}); sync in this process, CPU {args.sync_cpu}"
        )
        print(f"roster: {args.members:,} members in pages of {args.page} ({-(-args.members // args.page):,} pages)")

        gateway = await build_gateway(load_settings(env=env))
        try:
            platform = await gateway.platforms.create(
                PlatformFields(
                    name="Bench LMS",
                    issuer="https://lms.bench.test",
                    client_id="bench-client",
                    auth_url=f"{base}/auth",
                    token_url=f"{base}/token",
                    jwks_url=f"{base}/jwks",
                    deployment_ids=("dep-1",),
                    deployment_policy=DeploymentPolicy.REJECT,
                )
            )
            claims = build_resource_link_claims(
                issuer=platform.fields.issuer,
                client_id=platform.fields.client_id,
                deployment_id="dep-1",
                nonce=uuid.uuid4().hex,
                now=int(time.time()),
                ttl=300,
                user=LaunchUser("teacher", "T. Teacher", "T.", "Teacher", "teacher@example.edu", (INSTRUCTOR,)),
                target_link_uri="http://127.0.0.1:8000/lti/launch?resource=quiz",
                resource_link_id="rl-1",
                resource_link_title="Quiz",
                context_id="big-course",
                context_label="BIG",
                context_title="A very big course",
                extra={c.NRPS_SERVICE: build_nrps_claim(f"{base}/memberships")},
            )
            await gateway.rosters.note_launch(platform, parse_message(claims, platform.fields.client_id))
            key = context_key(platform.id, "big-course")

            for label in ("first sync (all new)", "second sync (all updated)")[: 1 if args.once else 2]:
                gc.collect()
                before = rss_kib()
                cpu_before = time.process_time()
                started = time.perf_counter()
                with RssSampler() as sampler:
                    context = await asyncio.wait_for(gateway.rosters.sync(key), args.timeout)
                took = time.perf_counter() - started
                cpu = time.process_time() - cpu_before
                after = rss_kib()
                gc.collect()
                collected = rss_kib()
                print(
                    f"\n{label}: {context.member_count:,} members stored in {took:.1f} s: "
                    f"{context.member_count / took:,.0f} members/s, CPU {cpu:.1f} s "
                    f"({cpu / max(context.member_count, 1) * 1e6:.0f} µs per member)"
                )
                print(
                    f"  RSS before {before / 1024:.1f} MiB, peak during {sampler.peak / 1024:.1f} MiB "
                    f"({sampler.samples:,} samples), after {after / 1024:.1f} MiB ({collected / 1024:.1f} after gc)"
                )
                print(
                    f"  growth: peak {(sampler.peak - before) / 1024:+.1f} MiB, kept {(after - before) / 1024:+.1f} MiB"
                )
            print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
            stats = await http_get_json(port, "/stats")
            print(f"pages served: {stats['pages_served']:,}; token requests: {stats['token_requests']}")
        finally:
            await gateway.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        await database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    serve = sub.add_parser("serve", help="(internal) run the fake NRPS server")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--members", type=int, required=True)
    serve.add_argument("--page", type=int, required=True)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument("--database-url", help="PostgreSQL server URL; a fresh database is created and dropped")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--sync-cpu", default="1")
    parser.add_argument("--once", action="store_true", help="run the first sync only")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one sync may take")
    args = parser.parse_args()
    if args.mode == "serve":
        serve_nrps(args.port, args.members, args.page)
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load generator for complete two-step LTI 1.3 launches (OIDC login, then the signed launch) against a
running `ltigate serve`, playing the platform and its users from a separate process.

    .venv/bin/python bench/launch.py [--duration 20] [--concurrency 32] [--warmup 3]
                                     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Sets up a fresh gateway (temporary data directory; with --database-url, a fresh database on that server,
dropped afterwards), migrates and seeds it, starts `ltigate serve` pinned to one CPU, pins itself to
another, and prints launches/s, latency percentiles and CPU per launch of server and generator. It only
prints figures; nothing here asserts a time. Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from harness import Database, backend_cpu_seconds, cpu_seconds, free_port, memory_mb
from lms import KeySetServer, Lms
from target import APP_URL, RESOURCE, ServedGateway, machine_busy_seconds
from wire import Client, make_client

ERROR_CODE = re.compile(rb'data-testid="error-code">([a-z_]+)<')


@dataclass
class Run:
    """Shared by the virtual users: which phase the run is in, and what was measured in the window."""

    recording: bool = False
    stopping: bool = False
    max_launches: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    totals: list[float] = field(default_factory=list)
    logins: list[float] = field(default_factory=list)
    launches: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_errors: Counter[str] = field(default_factory=Counter)
    warmup_launches: int = 0

    def success(self, started: float, signed: float, login_took: float, finished: float) -> None:
        if not self.recording:
            self.warmup_launches += 1
            return
        self.totals.append(finished - started)
        self.logins.append(login_took)
        self.launches.append(finished - signed)
        if self.max_launches and len(self.totals) >= self.max_launches:
            self.done.set()

    def failure(self, what: str) -> None:
        (self.errors if self.recording else self.warmup_errors)[what] += 1


def _failure_name(step: str, status: int, body: bytes) -> str:
    match = ERROR_CODE.search(body)
    return f"{step} {status} {match.group(1).decode() if match else '-'}"


async def virtual_user(
    number: int, client: Client, lms: Lms, gateway_url: str, run: Run, fresh_users: bool = False
) -> None:
    """Loop complete launches as one browser: login, keep the state cookie, sign the launch, post it.

    With `fresh_users` every launch is by a learner the gateway has not seen (a new sub and learner row),
    as in a large population; otherwise the browser is always the same learner."""
    target = f"{gateway_url}/lti/launch?resource={RESOURCE}"

    def login_form_of(user: int) -> str:
        return urlencode(
            {
                "iss": lms.issuer,
                "login_hint": f"user-{user}",
                "target_link_uri": target,
                "client_id": lms.client_id,
                "lti_deployment_id": lms.deployment_id,
            }
        )

    user, login_form, launches_done = number, login_form_of(number), 0
    clock = time.perf_counter
    while not run.stopping:
        if fresh_users:
            launches_done += 1
            user = number * 100_000_000 + launches_done
            login_form = login_form_of(user)
        started = clock()
        try:
            login = await client.post_form("/lti/login", login_form)
            if login.status != 302:
                run.failure(_failure_name("login", login.status, login.body))
                continue
            query = parse_qs(urlsplit(login.header("location") or "").query)
            state, nonce = query["state"][0], query["nonce"][0]
            cookie = (login.header("set-cookie") or "").split(";", 1)[0]
            logged_in = clock()
            token = lms.token(lms.claims(nonce=nonce, target_link_uri=target, user=user))
            signed = clock()
            launch = await client.post_form("/lti/launch", urlencode({"id_token": token, "state": state}), cookie)
            finished = clock()
        except (OSError, asyncio.IncompleteReadError, KeyError, ValueError) as exc:
            run.failure(f"exception {type(exc).__name__}")
            await asyncio.sleep(0.01)
            continue
        if launch.status != 303 or not (launch.header("location") or "").startswith(APP_URL + "?ticket="):
            run.failure(_failure_name("launch", launch.status, launch.body))
            continue
        run.success(started, signed, logged_in - started, finished)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Figures:
    database: str
    client: str
    concurrency: int
    seconds: float
    launches: int
    total: list[float]
    login: list[float]
    launch: list[float]
    server_cpu: float
    generator_cpu: float
    postgres_cpu: float | None
    other_cpu: float
    sessions: int | None
    errors: dict[str, int]
    warmup_errors: dict[str, int]
    rss_mb: tuple[float, float, float] | None = None  # the server's VmRSS after warm-up, at the end; VmHWM

    def as_dict(self) -> dict[str, object]:
        per = 1000.0 / self.launches if self.launches else float("nan")
        ms = {f"p{int(q * 100)}": round(percentile(self.total, q) * 1000, 2) for q in (0.5, 0.9, 0.99)}
        return {
            "database": self.database,
            "client": self.client,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "launches": self.launches,
            "launches_per_s": round(self.launches / self.seconds, 1),
            "latency_ms": ms,
            "login_ms": {q: round(percentile(self.login, v) * 1000, 2) for q, v in (("p50", 0.5), ("p99", 0.99))},
            "launch_ms": {q: round(percentile(self.launch, v) * 1000, 2) for q, v in (("p50", 0.5), ("p99", 0.99))},
            "server_cpu_ms_per_launch": round(self.server_cpu * per, 3),
            "server_core_busy": round(self.server_cpu / self.seconds, 3),
            "generator_cpu_ms_per_launch": round(self.generator_cpu * per, 3),
            "generator_core_busy": round(self.generator_cpu / self.seconds, 3),
            "postgres_cpu_ms_per_launch": None if self.postgres_cpu is None else round(self.postgres_cpu * per, 3),
            "other_cpu_cores": round(self.other_cpu / self.seconds, 3),
            "postgres_sessions_opened": self.sessions,
            "errors": self.errors,
            "warmup_errors": self.warmup_errors,
            "server_rss_mb": self.rss_mb,
        }

    def print(self) -> None:
        d = self.as_dict()
        lat, login, launch = d["latency_ms"], d["login_ms"], d["launch_ms"]
        print(
            f"\nltigate launch bench: {self.database}, client {self.client}, concurrency {self.concurrency}, "
            f"{self.seconds:.1f} s measured"
        )
        print(f"  complete launches   {self.launches}  ({d['launches_per_s']}/s)")
        print(f"  latency login+launch  p50 {lat['p50']} ms   p90 {lat['p90']} ms   p99 {lat['p99']} ms")  # type: ignore[index]
        print(f"    login step          p50 {login['p50']} ms   p99 {login['p99']} ms")  # type: ignore[index]
        print(f"    launch step         p50 {launch['p50']} ms   p99 {launch['p99']} ms")  # type: ignore[index]
        print(
            f"  server CPU          {d['server_cpu_ms_per_launch']} ms/launch  ({d['server_core_busy']:.0%} of a core)"  # type: ignore[str-format]
        )
        print(
            f"  generator CPU       {d['generator_cpu_ms_per_launch']} ms/launch  "
            f"({d['generator_core_busy']:.0%} of a core)"  # type: ignore[str-format]
        )
        if self.postgres_cpu is not None:
            print(f"  postgres CPU        {d['postgres_cpu_ms_per_launch']} ms/launch (backends of the bench database)")
            print(f"  postgres sessions   {self.sessions} opened in the window (new connections: pool churn)")
        print(
            f"  other CPU load      {d['other_cpu_cores']:.0%} of a core (other processes on the machine; "  # type: ignore[str-format]
            "figures are clean only when this is near 0)"
        )
        if self.rss_mb is not None:
            start, end, peak = self.rss_mb
            print(
                f"  server memory       RSS {start:.1f} MB after warm-up, {end:.1f} MB at the end (peak {peak:.1f} MB)"
            )
        errors = sum(self.errors.values())
        print(f"  errors              {errors}" + "".join(f"\n    {n}  {what}" for what, n in self.errors.items()))
        if self.warmup_errors:
            print(f"  warm-up errors      {dict(self.warmup_errors)}")


async def generator_share(
    args: argparse.Namespace, first: int, users: int, lms: Lms, port: int, url: str, window: tuple[float, float]
) -> dict[str, object]:
    """One generator process's users (numbers first .. first+users-1), recording launches that start and
    end inside `window` (time.time() bounds); what it measured, as JSON-able lists."""
    run = Run()
    clients = [make_client(args.client, "127.0.0.1", port) for _ in range(users)]
    tasks = [
        asyncio.create_task(virtual_user(first + n, clients[n], lms, url, run, args.fresh_users)) for n in range(users)
    ]
    try:
        await asyncio.sleep(max(0.0, window[0] - time.time()))
        run.recording = True
        await asyncio.sleep(max(0.0, window[1] - time.time()))
        run.recording = False
        run.stopping = True
        await asyncio.wait(tasks, timeout=30)
    finally:
        for task in tasks:
            task.cancel()
        for client in clients:
            await client.close()
    return {"totals": run.totals, "logins": run.logins, "launches": run.launches,
            "errors": dict(run.errors), "warmup_errors": dict(run.warmup_errors)}  # fmt: skip


def _child(args: argparse.Namespace, first: int, users: int, lms: Lms, port: int, url: str,
           window: tuple[float, float], out: int) -> None:  # fmt: skip
    factory = _event_loop_factory(args.loop)
    with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
        result = runner.run(generator_share(args, first, users, lms, port, url, window))
    with os.fdopen(out, "w") as pipe:
        json.dump(result, pipe)


async def measure_forked(args: argparse.Namespace, gateway: ServedGateway, lms: Lms, database: Database) -> Figures:
    """The users split over `args.processes` generator processes on the generator CPUs, so that a
    response waits behind the signing of its own process's users only (an event loop signs one token at
    a time; in one process, a burst of 32 responses queues up to 32 signings, ~11 ms, on the client)."""
    server_pid = gateway.process.pid if gateway.process else 0
    start = time.time() + args.warmup + 0.5  # time for the children to start
    window = (start, start + args.duration)
    children: list[tuple[int, int]] = []
    share = [args.concurrency // args.processes + (1 if p < args.concurrency % args.processes else 0)
             for p in range(args.processes)]  # fmt: skip
    first = 0
    for users in share:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run its users, report, leave without running the parent's cleanup
            os.close(read)
            try:
                _child(args, first, users, lms, gateway.port, gateway.url, window, write)
            finally:
                os._exit(0)
        os.close(write)
        children.append((pid, read))
        first += users
    await asyncio.sleep(max(0.0, window[0] - time.time()))
    server0, kids0 = cpu_seconds(server_pid), sum(cpu_seconds(pid) for pid, _ in children)
    postgres0 = backend_cpu_seconds(database.name) if database.name else None
    machine0, sessions0, began = machine_busy_seconds(), await database.sessions(), time.perf_counter()
    await asyncio.sleep(max(0.0, window[1] - time.time()))
    seconds = time.perf_counter() - began
    server_cpu = cpu_seconds(server_pid) - server0
    mine = sum(cpu_seconds(pid) for pid, _ in children) - kids0
    postgres = backend_cpu_seconds(database.name) - postgres0 if database.name and postgres0 is not None else None
    other = machine_busy_seconds() - machine0 - server_cpu - mine - (postgres or 0.0)
    sessions1 = await database.sessions()
    results = []
    for pid, read in children:
        with os.fdopen(read) as pipe:
            results.append(json.loads(await asyncio.to_thread(pipe.read) or "{}"))
        await asyncio.to_thread(os.waitpid, pid, 0)
    errors: Counter[str] = Counter()
    warmup: Counter[str] = Counter()
    for result in results:
        errors.update(result.get("errors", {}))
        warmup.update(result.get("warmup_errors", {}))
    return Figures(
        database="postgresql" if args.database_url else "sqlite",
        client=f"{args.client} x{args.processes} processes",
        concurrency=args.concurrency,
        seconds=seconds,
        launches=sum(len(r.get("totals", [])) for r in results),
        total=[v for r in results for v in r.get("totals", [])],
        login=[v for r in results for v in r.get("logins", [])],
        launch=[v for r in results for v in r.get("launches", [])],
        server_cpu=server_cpu,
        generator_cpu=mine,
        postgres_cpu=postgres,
        other_cpu=max(0.0, other),
        sessions=None if sessions0 is None or sessions1 is None else sessions1 - sessions0,
        errors=dict(errors),
        warmup_errors=dict(warmup),
    )


async def measure(args: argparse.Namespace, gateway: ServedGateway, lms: Lms, database: Database) -> Figures:
    if args.processes > 1:
        return await measure_forked(args, gateway, lms, database)
    run = Run(max_launches=args.max_launches)
    host, port = "127.0.0.1", gateway.port
    clients = [make_client(args.client, host, port) for _ in range(args.concurrency)]
    server_pid = gateway.process.pid if gateway.process else 0
    users = [
        asyncio.create_task(virtual_user(n, clients[n], lms, gateway.url, run, args.fresh_users))
        for n in range(args.concurrency)
    ]
    try:
        await asyncio.sleep(args.warmup)
        run.recording = True
        rss0 = memory_mb(server_pid)[0]
        began, server0, mine0 = time.perf_counter(), cpu_seconds(server_pid), cpu_seconds(os.getpid())
        postgres0 = backend_cpu_seconds(database.name) if database.name else None
        machine0 = machine_busy_seconds()
        sessions0 = await database.sessions()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), args.duration)
        run.recording = False
        seconds = time.perf_counter() - began
        server_cpu, mine = cpu_seconds(server_pid) - server0, cpu_seconds(os.getpid()) - mine0
        postgres = backend_cpu_seconds(database.name) - postgres0 if database.name and postgres0 is not None else None
        other = machine_busy_seconds() - machine0 - server_cpu - mine - (postgres or 0.0)
        sessions1 = await database.sessions()
        rss1, peak = memory_mb(server_pid)
        run.stopping = True
        await asyncio.wait(users, timeout=30)
    finally:
        for task in users:
            task.cancel()
        for client in clients:
            await client.close()
    return Figures(
        database="postgresql" if args.database_url else "sqlite",
        client=args.client,
        concurrency=args.concurrency,
        seconds=seconds,
        launches=len(run.totals),
        total=run.totals,
        login=run.logins,
        launch=run.launches,
        server_cpu=server_cpu,
        generator_cpu=mine,
        postgres_cpu=postgres,
        other_cpu=max(0.0, other),
        sessions=None if sessions0 is None or sessions1 is None else sessions1 - sessions0,
        errors=dict(run.errors),
        warmup_errors=dict(run.warmup_errors),
        rss_mb=(rss0, rss1, peak),
    )


async def bench(args: argparse.Namespace, workdir: Path) -> Figures:
    lms = Lms()
    jwks = KeySetServer(lms)
    lms.base_url = await jwks.start()
    database = await Database.create(args.database_url)
    gateway = ServedGateway(data_dir=workdir / "data", port=free_port(), database=database)
    try:
        gateway.migrate()
        await gateway.seed(lms.issuer, lms.client_id, lms.deployment_id, lms.base_url)
        gateway.start(args.server_cpus, args.worker, args.serve_args.split() if args.serve_args else [])
        probe = make_client("raw", "127.0.0.1", gateway.port)
        try:
            await gateway.wait_ready(probe)
        finally:
            await probe.close()
        if args.profile_hold:
            print(f"server pid {gateway.process.pid if gateway.process else '?'}", flush=True)
        figures = await measure(args, gateway, lms, database)
        if jwks.fetches != 1:
            print(f"note: the gateway fetched the key set {jwks.fetches} times", file=sys.stderr)
        return figures
    finally:
        gateway.stop()
        if args.server_log:
            shutil.copyfile(gateway.log_path, args.server_log)
        await jwks.close()
        await database.drop()


def _event_loop_factory(name: str) -> object:
    if name == "uvloop" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.new_event_loop
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first (default 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="virtual users (default 32)")
    parser.add_argument("--max-launches", type=int, default=1_000_000, help="stop after this many measured launches")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL admin URL (postgresql+asyncpg://...); a fresh database is made there and dropped after. "
        "Default: SQLite in a temporary data directory",
    )
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="generator HTTP client")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="generator processes sharing the users on the generator CPUs (default 1; see measure_forked)",
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="generator event loop")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for the server (default 0)")
    parser.add_argument("--generator-cpus", default="1", help="CPU list for this generator (default 1)")
    parser.add_argument("--no-pin", action="store_true", help="pin neither process")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling niceness for server and generator (negative needs root); on a machine shared with "
        "other work, e.g. -10 keeps that work from taking the pinned cores' time",
    )
    parser.add_argument("--worker", action="store_true", help="run the housekeeping worker inside serve")
    parser.add_argument("--serve-args", default="", help="extra arguments for `ltigate serve`")
    parser.add_argument(
        "--fresh-users", action="store_true", help="every launch by a learner not seen before (a new sub each time)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
    parser.add_argument("--server-log", default=None, help="copy the server's output to this file at the end")
    parser.add_argument("--profile-hold", action="store_true", help="print the server pid (for py-spy)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by `ltigate serve`
        # With autogroup scheduling, niceness counts only within a session; the session's own weight is here.
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(args.nice))
    if args.no_pin:
        args.server_cpus = None
    else:
        os.sched_setaffinity(0, {int(c) for c in args.generator_cpus.split(",")})
    factory = _event_loop_factory(args.loop)
    with tempfile.TemporaryDirectory(prefix="ltigate-bench-") as tmp, asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
        figures = runner.run(bench(args, Path(tmp)))
    figures.print()
    if args.json:
        print(json.dumps(figures.as_dict()))


if __name__ == "__main__":
    main()
